package main

import (
	"bytes"
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/sample"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/rules/rulefmt"
)

// benchKey marks, in the meta table, a database the benchmark filled, with
// the number of customers and the seed: "1000000 1".
const benchKey = "bench"

// benchInputs are the billing relations a run reads per customer, in the
// order a run wants them: what PostgreSQL's own COPY is timed on.
var benchInputs = []struct{ table, order string }{
	{"customers", "id"},
	{"subscriptions", "customer_id"},
	{"addons", "customer_id, addon_id"},
	{"usage", "customer_id, month DESC, meter"},
	{"charges", "customer_id, charged_on DESC, id DESC"},
	{"events", "customer_id, occurred_at DESC, id DESC"},
}

func runBench(ctx context.Context, x *call) error {
	env, c, fs := x.Env, &x.config, x.Flags
	customers := intIn(fs, "customers", 1_000_000, 1, math.MaxInt, "how many sample customers to generate")
	seed := fs.Uint64("seed", 1, "the seed of the sample data")
	reuse := fs.Bool("reuse", false, "keep the data of an earlier bench with the same customers and seed instead of generating it again")
	workers := intIn(fs, "workers", 0, 0, maxWorkers, "evaluating goroutines of the run; the number of CPUs by default")
	rounds := intIn(fs, "rounds", 3, 1, 100, "rounds of the interleaved measurements; medians and spreads are over them")
	withOutcomes := fs.Bool("outcomes", false, "after timing, run again with a 25% control group per rule, approve everything and write what customers did in the 120 days after (see goodturn outcomes)")
	_, err := x.Parse()
	if err != nil {
		return err
	}
	if c.billingDB != "" && c.billingDB != c.db {
		return fmt.Errorf("%w: bench uses one database for everything; unset GOODTURN_BILLING_DB", errUsage)
	}
	now := x.Now
	sets, err := c.loadRulesets(nil)
	if err != nil {
		return fmt.Errorf("load rulesets: %w", err)
	}
	db, err := x.DB(ctx)
	if err != nil {
		return err
	}
	w := env.Stdout
	genTime, err := benchInput(ctx, w, db, *customers, *seed, *reuse, now(), c.months)
	if err != nil {
		return err
	}
	rows, err := inputRows(ctx, db)
	if err != nil {
		return err
	}
	b := &bench{c: c, db: db, now: now(), workers: *workers}
	fmt.Fprintf(w, "Measuring, %d rounds of: ordered and unordered read-out, the SQL peer, a dry run and a run of every ruleset; then the next night's run…\n", *rounds)
	for i := 0; i < *rounds; i++ {
		if err := b.round(ctx); err != nil {
			return err
		}
	}
	var proposals, read int64
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(proposals), 0), COALESCE(MIN(customers), 0) FROM runs`).Scan(&proposals, &read); err != nil {
		return err
	}
	if read != int64(*customers) {
		return fmt.Errorf("the run read %d customers, want %d:\n%s", read, *customers, b.out.String())
	}
	// The next night, with this night's proposals still pending: each of
	// them holds its customer back, and the run holds them all. It runs
	// before checkPeer, which reads every match into this process.
	if b.nextWall, b.nextRSSKB, _, err = timeRun(ctx, b.c, b.now.AddDate(0, 0, 1), b.workers); err != nil {
		return err
	}
	agree, err := b.checkPeer(ctx)
	if err != nil {
		return err
	}
	evaluations := int64(0)
	for _, rs := range sets {
		evaluations += int64(len(rs.Enabled())) * int64(*customers)
	}
	fmt.Fprintln(w)
	printTable(w, [][]string{
		{"database", string(db.Dialect)},
		{"customers", count(int64(*customers))},
		{"input rows", count(rows)},
		{"rulesets / rules", fmt.Sprintf("%d / %d", len(sets), evaluations/int64(max(*customers, 1)))},
		{"generate", durationOrReused(genTime)},
		{"rounds", strconv.Itoa(*rounds)},
	}, 1)
	fmt.Fprintln(w)
	b.print(w, int64(*customers), evaluations, proposals, agree)
	if *withOutcomes {
		return benchOutcomes(ctx, env, c, db, sets, now(), *seed, fmt.Sprintf("%d %d", *customers, *seed))
	}
	return nil
}

// benchInput generates the sample customers, or keeps those of an earlier
// bench with the same number and seed when reuse is set, and returns how
// long generating took (0 when reused).
func benchInput(ctx context.Context, w io.Writer, db *database.DB, customers int, seed uint64, reuse bool, now time.Time, months int) (time.Duration, error) {
	mark := fmt.Sprintf("%d %d", customers, seed)
	prev, err := store.Meta(ctx, db, benchKey)
	if err != nil {
		return 0, err
	}
	var genTime time.Duration
	if reuse && prev == mark {
		fmt.Fprintf(w, "Reusing the %s sample customers already in %s.\n", count(int64(customers)), db.DSN)
	} else {
		if err := prepareBench(ctx, db); err != nil {
			return 0, err
		}
		fmt.Fprintf(w, "Generating %s sample customers in %s…\n", count(int64(customers)), db.DSN)
		start := time.Now()
		if _, err := sample.Generate(ctx, db, sample.Options{Customers: customers, Seed: seed, Now: now, Months: months}); err != nil {
			return 0, fmt.Errorf("generate: %w", err)
		}
		genTime = time.Since(start)
		if err := store.SetMeta(ctx, db, benchKey, mark); err != nil {
			return 0, err
		}
	}
	if err := store.Reset(ctx, db); err != nil {
		return 0, err
	}
	if db.IsPostgres() {
		if _, err := db.ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
			return 0, fmt.Errorf("vacuum: %w", err)
		}
	}
	return genTime, nil
}

// timeRun runs `goodturn run` over the bench's database in a process of
// its own, with the given extra arguments and without the soft memory
// limit a run sets itself, and returns its wall time, its peak memory in
// kB and its output.
func timeRun(ctx context.Context, c *config, now time.Time, workers int, extra ...string) (time.Duration, int64, bytes.Buffer, error) {
	var out bytes.Buffer
	exe, err := os.Executable()
	if err != nil {
		return 0, 0, out, err
	}
	// The address goes through the environment, not the arguments that
	// ps shows to every user.
	runArgs := append([]string{"run", "--rulesets", c.rulesets, "--months", strconv.Itoa(c.months),
		"--cap", strconv.Itoa(c.cap), "--cap-window", rulefmt.FormatDuration(c.capWindow), "--now", now.UTC().Format(time.RFC3339), "--workers", strconv.Itoa(workers)}, extra...)
	cmd := exec.CommandContext(ctx, exe, runArgs...)
	cmd.Env = append(os.Environ(), "GOODTURN_DB="+c.db, "GOODTURN_BILLING_DB=", "GOMEMLIMIT=off")
	cmd.Stdout, cmd.Stderr = &out, &out
	resetPeakRSS()
	start := time.Now()
	runErr := cmd.Run()
	wall := time.Since(start)
	if runErr != nil {
		return 0, 0, out, fmt.Errorf("run: %v\n%s", runErr, out.String())
	}
	var rssKB int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rssKB = ru.Maxrss
	}
	return wall, rssKB, out, nil
}

// resetPeakRSS resets this process's peak resident set size to what it
// holds now (Linux; elsewhere it does nothing). A child started by Go
// shares this process's memory until it executes, and Linux counts this
// process's peak in the child's (ru_maxrss): without the reset, a run
// started after the bench has held much would report the bench's peak.
func resetPeakRSS() {
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

func durationOrReused(d time.Duration) string {
	if d == 0 {
		return "reused"
	}
	return d.Round(time.Millisecond).String()
}

// prepareBench empties a database for the benchmark's data. Like the demo,
// it refuses billing data that neither the demo nor the bench made.
func prepareBench(ctx context.Context, db *database.DB) error {
	benchMark, err := store.Meta(ctx, db, benchKey)
	if err != nil {
		return err
	}
	demoMark, err := store.Meta(ctx, db, demoKey)
	if err != nil {
		return err
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM customers`).Scan(&n); err == nil && n > 0 && benchMark == "" && demoMark == "" {
		return fmt.Errorf("%s already holds billing data that goodturn did not create; give the bench another database with --db", db.DSN)
	}
	if err := store.Reset(ctx, db); err != nil {
		return err
	}
	if err := billing.DropSchema(ctx, db); err != nil {
		return err
	}
	return billing.CreateSchema(ctx, db)
}

func inputRows(ctx context.Context, db *database.DB) (int64, error) {
	var total int64
	for _, in := range benchInputs {
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+in.table).Scan(&n); err != nil {
			return 0, fmt.Errorf("count %s: %w", in.table, err)
		}
		total += n
	}
	return total, nil
}

// timeCopyOut times the database writing out the run's input rows, in
// customer order or in no order, one relation after another: PostgreSQL's
// COPY … TO STDOUT through psql, or, for SQLite, a SELECT read through the
// driver.
func timeCopyOut(ctx context.Context, db *database.DB, dsn string, ordered bool) (time.Duration, string, error) {
	query := func(table, order string) string {
		if ordered {
			return "SELECT * FROM " + table + " ORDER BY " + order
		}
		return "SELECT * FROM " + table
	}
	if !db.IsPostgres() {
		start := time.Now()
		for _, in := range benchInputs {
			if err := drain(ctx, db, query(in.table, in.order)); err != nil {
				return 0, "", err
			}
		}
		return time.Since(start), "SELECT", nil
	}
	psql, err := exec.LookPath("psql")
	if err != nil {
		return 0, "", errors.New("bench on PostgreSQL needs psql on the PATH to time COPY … TO STDOUT")
	}
	conn, pgOptions, err := psqlAddress(dsn)
	if err != nil {
		return 0, "", err
	}
	start := time.Now()
	for _, in := range benchInputs {
		q := fmt.Sprintf("COPY (%s) TO STDOUT", query(in.table, in.order))
		cmd := exec.CommandContext(ctx, psql, "-X", "-q", "-d", conn, "-c", q)
		cmd.Env = append(os.Environ(), "PGOPTIONS="+pgOptions)
		cmd.Stdout = io.Discard
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return 0, "", fmt.Errorf("psql %s: %v: %s", in.table, err, stderr.String())
		}
	}
	return time.Since(start), "COPY TO STDOUT", nil
}

// psqlAddress turns a lib/pq URL into one psql accepts, moving lib/pq's
// run-time parameters (search_path) into PGOPTIONS.
func psqlAddress(dsn string) (string, string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", "", database.RedactError(err, dsn)
	}
	q := u.Query()
	var opts []string
	if sp := q.Get("search_path"); sp != "" {
		opts = append(opts, "-c search_path="+sp)
		q.Del("search_path")
	}
	u.RawQuery = q.Encode()
	return u.String(), strings.Join(opts, " "), nil
}

func drain(ctx context.Context, db *database.DB, q string) error {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	for i := range vals {
		vals[i] = new(sql.RawBytes)
	}
	for rows.Next() {
		if err := rows.Scan(vals...); err != nil {
			return err
		}
	}
	return rows.Err()
}

// peerSQL is the bench's peer: cheaper-plan and late-fee-waiver written by
// hand in SQL (PostgreSQL).
//
//go:embed bench_peer.sql
var peerSQL string

// peerRules are the rules of the mobile ruleset the peer computes.
var peerRules = map[string]bool{"cheaper-plan": true, "late-fee-waiver": true}

// bench holds the measurements of a bench's rounds.
type bench struct {
	c       *config
	db      *database.DB
	now     time.Time
	workers int
	copyHow string
	// The wall times of each round, in the order measured.
	ordered, unordered, peer, dry, real []time.Duration
	// rssKB is the largest peak memory of any run.
	rssKB int64
	// nextWall and nextRSSKB are the wall time and peak memory of a run
	// the next night, with the last round's proposals pending.
	nextWall  time.Duration
	nextRSSKB int64
	// peerRows are what the peer found in the last round.
	peerRows map[peerRow]bool
	out      bytes.Buffer
}

// peerRow is one match of the peer, or of a run's rule the peer computes:
// the plan offered (cheaper-plan) or the charge to waive
// (late-fee-waiver) as offer.
type peerRow struct {
	rule     string
	customer int64
	offer    string
	value    int64
}

// round measures, one after another, the ordered and the unordered
// read-out, the peer (PostgreSQL), a dry run and a run, from no proposals.
func (b *bench) round(ctx context.Context) error {
	if err := store.Reset(ctx, b.db); err != nil {
		return err
	}
	if b.db.IsPostgres() {
		// The last round's proposals, deleted, would otherwise be
		// vacuumed by autovacuum in the middle of this round's timings.
		if _, err := b.db.ExecContext(ctx, `VACUUM outbox, approvals, proposals, withdrawn_proposals, run_rules, run_held, runs`); err != nil {
			return fmt.Errorf("vacuum: %w", err)
		}
	}
	d, how, err := timeCopyOut(ctx, b.db, b.c.db, true)
	if err != nil {
		return err
	}
	b.ordered, b.copyHow = append(b.ordered, d), how
	if d, _, err = timeCopyOut(ctx, b.db, b.c.db, false); err != nil {
		return err
	}
	b.unordered = append(b.unordered, d)
	if b.db.IsPostgres() {
		if d, b.peerRows, err = b.timePeer(ctx); err != nil {
			return err
		}
		b.peer = append(b.peer, d)
	}
	for _, dry := range []bool{true, false} {
		var extra []string
		if dry {
			extra = []string{"--dry-run"}
		}
		wall, rss, out, err := timeRun(ctx, b.c, b.now, b.workers, extra...)
		if err != nil {
			return err
		}
		b.rssKB, b.out = max(b.rssKB, rss), out
		if dry {
			b.dry = append(b.dry, wall)
		} else {
			b.real = append(b.real, wall)
		}
	}
	return nil
}

// timePeer runs the peer over the window a run at the bench's clock reads
// and returns its wall time and what it found.
func (b *bench) timePeer(ctx context.Context) (time.Duration, map[peerRow]bool, error) {
	w := (&billing.Reader{Months: b.c.months}).Window(b.now)
	day := func(t time.Time) string { return t.Format(time.DateOnly) }
	start := time.Now()
	rows, err := b.db.QueryContext(ctx, peerSQL, day(b.now.UTC()), day(w.UsageFrom), day(w.UsageTo), day(w.HistoryFrom))
	if err != nil {
		return 0, nil, fmt.Errorf("the SQL peer: %w", err)
	}
	defer rows.Close()
	found := map[peerRow]bool{}
	for rows.Next() {
		var r peerRow
		if err := rows.Scan(&r.rule, &r.customer, &r.offer, &r.value); err != nil {
			return 0, nil, fmt.Errorf("the SQL peer: %w", err)
		}
		found[r] = true
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("the SQL peer: %w", err)
	}
	return time.Since(start), found, nil
}

// checkPeer runs a dry run that lists every match and checks that its
// matches of the peer's rules are the peer's: the same customers, plans or
// charges, and values. It returns what to print; a difference is an error.
func (b *bench) checkPeer(ctx context.Context) (string, error) {
	if !b.db.IsPostgres() {
		return "no peer on SQLite", nil
	}
	dir, err := os.MkdirTemp("", "goodturn-bench")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "matches.json")
	if _, _, _, err := timeRun(ctx, b.c, b.now, b.workers, "--dry-run", "--output", path); err != nil {
		return "", err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var matches []matchRow
	if err := json.Unmarshal(data, &matches); err != nil {
		return "", fmt.Errorf("read the run's matches: %w", err)
	}
	ran := map[peerRow]bool{}
	for _, m := range matches {
		if m.Ruleset != "mobile" || !peerRules[m.Rule] {
			continue
		}
		var offer struct {
			PlanID   string      `json:"plan_id"`
			ChargeID json.Number `json:"charge_id"`
		}
		if err := json.Unmarshal(m.Offer, &offer); err != nil {
			return "", fmt.Errorf("read the run's offer of %s to customer %d: %w", m.Rule, m.Customer, err)
		}
		ran[peerRow{m.Rule, m.Customer, offer.PlanID + offer.ChargeID.String(), m.Value}] = true
	}
	var diffs []string
	for r := range b.peerRows {
		if !ran[r] {
			diffs = append(diffs, fmt.Sprintf("only the SQL peer: %+v", r))
		}
	}
	for r := range ran {
		if !b.peerRows[r] {
			diffs = append(diffs, fmt.Sprintf("only the run: %+v", r))
		}
	}
	if len(diffs) > 0 || len(ran) == 0 {
		sort.Strings(diffs)
		return "", fmt.Errorf("the run and the SQL peer disagree on %d of %d matches: %s", len(diffs), len(ran), strings.Join(diffs[:min(len(diffs), 5)], "; "))
	}
	return fmt.Sprintf("yes: the same %s matches", count(int64(len(ran)))), nil
}

// print writes the medians of the rounds with their spread, and the ratios
// of the run to the read-outs and of the peer to the run, round by round.
func (b *bench) print(w io.Writer, customers, evaluations, proposals int64, agree string) {
	realMedian := median(b.real)
	rows := [][]string{
		{"ordered read-out (" + b.copyHow + ")", spread(b.ordered)},
		{"unordered read-out", spread(b.unordered)},
		{"dry run", spread(b.dry)},
		{"run, end to end", spread(b.real)},
	}
	if len(b.peer) > 0 {
		rows = append(rows, []string{"SQL peer (cheaper-plan, late-fee-waiver)", spread(b.peer)})
	}
	rows = append(rows,
		[]string{"run / ordered read-out", ratios(b.real, b.ordered)},
		[]string{"run / unordered read-out", ratios(b.real, b.unordered)},
		[]string{"dry run / ordered read-out", ratios(b.dry, b.ordered)},
		[]string{"dry run / unordered read-out", ratios(b.dry, b.unordered)},
	)
	if len(b.peer) > 0 {
		rows = append(rows, []string{"SQL peer / run", ratios(b.peer, b.real)}, []string{"SQL peer / dry run", ratios(b.peer, b.dry)},
			[]string{"run agrees with the SQL peer", agree})
	}
	rows = append(rows,
		[]string{"customers/s (run)", count(int64(float64(customers) / realMedian.Seconds()))},
		[]string{"rule evaluations/s (run)", count(int64(float64(evaluations) / realMedian.Seconds()))},
		[]string{"proposals written", count(proposals)},
		[]string{"peak RSS of a run, no soft memory limit", fmt.Sprintf("%d MB", b.rssKB/1024)},
		[]string{"the next night's run, this night's proposals pending", b.nextWall.Round(time.Millisecond).String()},
		[]string{"… its peak RSS, no soft memory limit", fmt.Sprintf("%d MB", b.nextRSSKB/1024)},
	)
	fmt.Fprintln(w, "Medians over the rounds, [lowest – highest]:")
	printTable(w, rows, 1)
}

// median is the middle of ds, or the mean of the two middle values when
// there is an even number of them.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[n/2]
}

// spread is a median duration with the lowest and highest.
func spread(ds []time.Duration) string {
	lo, hi := slices.Min(ds), slices.Max(ds)
	return fmt.Sprintf("%s [%s – %s]", median(ds).Round(time.Millisecond), lo.Round(time.Millisecond), hi.Round(time.Millisecond))
}

// ratios is the median, lowest and highest of a[i]/b[i], round by round.
func ratios(a, b []time.Duration) string {
	rs := make([]float64, min(len(a), len(b)))
	for i := range rs {
		rs[i] = a[i].Seconds() / b[i].Seconds()
	}
	slices.Sort(rs)
	mid := rs[len(rs)/2]
	if len(rs)%2 == 0 {
		mid = (rs[len(rs)/2-1] + mid) / 2
	}
	return fmt.Sprintf("%.2f× [%.2f – %.2f]", mid, rs[0], rs[len(rs)-1])
}
