package outcomes_test

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/outcomes"
	"github.com/goodturn/goodturn/engine/sample"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
	"github.com/goodturn/goodturn/rules"
)

var runDay = time.Date(2026, 6, 1, 2, 0, 0, 0, time.UTC)

// approvedSample runs the shipped rulesets, each rule keeping control share
// of its customers, over a sample operator, and approves every batch.
func approvedSample(t *testing.T, dsn string, customers, control int) (*database.DB, []store.OutcomeUnit) {
	t.Helper()
	ctx := context.Background()
	db := dbtest.MustOpenMigrated(t, dsn)
	if err := billing.CreateSchema(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := sample.Generate(ctx, db, sample.Options{Customers: customers, Seed: 5, Now: runDay}); err != nil {
		t.Fatal(err)
	}
	sets, err := rules.LoadAll("../../rulesets")
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range sets {
		for _, r := range rs.Rules {
			r.Control = control
		}
	}
	eng := &engine.Engine{DB: db, Billing: &billing.Reader{DB: db}, Now: func() time.Time { return runDay },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if _, err := eng.RunAll(ctx, sets, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	bs, err := reviewdb.ListBatches(ctx, db, reviewdb.BatchFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if _, err := reviewdb.DecidePending(ctx, db, reviewdb.Selection{RunID: b.RunID, RuleID: b.RuleID}, store.ProposalApproved, "ana", runDay); err != nil {
			t.Fatal(err)
		}
	}
	units, err := store.OutcomeUnits(ctx, db, "")
	if err != nil {
		t.Fatal(err)
	}
	return db, units
}

// report plants effect on the units' customers and measures it 100 days on.
func report(t *testing.T, db *database.DB, units []store.OutcomeUnit, effect sample.Effect) *outcomes.Report {
	t.Helper()
	ctx := context.Background()
	until := runDay.AddDate(0, 0, 100)
	contacts := outcomes.Contacts(units)
	if _, err := sample.GenerateOutcomes(ctx, db, contacts, effect, 7, until); err != nil {
		t.Fatal(err)
	}
	facts, err := outcomes.ReadFacts(ctx, db, outcomes.Scope{Since: runDay, Until: until})
	if err != nil {
		t.Fatal(err)
	}
	rep := outcomes.Build(units, facts, until)
	// Load reads only the units' customers, up to the report's day; every
	// customer's facts, and the days after it, must change nothing.
	loaded, err := outcomes.Load(ctx, db, units, until)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(until.Year(), until.Month(), until.Day(), 0, 0, 0, 0, time.UTC)
	if !reflect.DeepEqual(loaded, outcomes.Build(units, facts, day)) {
		t.Errorf("the report from the units' customers differs from the one from every customer's facts")
	}
	return rep
}

// effectCase is a named effect to plant.
type effectCase struct {
	name   string
	effect sample.Effect
}

// plantedAndNone are the two cases every estimate is tested on: an effect
// planted, and none (the same chances whatever the group).
func plantedAndNone(planted sample.Effect) []effectCase {
	return []effectCase{{"planted", planted}, {"none", sample.Effect{Uptake: 0.10, Churn: 0.15}}}
}

// largest returns the rule with the most customers.
func largest(rep *outcomes.Report) outcomes.Group {
	var best outcomes.Group
	for _, g := range rep.Rules {
		if g.Treated+g.Control > best.Treated+best.Control {
			best = g
		}
	}
	return best
}

// TestRecoversPlantedEffect plants an effect of being contacted in the
// sample operator's months after a run and checks that the estimate finds
// it within its interval, and that with no effect the interval covers zero.
func TestRecoversPlantedEffect(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the sample operator")
	}
	db, units := approvedSample(t, dbtest.SQLiteDSN(t), 6000, 3000)
	for _, tt := range plantedAndNone(sample.Effect{Uptake: 0.10, Lift: 0.25, Churn: 0.15, ChurnCut: 0.10}) {
		t.Run(tt.name, func(t *testing.T) {
			rep := report(t, db, units, tt.effect)
			if !rep.PlanChanges || !rep.LeftOn {
				t.Fatalf("outcome relations not found: plan_changes %v, left_on %v", rep.PlanChanges, rep.LeftOn)
			}
			g := largest(rep)
			up, churn := g.Uptake[2], g.Churn
			t.Logf("%s/%s: %d treated, %d control; uptake 90d %s vs %s, diff %s [%s, %s]; churn %s vs %s, diff %s [%s, %s]",
				g.Ruleset, g.RuleID, g.Treated, g.Control,
				outcomes.Percent(up.Treated.P), outcomes.Percent(up.Control.P), outcomes.Points(up.Diff.D), outcomes.Points(up.Diff.Lo), outcomes.Points(up.Diff.Hi),
				outcomes.Percent(churn.Treated.P), outcomes.Percent(churn.Control.P), outcomes.Points(churn.Diff.D), outcomes.Points(churn.Diff.Lo), outcomes.Points(churn.Diff.Hi))
			if g.Control < 100 || g.Treated < 100 {
				t.Fatalf("largest rule %s has %d treated and %d control: too few to test", g.RuleID, g.Treated, g.Control)
			}
			if !up.Diff.Covers(tt.effect.Lift) {
				t.Errorf("uptake difference %+v does not cover the planted %v", up.Diff, tt.effect.Lift)
			}
			if !churn.Diff.Covers(-tt.effect.ChurnCut) {
				t.Errorf("churn difference %+v does not cover the planted %v", churn.Diff, -tt.effect.ChurnCut)
			}
			if tt.effect.Lift > 0 && up.Diff.Covers(0) {
				t.Errorf("uptake difference %+v covers zero although contacting lifts uptake by %v", up.Diff, tt.effect.Lift)
			}
			if tt.effect.Lift == 0 && !up.Diff.Covers(0) {
				t.Errorf("uptake difference %+v misses zero with no effect planted", up.Diff)
			}
		})
	}
}

// TestNoOutcomeData checks that a billing database without plan_changes or
// customers.left_on gives a report that says so rather than failing.
func TestNoOutcomeData(t *testing.T) {
	db, units := approvedSample(t, dbtest.SQLiteDSN(t), 600, 2000)
	facts, err := outcomes.ReadFacts(context.Background(), db, outcomes.Scope{Since: runDay, Until: runDay.AddDate(0, 0, 100)})
	if err != nil {
		t.Fatal(err)
	}
	rep := outcomes.Build(units, facts, runDay.AddDate(0, 0, 100))
	if rep.PlanChanges || rep.LeftOn || len(rep.Rules) == 0 {
		t.Fatalf("report: plan changes %v, left_on %v, %d rules", rep.PlanChanges, rep.LeftOn, len(rep.Rules))
	}
	for _, g := range rep.Rules {
		if g.Uptake[0].Verdict != "no outcome data" || g.Churn.Verdict != "no outcome data" {
			t.Errorf("rule %s: verdicts %q and %q, want no outcome data", g.RuleID, g.Uptake[0].Verdict, g.Churn.Verdict)
		}
	}
}

// TestRecoversPlantedRevenue plants an effect of being contacted on the
// largest rule's customers and checks that the revenue estimate's interval
// holds the true effect: the mean, over every customer of the rule, of
// what they were billed if contacted less what they were billed if not.
// The sample draws each customer's fate whatever their group, so both
// can be generated and the truth is known exactly; with no effect planted
// it is zero. It runs on SQLite and PostgreSQL, whose readers of the
// charges differ.
func TestRecoversPlantedRevenue(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the sample operator")
	}
	dbtest.Dialects(t, recoversPlantedRevenue)
}

func recoversPlantedRevenue(t *testing.T, dsn string) {
	ctx := context.Background()
	db, all := approvedSample(t, dsn, 6000, 3000)
	largestRule := largest(outcomes.Build(all, &outcomes.Facts{}, runDay)).RuleID
	var units []store.OutcomeUnit
	for _, u := range all {
		if u.RuleID == largestRule {
			units = append(units, u)
		}
	}
	until := runDay.AddDate(0, 0, 100)
	// billed generates the outcomes of contacts and returns the report of
	// units: units as they are, or every one counted as treated.
	billed := func(contacts []sample.Contact, effect sample.Effect, units []store.OutcomeUnit) outcomes.Revenue {
		t.Helper()
		if _, err := sample.GenerateOutcomes(ctx, db, contacts, effect, 11, until); err != nil {
			t.Fatal(err)
		}
		rep, err := outcomes.Load(ctx, db, units, until)
		if err != nil {
			t.Fatal(err)
		}
		return rep.Rules[0].Revenue
	}
	// mean is what every customer of the rule was billed on average if
	// all were contacted (or none was).
	mean := func(effect sample.Effect, contacted bool) float64 {
		t.Helper()
		contacts := outcomes.Contacts(units)
		everyone := make([]store.OutcomeUnit, len(units))
		for i := range units {
			contacts[i].Contacted = contacted
			everyone[i] = units[i]
			everyone[i].Status = store.ProposalApproved
		}
		r := billed(contacts, effect, everyone)
		if r.Control.N != 0 || r.Treated.N != len(units) {
			t.Fatalf("counted %d treated and %d control, want all %d treated", r.Treated.N, r.Control.N, len(units))
		}
		return float64(r.Treated.Total) / float64(r.Treated.N)
	}
	for _, tt := range plantedAndNone(sample.Effect{Uptake: 0.05, Lift: 0.75, Churn: 0.15, ChurnCut: 0.02}) {
		t.Run(tt.name, func(t *testing.T) {
			truth := mean(tt.effect, true) - mean(tt.effect, false)
			r := billed(outcomes.Contacts(units), tt.effect, units)
			t.Logf("%s: %d treated billed %s each, %d control %s; difference %s [%s, %s] (df %.0f); true effect %.1f; %s",
				largestRule, r.Treated.N, outcomes.Money(r.Treated.Mean, r.Currency), r.Control.N, outcomes.Money(r.Control.Mean, r.Currency),
				outcomes.Money(r.Diff.D, r.Currency), outcomes.Money(r.Diff.Lo, r.Currency), outcomes.Money(r.Diff.Hi, r.Currency), r.Diff.DF, truth, r.Verdict)
			if r.Treated.N < 100 || r.Control.N < 100 {
				t.Fatalf("%d treated and %d control: too few to test", r.Treated.N, r.Control.N)
			}
			if !r.Diff.Covers(truth) {
				t.Errorf("revenue difference %+v does not cover the true effect %.1f", r.Diff, truth)
			}
			switch {
			case tt.effect.Lift == 0 && truth != 0:
				t.Errorf("with no effect planted the true effect is %.1f, want 0", truth)
			case tt.effect.Lift > 0 && r.Diff.Covers(0):
				t.Errorf("revenue difference %+v covers zero although the true effect is %.1f", r.Diff, truth)
			}
		})
	}
}
