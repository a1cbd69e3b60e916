package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/rules"
)

// TestReadingOnlyWhatTheRulesNeedProposesTheSame runs every shipped
// ruleset, and each rule of testdata/adversarial on its own, over the
// sample operator twice: reading only what the rules can read, and reading
// everything. Every match, proposed or held back, must be the same, with
// the same value, offer and evidence.
func TestReadingOnlyWhatTheRulesNeedProposesTheSame(t *testing.T) {
	sets, err := rules.LoadAll("../rulesets")
	if err != nil {
		t.Fatal(err)
	}
	adversarial, err := rules.Load("testdata/adversarial")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range adversarial.Rules {
		sets = append(sets, &rules.Ruleset{Name: "adversarial-" + r.ID, Dir: adversarial.Dir, Rules: []*rules.Rule{r}})
	}
	db := mustOpen(t, dbtest.SQLiteDSN(t))
	eng := mustSetup(t, db, 1500)
	var log bytes.Buffer
	eng.Logger = slog.New(slog.NewTextHandler(&log, nil))
	ctx := context.Background()
	for _, rs := range sets {
		t.Run(rs.Name, func(t *testing.T) {
			log.Reset()
			opts := engine.Options{DryRun: true, IgnoreHeld: true, Collect: true, CollectHeld: true}
			narrow, err := eng.Run(ctx, rs, opts)
			if err != nil {
				t.Fatal(err)
			}
			queries := log.String()
			opts.ReadEverything = true
			whole, err := eng.Run(ctx, rs, opts)
			if err != nil {
				t.Fatal(err)
			}
			got, want := matches(narrow), matches(whole)
			perRule := map[string]int{}
			for k := range want {
				id, _, _ := strings.Cut(k, " ")
				perRule[id]++
			}
			for _, r := range rs.Enabled() {
				if perRule[r.ID] == 0 {
					t.Errorf("rule %s matches no sample customer: it proves nothing", r.ID)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d distinct matches reading what the rules need, %d reading everything", len(got), len(want))
			}
			for k, n := range want {
				if got[k] != n {
					t.Errorf("match differs: %s\nreading everything: %d time(s), reading what the rules need: %d", k, n, got[k])
				}
			}
			if narrow.Customers != whole.Customers || narrow.Refused != whole.Refused {
				t.Errorf("customers %d, refused %d; reading everything %d, %d", narrow.Customers, narrow.Refused, whole.Customers, whole.Refused)
			}
			checkNarrowed(t, rs, queries)
		})
	}
}

// matches keys every match of a run, proposed or held back, by everything
// a reviewer would see of it, and counts them.
func matches(res *engine.Result) map[string]int {
	out := map[string]int{}
	for _, p := range res.Found {
		out[fmt.Sprintf("%s proposed %s customer %d value %d offer %s evidence %s", p.RuleID, p.Status, p.CustomerID, p.Value, p.Offer, p.Evidence)]++
	}
	for _, h := range res.HeldMatches {
		out[fmt.Sprintf("%s held %s (%s) customer %d value %d offer %s evidence %s", h.RuleID, h.Reason, h.Detail, h.CustomerID, h.Value, h.Offer, h.Evidence)]++
	}
	return out
}

// rulesetReads holds what each ruleset's reads must be narrowed to, so
// that the comparison above compares a narrowed read: "charges kinds" is
// a query of charges with a kind filter, "-charges" no query of charges,
// "charges" a query of every charge.
var rulesetReads = map[string][]string{
	"mobile":                       {"charges kinds", "events kinds", "usage", "addons"},
	"uk-best-tariff":               {"-charges", "-events", "-addons", "usage"},
	"adversarial-dynamic-field":    {"charges", "events", "usage", "addons"},
	"adversarial-kind-in-variable": {"charges", "-events", "-usage"},
	"adversarial-whole-relation":   {"charges", "-events"},
	"adversarial-kind-in-mapping":  {"charges", "-events"},
	"adversarial-all-events":       {"events", "-charges"},
	"adversarial-find-index":       {"charges", "-events"},
	"adversarial-usage-length":     {"usage", "-charges", "-events", "-addons"},
	"adversarial-bounded":          {"charges kinds", "events kinds", "usage", "-addons"},
}

// checkNarrowed checks the queries a run logged against rulesetReads.
func checkNarrowed(t *testing.T, rs *rules.Ruleset, log string) {
	t.Helper()
	want, ok := rulesetReads[rs.Name]
	if !ok {
		t.Fatalf("no expected reads for ruleset %s", rs.Name)
	}
	queried := map[string]string{}
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `msg="billing query"`) {
			continue
		}
		_, rest, _ := strings.Cut(line, "relation=")
		name, _, _ := strings.Cut(rest, " ")
		queried[name] = line
	}
	for _, w := range want {
		name, kinds := strings.CutSuffix(w, " kinds")
		switch {
		case strings.HasPrefix(w, "-"):
			if q, ok := queried[w[1:]]; ok {
				t.Errorf("%s is read, no rule needs it: %s", w[1:], q)
			}
		case queried[name] == "":
			t.Errorf("%s is not read", name)
		case kinds != strings.Contains(queried[name], "kind IN"):
			t.Errorf("%s: kind filter %v, want %v: %s", name, !kinds, kinds, queried[name])
		}
	}
}
