package main

import (
	"os"
	"strings"
	"testing"
)

// needsTable renders what each command needs as the Markdown table of
// docs/cli.md.
func needsTable() string {
	var b strings.Builder
	b.WriteString("| command | goodturn's database | billing data | rulesets | clock (`--now`) | evaluation (`--months`, `--cap`) |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	mark := func(ok bool, yes string) string {
		if ok {
			return yes
		}
		return ""
	}
	var row func(path string, c *command)
	row = func(path string, c *command) {
		if len(c.subs) > 0 {
			for _, s := range c.subs {
				row(path+" "+s.name, s)
			}
			return
		}
		n := c.needs
		db := mark(n&needDB != 0, "reads") + mark(n&needDBWrite != 0, "writes (migrated first)")
		b.WriteString("| `" + path + "` | " + db + " | " + mark(n&needBilling != 0, "yes") + " | " + mark(n&needRulesets != 0, "yes") + " | " +
			mark(n&needClock != 0, "yes") + " | " + mark(n&(needMonths|needPolicy) != 0, "yes") + " |\n")
	}
	for _, c := range commands {
		row(c.name, c)
	}
	return b.String()
}

// TestNeedsTableInDocs keeps docs/cli.md's table of what each command
// opens equal to the commands table's declarations.
func TestNeedsTableInDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := needsTable(); !strings.Contains(string(doc), want) {
		t.Errorf("docs/cli.md lacks the table of what each command needs; want:\n%s", want)
	}
}

// TestDeclaredNeeds checks the declarations themselves: a command that
// opens goodturn's database does so in one mode, every command that reads
// only is declared so, and a family runs its default subcommand.
func TestDeclaredNeeds(t *testing.T) {
	readOnly := map[string]bool{"runs list": true, "runs show": true, "review list": true, "review show": true,
		"review audit": true, "explain": true, "outcomes": true, "suppress list": true, "user list": true, "send list": true}
	var walk func(path string, c *command)
	walk = func(path string, c *command) {
		if c.def != "" && c.sub(c.def) == nil {
			t.Errorf("%s: default subcommand %q does not exist", path, c.def)
		}
		for _, s := range c.subs {
			walk(path+" "+s.name, s)
		}
		if len(c.subs) > 0 {
			return
		}
		if c.run == nil {
			t.Errorf("%s has no run", path)
		}
		if c.needs&needDB != 0 && c.needs&needDBWrite != 0 {
			t.Errorf("%s declares goodturn's database both read-only and migrated", path)
		}
		if readOnly[path] && c.needs&needDBWrite != 0 {
			t.Errorf("%s only reads but is declared to migrate", path)
		}
		if c.needs&(needDB|needDBWrite) != 0 && !readOnly[path] && c.needs&needDB != 0 {
			t.Errorf("%s reads goodturn's database without being listed as read-only here", path)
		}
	}
	for _, c := range commands {
		walk(c.name, c)
	}
}

// TestUndeclaredDatabaseIsRefused checks that a command cannot open a
// database it does not declare.
func TestUndeclaredDatabaseIsRefused(t *testing.T) {
	x := &call{Env: &Env{}, cmd: &command{name: "check", needs: needRulesets}, path: "check"}
	if _, err := x.DB(t.Context()); err == nil || !strings.Contains(err.Error(), "does not declare") {
		t.Errorf("DB of a command without needDB: %v", err)
	}
	if _, err := x.BillingDB(t.Context()); err == nil || !strings.Contains(err.Error(), "does not declare") {
		t.Errorf("BillingDB of a command without needBilling: %v", err)
	}
}
