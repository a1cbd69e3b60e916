package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
)

// runsLimit is how many runs `goodturn runs` lists by default.
const runsLimit = 20

// runsList lists recent runs, newest first. Like every runs command it only
// reads: it neither creates nor migrates a database.
func runsList(ctx context.Context, x *call) error {
	ruleset := x.Flags.String("ruleset", "", "list only this ruleset's runs")
	limit := intIn(x.Flags, "limit", runsLimit, 0, math.MaxInt, "list at most this many runs, newest first; 0 lists all")
	asJSON := x.Flags.Bool("json", false, "write the runs as JSON")
	if _, err := x.Parse(); err != nil {
		return err
	}
	db, err := x.DB(ctx)
	if err != nil {
		return err
	}
	runs, err := store.ListRuns(ctx, db, store.RunFilter{Ruleset: *ruleset, Limit: *limit})
	if err != nil {
		return err
	}
	if err := markAbandoned(ctx, db, runs); err != nil {
		return err
	}
	if *asJSON {
		return writeRunsJSON(ctx, x.Stdout, db, runs)
	}
	if len(runs) == 0 {
		if *ruleset != "" {
			fmt.Fprintf(x.Stdout, "No runs of ruleset %s in %s.\n", *ruleset, db.DSN)
		} else {
			fmt.Fprintf(x.Stdout, "No runs in %s.\n", db.DSN)
		}
		return nil
	}
	printRuns(x.Stdout, runs)
	return nil
}

// runsShow shows one run's per-rule health.
func runsShow(ctx context.Context, x *call) error {
	maxShare := percent(1)
	x.Flags.Var(&maxShare, "max-error-share", "a rule is UNHEALTHY when it failed for more than this percentage of the customers")
	asJSON := x.Flags.Bool("json", false, "write the run as JSON")
	positional, err := x.Parse()
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(positional[0], 10, 64)
	if err != nil || id <= 0 {
		return fmt.Errorf("%w: run ID %q: want a positive whole number", errUsage, positional[0])
	}
	db, err := x.DB(ctx)
	if err != nil {
		return err
	}
	if !*asJSON {
		return showRun(ctx, x.Stdout, db, id, float64(maxShare))
	}
	r, err := getRun(ctx, db, id)
	if err != nil {
		return err
	}
	held, err := store.Held(ctx, db, id)
	if err != nil {
		return err
	}
	return writeJSON(x.Stdout, toJSONRun(*r, held))
}

// getRun reads one run, shown as abandoned when its process is gone.
func getRun(ctx context.Context, db *database.DB, id int64) (*store.Run, error) {
	r, err := store.GetRun(ctx, db, id)
	if err != nil {
		return nil, err
	}
	runs := []store.Run{*r}
	if err := markAbandoned(ctx, db, runs); err != nil {
		return nil, err
	}
	r.Status = runs[0].Status
	return r, nil
}

// statusAbandoned is what `goodturn runs` shows as the status of a run
// still recorded as running whose process is gone (store.DeadRuns). It
// writes nothing: the next run of the ruleset, or `goodturn serve`, marks
// such a run failed and withdraws its proposals.
const statusAbandoned = "abandoned"

// markAbandoned shows the runs whose process is gone as abandoned.
func markAbandoned(ctx context.Context, db *database.DB, runs []store.Run) error {
	var running []string
	for _, r := range runs {
		if r.Status == store.RunRunning {
			running = append(running, r.Ruleset)
		}
	}
	if len(running) == 0 {
		return nil
	}
	dead, err := store.DeadRuns(ctx, db, running, time.Now(), store.StaleAfter)
	if err != nil {
		return err
	}
	for _, d := range dead {
		for i := range runs {
			if runs[i].ID == d.ID {
				runs[i].Status = statusAbandoned
			}
		}
	}
	return nil
}

// printRuns lists runs one per line, with the proposals of each rule.
func printRuns(w io.Writer, runs []store.Run) {
	rows := [][]string{{"id", "started", "ruleset", "status", "customers", "proposals", "errors", "duration", "proposals by rule"}}
	for _, r := range runs {
		rows = append(rows, []string{strconv.FormatInt(r.ID, 10), r.StartedAt.Local().Format("2006-01-02 15:04"), r.Ruleset, r.Status,
			count(r.Customers), count(r.Proposals), count(r.Errors), runDuration(r), proposalsByRule(r.Rules)})
	}
	printTable(w, leftLast(rows), 4)
}

// leftLast pads the last column of a table to one width: printTable aligns
// the columns after its text columns to the right, and a last column of
// text reads better aligned to the left (printTable trims the padding).
func leftLast(rows [][]string) [][]string {
	last := len(rows[0]) - 1
	width := 0
	for _, row := range rows {
		width = max(width, utf8.RuneCountInString(row[last]))
	}
	for _, row := range rows {
		row[last] += strings.Repeat(" ", width-utf8.RuneCountInString(row[last]))
	}
	return rows
}

// runDuration is how long a run took, or "running" (or "abandoned").
func runDuration(r store.Run) string {
	if r.FinishedAt.IsZero() {
		if r.Status == statusAbandoned {
			return statusAbandoned
		}
		return "running"
	}
	return r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond).String()
}

// proposalsByRule lists the rules that proposed anything, most first:
// "cheaper-plan 565, late-fee-waiver 62".
func proposalsByRule(rules []store.RunRule) string {
	var rs []store.RunRule
	for _, rr := range rules {
		if rr.Proposals > 0 {
			rs = append(rs, rr)
		}
	}
	if len(rs) == 0 {
		return "none"
	}
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Proposals > rs[j].Proposals })
	parts := make([]string, len(rs))
	for i, rr := range rs {
		parts[i] = rr.RuleID + " " + count(rr.Proposals)
	}
	return strings.Join(parts, ", ")
}

// showRun prints one run and the health of each of its rules.
func showRun(ctx context.Context, w io.Writer, db *database.DB, id int64, maxShare float64) error {
	r, err := getRun(ctx, db, id)
	if err != nil {
		return err
	}
	withdrawn, reason, err := store.WithdrawnProposals(ctx, db, r.ID)
	if err != nil {
		return err
	}
	currency, err := runCurrency(ctx, db, r)
	if err != nil {
		return err
	}
	held, err := store.Held(ctx, db, r.ID)
	if err != nil {
		return err
	}
	kind := "Run"
	if r.DryRun {
		kind = "Dry run"
	}
	fmt.Fprintf(w, "%s %d of ruleset %s: %s customers, %s proposals, %s errors (%s).\n",
		kind, r.ID, r.Ruleset, count(r.Customers), count(r.Proposals), count(r.Errors), r.Status)
	finished := "still running"
	if !r.FinishedAt.IsZero() {
		finished = "finished " + r.FinishedAt.Local().Format("2006-01-02 15:04:05") + ", took " + runDuration(*r)
	}
	fmt.Fprintf(w, "As of %s; started %s, %s.\n", r.AsOf.Format(time.DateOnly), r.StartedAt.Local().Format("2006-01-02 15:04:05"), finished)
	if r.Error != "" {
		fmt.Fprintf(w, "The run failed: %s\n", r.Error)
	}
	if r.Status == statusAbandoned {
		since := "it started"
		if !r.HeartbeatAt.IsZero() {
			since = r.HeartbeatAt.Local().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(w, "The run is abandoned: no heartbeat since %s and its process is gone. The next run of %s, or `goodturn serve`, will mark it failed and withdraw its proposals.\n",
			since, r.Ruleset)
	}
	if len(withdrawn) > 0 {
		fmt.Fprintf(w, "%s proposals withdrawn: %s\n", count(int64(len(withdrawn))), reason)
	}
	printRefusals(w, *r)
	if len(r.Rules) == 0 {
		fmt.Fprintln(w, "No rule results recorded.")
		return nil
	}
	rows := [][]string{{"rule", "kind", "matched", "proposals", "yearly value", "held back", "errors", "error share", "health"}}
	unhealthy := 0
	for _, rr := range r.Rules {
		share := 0.0
		if r.Customers > 0 {
			share = 100 * float64(rr.Errors) / float64(r.Customers)
		}
		health := "ok"
		if share > maxShare {
			health = "UNHEALTHY"
			unhealthy++
		}
		rows = append(rows, []string{rr.RuleID, rr.Kind, count(rr.Matched), count(rr.Proposals), formatMoney(rr.Value, currency),
			count(rr.Skipped), count(rr.Errors), formatShare(share), health})
	}
	fmt.Fprintln(w)
	printTable(w, leftLast(rows), 2)
	fmt.Fprintf(w, "\n%d of %d rules unhealthy (failed for more than %s of the customers).\n",
		unhealthy, len(r.Rules), strconv.FormatFloat(maxShare, 'f', -1, 64)+"%")
	if len(held) > 0 {
		fmt.Fprintln(w, "\nMatches held back:")
		printHeld(w, r.Rules, held)
	}
	printControl(w, r.Rules)
	var failing bool
	for _, rr := range r.Rules {
		if len(rr.ErrorSamples) == 0 {
			continue
		}
		if !failing {
			fmt.Fprintln(w, "\nCustomers the rules failed on:")
			failing = true
		}
		for _, s := range rr.ErrorSamples {
			fmt.Fprintf(w, "  rule %q failed for customer %d: %s\n", rr.RuleID, s.CustomerID, s.Error)
		}
		if more := rr.Errors - int64(len(rr.ErrorSamples)); more > 0 {
			noun := "customers"
			if more == 1 {
				noun = "customer"
			}
			fmt.Fprintf(w, "  … and %s more %s for rule %q\n", count(more), noun, rr.RuleID)
		}
	}
	return nil
}

// runCurrency returns the currency of a run's proposals or, if it made
// none, of its ruleset's; "" when there are none at all.
func runCurrency(ctx context.Context, db *database.DB, r *store.Run) (string, error) {
	for _, f := range []store.ProposalFilter{{RunID: r.ID, Limit: 1}, {Ruleset: r.Ruleset, Limit: 1}} {
		ps, err := store.ListProposals(ctx, db, f)
		if err != nil {
			return "", err
		}
		if len(ps) > 0 {
			return ps[0].Currency, nil
		}
	}
	return "", nil
}

// formatShare writes a percentage with two decimals: "0.33%".
func formatShare(p float64) string {
	return strconv.FormatFloat(p, 'f', 2, 64) + "%"
}

// percent is a flag holding a percentage, written "1", "1%" or "0.5%".
type percent float64

func (p *percent) String() string { return strconv.FormatFloat(float64(*p), 'f', -1, 64) + "%" }

func (p *percent) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || v < 0 || v > 100 {
		return errors.New("want a percentage from 0 to 100, such as 1 or 0.5%")
	}
	*p = percent(v)
	return nil
}
