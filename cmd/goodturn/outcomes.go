package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/outcomes"
	"github.com/goodturn/goodturn/engine/sample"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
	"github.com/goodturn/goodturn/rules"
)

// printControl prints, rule by rule, how many matches a run kept as the
// rule's control group.
func printControl(w io.Writer, rrs []store.RunRule) {
	for _, rr := range rrs {
		if rr.Control > 0 {
			fmt.Fprintf(w, "  %s control group: %s kept back to measure, never reviewed or sent\n", rr.RuleID, count(rr.Control))
		}
	}
}

// withControl adds a batch's control group to its note in the review list.
func withControl(note string, control int64) string {
	if control == 0 {
		return note
	}
	c := count(control) + " in control group"
	if note == "" {
		return c
	}
	return note + "; " + c
}

func runOutcomes(ctx context.Context, x *call) error {
	env, fs := x.Env, x.Flags
	ruleset := fs.String("ruleset", "", "only this ruleset's rules")
	asJSON := fs.Bool("json", false, "print the figures as JSON, for analysts")
	if _, err := x.Parse(); err != nil {
		return err
	}
	now := x.Now
	db, bdb, err := x.Databases(ctx)
	if err != nil {
		return err
	}
	rep, err := buildOutcomes(ctx, db, bdb, *ruleset, now())
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printOutcomes(env.Stdout, rep)
	return nil
}

// buildOutcomes reads the approved and control proposals and the outcome
// facts, and measures them as of a day.
func buildOutcomes(ctx context.Context, db, bdb *database.DB, ruleset string, now time.Time) (*outcomes.Report, error) {
	units, err := store.OutcomeUnits(ctx, db, ruleset)
	if err != nil {
		return nil, err
	}
	return outcomes.Load(ctx, bdb, units, now)
}

// printOutcomes prints a report: each rule's figures, then each batch's.
func printOutcomes(w io.Writer, rep *outcomes.Report) {
	fmt.Fprintf(w, "Outcomes as of %s: treated customers (sent, or approved where a batch was never sent) against each rule's control group.\n",
		rep.AsOf.Format(time.DateOnly))
	if !rep.PlanChanges {
		fmt.Fprintln(w, "No outcome data for uptake: the billing data has no plan_changes relation (docs/billing-data.md).")
	}
	if !rep.LeftOn {
		fmt.Fprintln(w, "No outcome data for churn: the billing data's customers have no left_on column (docs/billing-data.md).")
	}
	if len(rep.Rules) == 0 {
		fmt.Fprintln(w, "No approved or control proposals yet: nothing to measure.")
		return
	}
	for _, g := range rep.Rules {
		fmt.Fprintf(w, "\n%s/%s (%s): %s treated (%s), %s control\n", g.Ruleset, g.RuleID, g.Kind, count(int64(g.Treated)), g.Basis, count(int64(g.Control)))
		rows := [][]string{{"figure", "treated", "control", "difference", "verdict"}}
		for _, m := range append(append([]outcomes.Measure{}, g.Uptake...), g.Churn) {
			rows = append(rows, measureRow(m))
		}
		rows = append(rows, revenueRow(g.Revenue))
		printTable(w, leftLast(rows), 1)
	}
	fmt.Fprintf(w, "\nRevenue is what each customer was billed in the %d months after the run (charges not waived, credits taken off),\n"+
		"a customer who left counting as billed nothing since: a cheaper plan lowers it by design, fewer departures raise it.\n", outcomes.RevenueMonths)
	fmt.Fprintln(w, "\nBatches:")
	rows := [][]string{{"batch", "as of", "treated", "control", "uptake 90d", "churn 90d", "revenue 3m", "verdict (uptake 90d)"}}
	for _, g := range rep.Batches {
		up := g.Uptake[len(g.Uptake)-1]
		rows = append(rows, []string{g.Batch, g.AsOf.Format(time.DateOnly), count(int64(g.Treated)), count(int64(g.Control)),
			diffCell(up), diffCell(g.Churn), revenueDiffCell(g.Revenue), up.Verdict})
	}
	printTable(w, leftLast(rows), 2)
}

// revenueRow is a rule's revenue figure as a table row.
func revenueRow(r outcomes.Revenue) []string {
	name := fmt.Sprintf("revenue %dm", r.Months)
	if r.Currency == "" || r.Treated.N == 0 || r.Control.N == 0 {
		return []string{name, "-", "-", "-", r.Verdict}
	}
	verdict := r.Verdict
	if r.Refused > 0 {
		verdict += fmt.Sprintf(" (%s customers left out: a charge with no amount or waived)", count(int64(r.Refused)))
	}
	return []string{name, amountCell(r.Treated, r.Currency), amountCell(r.Control, r.Currency), revenueDiffCell(r), verdict}
}

// amountCell writes a group's mean billed: "£33.94 each of 477 (£32.10–£35.80)".
func amountCell(a outcomes.Amount, currency string) string {
	s := fmt.Sprintf("%s each of %s", outcomes.Money(a.Mean, currency), count(int64(a.N)))
	if a.N > 1 {
		s += fmt.Sprintf(" (%s–%s)", outcomes.Money(a.Lo, currency), outcomes.Money(a.Hi, currency))
	}
	return s
}

// revenueDiffCell writes the revenue difference with its interval:
// "-£8.44 (-£11.37 to -£5.52)".
func revenueDiffCell(r outcomes.Revenue) string {
	if r.Currency == "" || r.Treated.N == 0 || r.Control.N == 0 {
		return "-"
	}
	s := outcomes.SignedMoney(r.Diff.D, r.Currency)
	if r.Diff.DF > 0 {
		s += fmt.Sprintf(" (%s to %s)", outcomes.SignedMoney(r.Diff.Lo, r.Currency), outcomes.SignedMoney(r.Diff.Hi, r.Currency))
	}
	return s
}

// measureRow is one figure of a rule as a table row.
func measureRow(m outcomes.Measure) []string {
	name := fmt.Sprintf("%s %dd", m.Name, m.Days)
	if !m.Available || m.Treated.N+m.Control.N == 0 {
		return []string{name, "-", "-", "-", m.Verdict}
	}
	return []string{name, shareCell(m.Treated), shareCell(m.Control), diffCell(m), m.Verdict}
}

// shareCell writes k of n as "31.4% of 477 (27.4–35.8%)".
func shareCell(p outcomes.Proportion) string {
	if p.N == 0 {
		return "none yet"
	}
	return fmt.Sprintf("%s of %s (%s–%s)", outcomes.Percent(p.P), count(int64(p.N)), outcomes.Percent(p.Lo), outcomes.Percent(p.Hi))
}

// diffCell writes a difference with its interval: "+26.8 (+20.6 to +32.9)".
func diffCell(m outcomes.Measure) string {
	if !m.Available || m.Treated.N == 0 || m.Control.N == 0 {
		return "-"
	}
	pts := func(d float64) string { return strings.TrimSuffix(outcomes.Points(d), " points") }
	return fmt.Sprintf("%s (%s to %s)", pts(m.Diff.D), pts(m.Diff.Lo), pts(m.Diff.Hi))
}

// demoOutcomesDays is how long before today `goodturn demo --outcomes`
// runs the rules, so that their outcomes have had time to happen.
const demoOutcomesDays = 120

// demoControl is the control share, in basis points, the demo gives a rule
// that declares none: a quarter, so that a demo of a few thousand customers
// has control groups large enough to tell something.
const demoControl = 2500

// demoOutcomesClock keeps a control group for every rule that declares
// none and returns the clock of a run demoOutcomesDays before today.
func demoOutcomesClock(sets []*rules.Ruleset, today func() time.Time) func() time.Time {
	withDemoControl(sets)
	then := today().AddDate(0, 0, -demoOutcomesDays)
	return func() time.Time { return then }
}

// withDemoControl gives every rule that declares no control share the
// demo's.
func withDemoControl(sets []*rules.Ruleset) {
	for _, rs := range sets {
		for _, r := range rs.Rules {
			if r.Control == 0 {
				r.Control = demoControl
			}
		}
	}
}

// demoOutcomes approves every pending batch as the demo and writes what the
// customers did up to today, with sample.DemoEffect planted.
func demoOutcomes(ctx context.Context, env *Env, db, bdb *database.DB, seed uint64, today time.Time) error {
	st, err := approveAndPlant(ctx, db, bdb, seed, today)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "The demo approved every batch as of %d days ago and wrote what customers did since: %s plan changes, %s departures, %s monthly bills.\n\n",
		demoOutcomesDays, count(int64(st.PlanChanges)), count(int64(st.Departures)), count(int64(st.Bills)))
	return nil
}

// approveAndPlant approves every pending batch as the demo and writes what
// the customers of the approved and control proposals did up to until,
// with sample.DemoEffect planted.
func approveAndPlant(ctx context.Context, db, bdb *database.DB, seed uint64, until time.Time) (sample.OutcomeStats, error) {
	bs, err := reviewdb.ListBatches(ctx, db, reviewdb.BatchFilter{})
	if err != nil {
		return sample.OutcomeStats{}, err
	}
	for _, b := range bs {
		if _, err := reviewdb.DecidePending(ctx, db, reviewdb.Selection{RunID: b.RunID, RuleID: b.RuleID}, store.ProposalApproved, "demo", until); err != nil {
			return sample.OutcomeStats{}, err
		}
	}
	units, err := store.OutcomeUnits(ctx, db, "")
	if err != nil {
		return sample.OutcomeStats{}, err
	}
	return sample.GenerateOutcomes(ctx, bdb, outcomes.Contacts(units), sample.DemoEffect, seed, until)
}
