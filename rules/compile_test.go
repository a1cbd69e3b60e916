package rules_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goodturn/goodturn/rules"
	"github.com/goodturn/goodturn/rules/rulefmt"
)

// templateExists is the templateExists of the test files: only the
// cheaper-plan template exists.
func templateExists(name string) bool { return name == "cheaper-plan" }

// compileFiles compiles rule files given as path → content into a ruleset.
func compileFiles(t testing.TB, files map[string]string) (*rules.Ruleset, error) {
	t.Helper()
	srcs := make(map[string][]byte, len(files))
	for p, s := range files {
		srcs[p] = []byte(s)
	}
	return rules.Compile("test", "testdata", srcs, templateExists)
}

// compileFile compiles one file of testdata on its own.
func compileFile(t *testing.T, path string) (*rules.Ruleset, error) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return compileFiles(t, map[string]string{path: string(b)})
}

// errorLines returns the lines of a rulefmt.Errors, failing the test on any
// other kind of error.
func errorLines(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var es rulefmt.Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T, want rulefmt.Errors: %v", err, err)
	}
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	if got, want := err.Error(), strings.Join(lines, "\n"); got != want {
		t.Errorf("Errors.Error() = %q, want the errors one per line %q", got, want)
	}
	return lines
}

// sameLines reports a difference between got and want, line by line.
func sameLines(t *testing.T, got, want []string) {
	t.Helper()
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("error %d:\n got: %s\nwant: %s", i+1, g, w)
		}
	}
}

// TestCompileErrors compiles each broken file of testdata and checks every
// error it reports, in order, position and wording. Positions were counted
// by hand in the files (lines and columns from 1, columns in characters).
func TestCompileErrors(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"bad-values.bad.yaml", []string{
			`testdata/bad-values.bad.yaml:2:9: rule "Cheaper Plan": id "Cheaper Plan" must be lowercase letters, digits, '-' and '_'`,
			`testdata/bad-values.bad.yaml:6:11: rule "Cheaper Plan": kind "Cheaper-Plan" must be a snake_case word such as cheaper_plan, free_replacement or fee_waiver`,
			`testdata/bad-values.bad.yaml:7:14: rule "Cheaper Plan": enabled must be true or false`,
			`testdata/bad-values.bad.yaml:8:13: rule "Cheaper Plan": review must be "required" or "rule", got "always"`,
			`testdata/bad-values.bad.yaml:9:14: rule "Cheaper Plan": purpose must be "promotional" or "service", got "marketing"`,
			`testdata/bad-values.bad.yaml:10:15: rule "Cheaper Plan": cooldown: cannot parse duration "3 months": want a whole number followed by d, w, h or m, like 90d`,
			`testdata/bad-values.bad.yaml:15:18: rule "Cheaper Plan": unknown channel "emial" (did you mean "email"?)`,
			`testdata/bad-values.bad.yaml:15:25: rule "Cheaper Plan": unknown channel "fax": want one of email, sms, webhook`,
		}},
		{"duplicate-id.bad.yaml", []string{
			`testdata/duplicate-id.bad.yaml:10:9: rule "twice": duplicate rule id (first defined at line 2)`,
		}},
		{"fact-typo.bad.yaml", []string{
			`testdata/fact-typo.bad.yaml:8:42: rule "field-typo": values.tenure_years: type rules.Customer has no field joind_on; did you mean joined_on?`,
			`testdata/fact-typo.bad.yaml:18:26: rule "helper-typo": values.fee: unknown name days_snce; did you mean days_since?`,
			`testdata/fact-typo.bad.yaml:27:63: rule "nested-typo": when: type rules.Subscription has no field startd_on; did you mean started_on?`,
		}},
		{"folded.bad.yaml", []string{
			`testdata/folded.bad.yaml:8:29: rule "plain-lines": when: invalid operation: > (mismatched types int and string)`,
			`testdata/folded.bad.yaml:19:15: rule "folded-block": when: type rules.Plan has no field monthly_pirce; did you mean monthly_price?`,
			`testdata/folded.bad.yaml:28:15: rule "quoted-lines": when: type rules.Plan has no field nme; did you mean name?`,
			`testdata/folded.bad.yaml:36:52: rule "single-quoted": when: type rules.Customer has no field tenure`,
			`testdata/folded.bad.yaml:41:11: rule "single-quoted": offer.segment: invalid operation: + (mismatched types string and int)`,
		}},
		{"missing-fields.bad.yaml", []string{
			`testdata/missing-fields.bad.yaml:2:5: rule "bare": missing field "name"`,
			`testdata/missing-fields.bad.yaml:2:5: rule "bare": missing field "description"`,
			`testdata/missing-fields.bad.yaml:2:5: rule "bare": missing field "owner"`,
			`testdata/missing-fields.bad.yaml:2:5: rule "bare": missing field "kind"`,
			`testdata/missing-fields.bad.yaml:2:5: rule "bare": missing field "value"`,
			`testdata/missing-fields.bad.yaml:2:5: rule "bare": missing field "message"`,
			`testdata/missing-fields.bad.yaml:4:5: missing field "id"`,
			`testdata/missing-fields.bad.yaml:11:7: message: missing field "template"`,
			`testdata/missing-fields.bad.yaml:12:5: a rule must be a mapping of fields, got "just a string"`,
		}},
		{"missing-rules.bad.yaml", []string{
			"testdata/missing-rules.bad.yaml:2:1: missing field `rules`",
		}},
		{"multi-document.bad.yaml", []string{
			`testdata/multi-document.bad.yaml:11:1: a rule file holds one YAML document; this second one would be ignored`,
		}},
		{"named-value.bad.yaml", []string{
			`testdata/named-value.bad.yaml:9:27: rule "named": values.best: cannot use string as argument (type int) to call cheapest_plan`,
			`testdata/named-value.bad.yaml:19:7: rule "shadow": named value "plan" hides the fact, helper or builtin function of that name; choose another name`,
		}},
		{"promises.bad.yaml", []string{
			`testdata/promises.bad.yaml:2:5: rule "no-months": kind cheaper_plan: the offer must set new_price (its monthly price), current_price (the current plan's monthly price), months (the quote's month-by-month comparison (best.by_month): each month's current_cost and new_cost); its built-in promises read them (see docs/rules.md)`,
			`testdata/promises.bad.yaml:26:16: rule "bad-require": require: unexpected token EOF`,
			`testdata/promises.bad.yaml:27:9: rule "bad-require": require: expected bool, but got int`,
			`testdata/promises.bad.yaml:28:9: rule "bad-require": require: unknown name nope`,
			`testdata/promises.bad.yaml:36:7: rule "reserved": named value "offer": the name is reserved for the rule's offer in ` + "`require`" + `; choose another name`,
		}},
		{"not-a-mapping.bad.yaml", []string{
			"testdata/not-a-mapping.bad.yaml:1:1: want a mapping with a `rules` list, got a list",
		}},
		{"not-boolean.bad.yaml", []string{
			`testdata/not-boolean.bad.yaml:7:11: rule "not-boolean": when: must be a boolean expression, got int`,
			`testdata/not-boolean.bad.yaml:16:7: rule "nil-when": when: must be a boolean expression, got nil`,
		}},
		{"quoted.bad.yaml", []string{
			`testdata/quoted.bad.yaml:7:42: rule "quoted": when: type rules.Plan has no field nme; did you mean name?`,
		}},
		{"shapes.bad.yaml", []string{
			`testdata/shapes.bad.yaml:3:11: rule "shapes": name must be a string, got a list`,
			`testdata/shapes.bad.yaml:7:15: rule "shapes": cooldown: duration "1000000d" is too long`,
			`testdata/shapes.bad.yaml:8:13: rule "shapes": values must be a mapping of names to expressions, got a list`,
			`testdata/shapes.bad.yaml:9:11: rule "shapes": when must be an expression, got a list`,
			`testdata/shapes.bad.yaml:12:15: rule "shapes": offer.plan_id must be an expression, got nothing`,
			`testdata/shapes.bad.yaml:13:7: rule "shapes": offer name "2nd" must be a snake_case identifier`,
			"testdata/shapes.bad.yaml:14:14: rule \"shapes\": message must be a mapping with `template` and `channels`, got \"email\"",
			`testdata/shapes.bad.yaml:17:18: rule "channels": description must not be empty`,
			`testdata/shapes.bad.yaml:22:25: rule "channels": message.template must not be empty`,
			`testdata/shapes.bad.yaml:22:39: rule "channels": message.channels must be a list such as [email, sms], got "email"`,
		}},
		{"ternary.bad.yaml", []string{
			`testdata/ternary.bad.yaml:8:32: yaml: mapping values are not allowed in this context (an expression holding ": ", such as a ? b : c, must be quoted or written as a | block)`,
		}},
		{"type-error.bad.yaml", []string{
			`testdata/type-error.bad.yaml:7:47: rule "types": when: invalid operation: > (mismatched types int and string)`,
		}},
		{"unknown-field.bad.yaml", []string{
			`testdata/unknown-field.bad.yaml:2:5: rule "typo": missing field "when"`,
			`testdata/unknown-field.bad.yaml:7:5: rule "typo": unknown field "whn" (did you mean "when"?)`,
			`testdata/unknown-field.bad.yaml:9:5: rule "typo": unknown field "colour"`,
			`testdata/unknown-field.bad.yaml:12:7: rule "typo": unknown field "chanels" (did you mean "channels"?)`,
		}},
		{"unknown-template.bad.yaml", []string{
			`testdata/unknown-template.bad.yaml:10:17: rule "no-template": unknown template "no-such-template": no file testdata/no-such-template.tmpl`,
		}},
		{"unknown-top-level.bad.yaml", []string{
			`testdata/unknown-top-level.bad.yaml:1:1: unknown field "rule" (did you mean "rules"?)`,
			"testdata/unknown-top-level.bad.yaml:1:1: missing field `rules`",
		}},
		{"value-names.bad.yaml", []string{
			`testdata/value-names.bad.yaml:8:7: rule "names": named value "months" hides the fact, helper or builtin function of that name; choose another name`,
			`testdata/value-names.bad.yaml:9:7: rule "names": named value "count" hides the fact, helper or builtin function of that name; choose another name`,
			`testdata/value-names.bad.yaml:10:7: rule "names": named value "cheapest_plan" hides the fact, helper or builtin function of that name; choose another name`,
			`testdata/value-names.bad.yaml:11:7: rule "names": named value "in" is a word of the expression language; choose another name`,
			`testdata/value-names.bad.yaml:13:7: rule "names": named value "__c0": names starting with __ are reserved; choose another name`,
			`testdata/value-names.bad.yaml:14:7: rule "names": values name "Bad-Name" must be a snake_case identifier`,
		}},
		{"value-type.bad.yaml", []string{
			`testdata/value-type.bad.yaml:8:12: rule "float-value": value: must be an integer amount in minor units, got float (use int(round(x)), or div(a, b) for whole-number division)`,
			`testdata/value-type.bad.yaml:16:12: rule "string-value": value: must be an integer amount in minor units, got string`,
			`testdata/value-type.bad.yaml:24:13: rule "nil-value": value: must be an integer amount in minor units, got nil`,
		}},
		{"when-syntax.bad.yaml", []string{
			`testdata/when-syntax.bad.yaml:9:39: rule "syntax": when: unexpected token Bracket(")")`,
		}},
		{"yaml-indent.bad.yaml", []string{
			`testdata/yaml-indent.bad.yaml:4:4: yaml: while parsing a block collection at line 2, column 3: did not find expected '-' indicator`,
		}},
		{"yaml-syntax.bad.yaml", []string{
			`testdata/yaml-syntax.bad.yaml:6:1: yaml: while scanning a quoted scalar at line 4, column 18: found unexpected end of stream`,
		}},
	}
	tested := map[string]bool{}
	for _, tt := range tests {
		tested[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			rs, err := compileFile(t, filepath.Join("testdata", tt.file))
			if err == nil {
				t.Fatalf("compiled with no error: %d rules", len(rs.Rules))
			}
			if rs != nil {
				t.Errorf("a ruleset with errors was returned")
			}
			sameLines(t, errorLines(t, err), tt.want)
		})
	}
	// Every broken file is in the table.
	bad, _ := filepath.Glob("testdata/*.bad.yaml")
	for _, f := range bad {
		if !tested[filepath.Base(f)] {
			t.Errorf("%s is not in the table", f)
		}
	}
}

// TestCompileGood compiles each good file of testdata.
func TestCompileGood(t *testing.T) {
	good, _ := filepath.Glob("testdata/*.good.yaml")
	if len(good) == 0 {
		t.Fatal("no good files in testdata")
	}
	for _, f := range good {
		t.Run(filepath.Base(f), func(t *testing.T) {
			rs, err := compileFile(t, f)
			if err != nil {
				t.Fatalf("unexpected errors:\n%v", err)
			}
			if len(rs.Rules) == 0 {
				t.Fatal("no rules")
			}
			for _, r := range rs.Rules {
				if r.Path != f || len(r.Version) != 64 {
					t.Errorf("rule %q: path %q, version %q", r.ID, r.Path, r.Version)
				}
				if want := filepath.Join("testdata", "cheaper-plan.tmpl"); r.TemplatePath != want {
					t.Errorf("rule %q: template path %q, want %q", r.ID, r.TemplatePath, want)
				}
			}
		})
	}
}

// TestCompileFields checks that every field of a rule is read, and the
// defaults of those a rule leaves out.
func TestCompileFields(t *testing.T) {
	rs, err := compileFile(t, "testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Rules) != 2 || rs.Name != "test" || rs.Dir != "testdata" {
		t.Fatalf("ruleset %q in %q with %d rules, want test in testdata with 2", rs.Name, rs.Dir, len(rs.Rules))
	}
	full, second := rs.Rule("full_rule-1"), rs.Rule("second")
	if full == nil || second == nil || rs.Rule("nope") != nil {
		t.Fatalf("Rule(id) = %v, %v", full, second)
	}
	if got := rs.Enabled(); len(got) != 1 || got[0] != second {
		t.Errorf("Enabled() = %v, want only the second rule", got)
	}
	names := func(ns []rulefmt.Named) string {
		var s []string
		for _, n := range ns {
			s = append(s, n.Name)
		}
		return strings.Join(s, ",")
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"id", full.ID, "full_rule-1"},
		{"name", full.Name, "Every field"},
		{"description", full.Description, "A rule that sets every field, to check that they are all read."},
		{"owner", full.Owner, "pricing"},
		{"kind", full.Kind, "cheaper_plan"},
		{"enabled", full.Enabled, false},
		{"review", full.Review, "rule"},
		{"purpose", full.Purpose, "service"},
		{"cooldown", full.Cooldown, 14 * 24 * time.Hour},
		{"values", names(full.Values), "best,saving,tier"},
		{"value", full.Value.Source, "saving * 12\n"},
		{"offer", names(full.Offer), "plan_id,new_price,current_price,months,saving,tier"},
		{"require", len(full.Require), 2},
		{"template", full.Message.Template, "cheaper-plan"},
		{"channels", strings.Join(full.Message.Channels, ","), "sms,webhook"},
		{"pos", full.Pos, rulefmt.Pos{Line: 3, Col: 5}},
		{"id pos", full.IDPos, rulefmt.Pos{Line: 3, Col: 9}},
		{"default enabled", second.Enabled, true},
		{"default review", second.Review, "required"},
		{"default purpose", second.Purpose, "promotional"},
		{"zero cooldown", second.Cooldown, time.Duration(0)},
		{"default channels", strings.Join(second.Message.Channels, ","), "email"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
}

// TestCompileDuplicateAcrossFiles checks that an id used in two files of
// one ruleset is reported in the second file, by path order.
func TestCompileDuplicateAcrossFiles(t *testing.T) {
	rule := func(id string) string {
		return "rules:\n" +
			"  - id: " + id + "\n" +
			"    name: A rule\n" +
			"    description: A rule.\n" +
			"    owner: pricing\n" +
			"    kind: plan_tip\n" +
			"    when: true\n" +
			"    value: 1\n" +
			"    message: {template: cheaper-plan}\n"
	}
	_, err := compileFiles(t, map[string]string{
		"rulesets/x/b.yaml": rule("shared"),
		"rulesets/x/a.yaml": rule("shared"),
		"rulesets/x/c.yaml": rule("other"),
	})
	sameLines(t, errorLines(t, err), []string{
		`rulesets/x/b.yaml:2:9: rule "shared": duplicate rule id (also defined in rulesets/x/a.yaml)`,
	})

	// Errors of several files come sorted by path, line and column.
	_, err = compileFiles(t, map[string]string{
		"z.yaml": "rules:\n  - id: z\n",
		"a.yaml": "rules: {}\n",
	})
	got := errorLines(t, err)
	if len(got) != 8 || !strings.HasPrefix(got[0], "a.yaml:1:8: ") || !strings.HasPrefix(got[1], "z.yaml:2:5: ") {
		t.Errorf("errors not sorted by path:\n%s", strings.Join(got, "\n"))
	}
}

// TestCompileTemplates checks that a rule naming a template that does not
// exist is an error, and that a nil templateExists checks nothing.
func TestCompileTemplates(t *testing.T) {
	b, err := os.ReadFile("testdata/unknown-template.bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"rulesets/promo/promo.yaml": b}
	var asked []string
	_, err = rules.Compile("promo", "rulesets/promo", files, func(name string) bool {
		asked = append(asked, name)
		return false
	})
	sameLines(t, errorLines(t, err), []string{
		`rulesets/promo/promo.yaml:10:17: rule "no-template": unknown template "no-such-template": no file rulesets/promo/no-such-template.tmpl`,
	})
	if strings.Join(asked, ",") != "no-such-template" {
		t.Errorf("templateExists asked for %q", asked)
	}
	rs, err := rules.Compile("promo", "rulesets/promo", files, nil)
	if err != nil {
		t.Fatalf("with no templateExists: %v", err)
	}
	if got := rs.Rules[0].TemplatePath; got != "rulesets/promo/no-such-template.tmpl" {
		t.Errorf("TemplatePath = %q", got)
	}
}

// TestLoad checks Load and LoadAll on folders that do not hold rules.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := rules.Load(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Load(missing folder) = %v", err)
	}
	if _, err := rules.Load(dir); err == nil || !strings.Contains(err.Error(), "no rule files") {
		t.Errorf("Load(empty folder) = %v", err)
	}
	if _, err := rules.LoadAll(dir); err == nil || !strings.Contains(err.Error(), "no ruleset folders") {
		t.Errorf("LoadAll(empty folder) = %v", err)
	}
	// A broken ruleset makes LoadAll fail with its errors; a test file is
	// not a rule file.
	bad := filepath.Join(dir, "bad")
	if err := os.Mkdir(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "x.yaml"), []byte("rules: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "x_test.yaml"), []byte("not: [a rule file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := rules.LoadAll(dir)
	sameLines(t, errorLines(t, err), []string{filepath.Join(bad, "x.yaml") + ":1:8: `rules` must be a list of rules, got a mapping"})
}
