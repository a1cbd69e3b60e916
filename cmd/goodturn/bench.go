package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/sample"
	"github.com/goodturn/goodturn/engine/store"
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
	withOutcomes := fs.Bool("outcomes", false, "after timing, run again with a 25% control group per rule, approve everything and write what customers did in the 120 days after (see goodturn outcomes)")
	positional, err := x.Parse()
	if err != nil {
		return err
	}
	if err := noArgs(positional); err != nil {
		return err
	}
	if c.billingDB != "" && c.billingDB != c.db {
		return fmt.Errorf("%w: bench uses one database for everything; drop --billing-db", errUsage)
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
	mark := fmt.Sprintf("%d %d", *customers, *seed)

	// 1. The input: generated with COPY (PostgreSQL) or batched inserts.
	var genTime time.Duration
	prev, err := store.Meta(ctx, db, benchKey)
	if err != nil {
		return err
	}
	if *reuse && prev == mark {
		fmt.Fprintf(w, "Reusing the %s sample customers already in %s.\n", count(int64(*customers)), db.DSN)
	} else {
		if err := prepareBench(ctx, db); err != nil {
			return err
		}
		fmt.Fprintf(w, "Generating %s sample customers in %s…\n", count(int64(*customers)), db.DSN)
		start := time.Now()
		if _, err := sample.Generate(ctx, db, sample.Options{Customers: *customers, Seed: *seed, Now: now(), Months: c.months}); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		genTime = time.Since(start)
		if err := store.SetMeta(ctx, db, benchKey, mark); err != nil {
			return err
		}
	}
	if err := store.Reset(ctx, db); err != nil {
		return err
	}
	if db.IsPostgres() {
		if _, err := db.ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
			return fmt.Errorf("vacuum: %w", err)
		}
	}
	rows, err := inputRows(ctx, db)
	if err != nil {
		return err
	}

	// 2. The yardstick: the database reading the same rows out, in order.
	copyTime, copyHow, err := timeCopyOut(ctx, db, c.db)
	if err != nil {
		return err
	}

	// 3. The run, in a process of its own so that its peak memory is its own.
	fmt.Fprintf(w, "Running every ruleset over them…\n")
	wall, rssKB, out, err := timeRun(ctx, c, now(), *workers)
	if err != nil {
		return err
	}
	var proposals, read int64
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(proposals), 0), COALESCE(MIN(customers), 0) FROM runs`).Scan(&proposals, &read); err != nil {
		return err
	}
	if read != int64(*customers) {
		return fmt.Errorf("the run read %d customers, want %d:\n%s", read, *customers, out.String())
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
		{"copy out (" + copyHow + ")", copyTime.Round(time.Millisecond).String()},
		{"run, end to end", wall.Round(time.Millisecond).String()},
		{"run / copy out", fmt.Sprintf("%.2f×", wall.Seconds()/copyTime.Seconds())},
		{"customers/s", count(int64(float64(*customers) / wall.Seconds()))},
		{"rule evaluations/s", count(int64(float64(evaluations) / wall.Seconds()))},
		{"proposals written", count(proposals)},
		{"peak RSS of the run", fmt.Sprintf("%d MB", rssKB/1024)},
	}, 1)
	if *withOutcomes {
		return benchOutcomes(ctx, env, c, db, sets, now(), *seed, mark)
	}
	return nil
}

// timeRun runs `goodturn run` over the bench's database in a process of
// its own and returns its wall time, its peak memory in kB and its output.
func timeRun(ctx context.Context, c *config, now time.Time, workers int) (time.Duration, int64, bytes.Buffer, error) {
	var out bytes.Buffer
	exe, err := os.Executable()
	if err != nil {
		return 0, 0, out, err
	}
	// The address goes through the environment, not the arguments that
	// ps shows to every user.
	runArgs := []string{"run", "--rulesets", c.rulesets, "--months", strconv.Itoa(c.months),
		"--now", now.UTC().Format(time.RFC3339), "--workers", strconv.Itoa(workers)}
	cmd := exec.CommandContext(ctx, exe, runArgs...)
	cmd.Env = append(os.Environ(), "GOODTURN_DB="+c.db, "GOODTURN_BILLING_DB=")
	cmd.Stdout, cmd.Stderr = &out, &out
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

// timeCopyOut times the database writing out the run's input rows in
// customer order, one relation after another: PostgreSQL's COPY … TO STDOUT
// through psql, or, for SQLite, an ordered SELECT read through the driver.
func timeCopyOut(ctx context.Context, db *database.DB, dsn string) (time.Duration, string, error) {
	if !db.IsPostgres() {
		start := time.Now()
		for _, in := range benchInputs {
			if err := drain(ctx, db, "SELECT * FROM "+in.table+" ORDER BY "+in.order); err != nil {
				return 0, "", err
			}
		}
		return time.Since(start), "ordered SELECT", nil
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
		q := fmt.Sprintf("COPY (SELECT * FROM %s ORDER BY %s) TO STDOUT", in.table, in.order)
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
