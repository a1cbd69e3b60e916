package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/outcomes"
	"github.com/goodturn/goodturn/rules"
)

// TestOutcomesOnTheDemo builds the demo with outcomes and checks that
// `goodturn outcomes` prints, for every shipped rule that proposed
// anything, uptake, churn and revenue for treated and control with
// intervals, and the same as JSON with the curves the page charts.
func TestOutcomesOnTheDemo(t *testing.T) {
	dsn := dbtest.SQLiteDSN(t)
	code, out, errOut := run(t, "demo", "--db", dsn, "--rulesets", "../../rulesets", "--customers", "2000", "--now", "2026-11-23", "--outcomes")
	if code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"control group:", "kept back to measure", "plan changes", "goodturn outcomes"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	out = outcomesReport(t, dsn, "2026-11-23", "more contacted customers took the offer")
	sets, err := rules.LoadAll("../../rulesets")
	if err != nil {
		t.Fatal(err)
	}
	// "uptake 90d  27.3% of 231 (21.9%–33.4%)  7.5% of 93 (3.7%–14.7%)  +19.7 (+10.8 to +26.9)"
	row := func(figure string) *regexp.Regexp {
		return regexp.MustCompile(figure + `\s+[\d.]+% of \d+ \([\d.]+%–[\d.]+%\)\s+[\d.]+% of \d+ \([\d.]+%–[\d.]+%\)\s+[+-][\d.]+ \([+-][\d.]+ to [+-][\d.]+\)`)
	}
	// "revenue 3m  £41.82 each of 231 (£39.83–£43.81)  £43.99 each of 93 (£40.28–£47.70)  -£2.17 (-£6.36 to +£2.02)"
	money := `-?£[\d,]+\.\d\d`
	each := money + ` each of \d+ \(` + money + `–` + money + `\)`
	revenueRow := regexp.MustCompile(`revenue 3m\s+` + each + `\s+` + each + `\s+[+-]?£[\d,]+\.\d\d \([+-]?£[\d,.]+ to [+-]?£[\d,.]+\)`)
	sections := strings.Split(out, "\n\n")
	rulesSeen := 0
	for _, rs := range sets {
		for _, r := range rs.Enabled() {
			var section string
			for _, s := range sections {
				if strings.HasPrefix(s, rs.Name+"/"+r.ID+" ") {
					section = s
				}
			}
			if section == "" {
				continue // the rule proposed nothing on this sample
			}
			rulesSeen++
			if strings.Contains(section, " 0 control") {
				continue
			}
			for _, figure := range []string{"uptake 30d", "uptake 60d", "uptake 90d", "churn 90d"} {
				if !row(figure).MatchString(section) {
					t.Errorf("rule %s: no %s row with treated, control and intervals:\n%s", r.ID, figure, section)
				}
			}
			if !revenueRow.MatchString(section) {
				t.Errorf("rule %s: no revenue row with treated, control and intervals in pounds:\n%s", r.ID, section)
			}
		}
	}
	if rulesSeen < 5 {
		t.Errorf("outcomes shows %d rules, want most of the shipped ones:\n%s", rulesSeen, out)
	}

	code, out, errOut = run(t, "outcomes", "--db", dsn, "--now", "2026-11-23", "--json")
	if code != 0 {
		t.Fatalf("outcomes --json exited %d\n%s\n%s", code, out, errOut)
	}
	var rep outcomes.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("outcomes --json: %v\n%s", err, out)
	}
	if !rep.PlanChanges || !rep.LeftOn || len(rep.Rules) != rulesSeen || len(rep.Batches) == 0 {
		t.Errorf("JSON report: plan changes %v, left_on %v, %d rules (text %d), %d batches", rep.PlanChanges, rep.LeftOn, len(rep.Rules), rulesSeen, len(rep.Batches))
	}
	for _, g := range rep.Rules {
		rev := g.Revenue
		if rev.Currency != "GBP" || rev.Treated.N == 0 || rev.Treated.Total == 0 || rev.Verdict == "" {
			t.Errorf("JSON rule %s: revenue %+v", g.RuleID, rev)
		}
		if len(g.Curves) != 2 || len(g.Curves[0].Points) != outcomes.CurveWeeks || g.Curves[1].Name != "churn" {
			t.Errorf("JSON rule %s: curves %+v, want uptake and churn over %d weeks", g.RuleID, g.Curves, outcomes.CurveWeeks)
		}
	}
}

// TestOutcomesWithoutOutcomeData checks that a database without the
// outcome relations says so instead of failing.
func TestOutcomesWithoutOutcomeData(t *testing.T) {
	dsn := dbtest.SQLiteDSN(t)
	if code, out, errOut := run(t, "demo", "--db", dsn, "--rulesets", "../../rulesets", "--customers", "300", "--now", "2026-11-23"); code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
	}
	outcomesReport(t, dsn, "2026-11-23", "No outcome data for uptake", "No outcome data for churn", "nothing to measure")
}

// outcomesReport runs goodturn outcomes as of a day, checks it prints each
// of wants, and returns what it printed.
func outcomesReport(t *testing.T, dsn, now string, wants ...string) string {
	t.Helper()
	code, out, errOut := run(t, "outcomes", "--db", dsn, "--now", now)
	if code != 0 {
		t.Fatalf("outcomes exited %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("outcomes lacks %q:\n%s", want, out)
		}
	}
	return out
}
