package engine_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"modernc.org/sqlite"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/policy"
	"github.com/goodturn/goodturn/engine/queue"
	"github.com/goodturn/goodturn/engine/sample"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/rules"
)

// clock is the fixed time of the tests' runs.
var clock = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)

// mustSetup opens a database, migrates it, fills it with n sample customers
// and returns an engine over it.
func mustSetup(tb testing.TB, db *database.DB, n int) *engine.Engine {
	tb.Helper()
	ctx := context.Background()
	dbtest.MustMigrate(tb, db)
	if err := billing.CreateSchema(ctx, db); err != nil {
		tb.Fatal(err)
	}
	if _, err := sample.Generate(ctx, db, sample.Options{Customers: n, Seed: 1, Now: clock}); err != nil {
		tb.Fatal(err)
	}
	return &engine.Engine{DB: db, Billing: &billing.Reader{DB: db}, Now: func() time.Time { return clock },
		Logger: slog.New(slog.DiscardHandler)}
}

func mustOpen(tb testing.TB, dsn string) *database.DB {
	tb.Helper()
	db, err := database.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func mustLoad(tb testing.TB, dir string) *rules.Ruleset {
	tb.Helper()
	rs, err := rules.Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return rs
}

// proposalKey is what must be identical between two runs: everything a
// proposal says, without ids and times.
type proposalKey struct {
	Rule     string
	Customer int64
	Kind     string
	Value    int64
	Currency string
	Offer    string
	Evidence string
}

func mustProposals(tb testing.TB, db *database.DB, runID int64) []proposalKey {
	tb.Helper()
	ps, err := store.ListProposals(context.Background(), db, store.ProposalFilter{RunID: runID})
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]proposalKey, len(ps))
	for i, p := range ps {
		out[i] = proposalKey{p.RuleID, p.CustomerID, p.Kind, p.Value, p.Currency, canonical(tb, p.Offer), canonical(tb, p.Evidence)}
	}
	return out
}

// canonical re-encodes JSON so that PostgreSQL's JSONB key order and
// spacing do not matter.
func canonical(tb testing.TB, raw []byte) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		tb.Fatalf("bad JSON %s: %v", raw, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestRunRecordsProposalsOfEveryShippedRule(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		db := mustOpen(t, dsn)
		eng := mustSetup(t, db, 1500)
		res, err := eng.Run(context.Background(), mustLoad(t, "../rulesets/mobile"), engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Customers != 1500 || res.Status != store.RunSucceeded {
			t.Fatalf("run read %d customers with status %s, want 1500 succeeded", res.Customers, res.Status)
		}
		got, err := store.GetRun(context.Background(), db, res.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Proposals != res.Proposals || got.Customers != 1500 || got.FinishedAt.IsZero() {
			t.Errorf("recorded run = %+v, want the result's totals", got)
		}
		for _, rr := range got.Rules {
			// Every rule finds customers; the contact policy may hold some
			// back (a rule outranked by a more valuable one, say).
			if rr.Matched == 0 || rr.Errors != 0 || rr.Proposals+rr.Skipped != rr.Matched || (rr.Proposals > 0) != (rr.Value > 0) {
				t.Errorf("rule %s: matched %d, %d proposals worth %d, %d held back, %d errors", rr.RuleID, rr.Matched, rr.Proposals, rr.Value, rr.Skipped, rr.Errors)
			}
			if rr.RuleVersion == "" {
				t.Errorf("rule %s: no version recorded", rr.RuleID)
			}
		}
		if ps := mustProposals(t, db, res.ID); int64(len(ps)) != res.Proposals {
			t.Errorf("%d proposals stored, run says %d", len(ps), res.Proposals)
		}
	})
}

func TestSQLiteAndPostgresProposeTheSame(t *testing.T) {
	ctx := context.Background()
	pg := mustOpen(t, dbtest.PostgresDSN(t)) // skips without PostgreSQL
	lite := mustOpen(t, dbtest.SQLiteDSN(t))
	rs := mustLoad(t, "../rulesets/mobile")
	var results [2][]proposalKey
	for i, db := range []*database.DB{lite, pg} {
		res, err := mustSetup(t, db, 1200).Run(ctx, rs, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		results[i] = mustProposals(t, db, res.ID)
	}
	if len(results[0]) == 0 {
		t.Fatal("no proposals at all")
	}
	if len(results[0]) != len(results[1]) {
		t.Fatalf("SQLite made %d proposals, PostgreSQL %d", len(results[0]), len(results[1]))
	}
	for i := range results[0] {
		if results[0][i] != results[1][i] {
			t.Fatalf("proposal %d differs:\nsqlite:   %+v\npostgres: %+v", i, results[0][i], results[1][i])
		}
	}
}

func TestSecondRunTheSameDayProposesNothing(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		eng := mustSetup(t, db, 800)
		rs := mustLoad(t, "../rulesets/mobile")
		first, err := eng.Run(ctx, rs, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if first.Proposals == 0 {
			t.Fatal("first run proposed nothing")
		}
		second, err := eng.Run(ctx, rs, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if second.Proposals != 0 {
			t.Errorf("second run made %d proposals, want 0", second.Proposals)
		}
		for i, rr := range second.Rules {
			if rr.Skipped != first.Rules[i].Matched {
				t.Errorf("rule %s: second run held back %d, want all %d matches", rr.RuleID, rr.Skipped, first.Rules[i].Matched)
			}
		}
		all, err := store.ListProposals(ctx, db, store.ProposalFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(all)) != first.Proposals {
			t.Errorf("%d proposals stored after two runs, want %d", len(all), first.Proposals)
		}
	})
}

func TestCooldownHoldsBackReviewedProposals(t *testing.T) {
	ctx := context.Background()
	db := dbtest.MustOpenSQLite(t)
	eng := mustSetup(t, db, 600)
	rs := mustLoad(t, "../rulesets/mobile")
	first, err := eng.Run(ctx, rs, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Marketing has reviewed everything: nothing is pending any more.
	if _, err := db.Exec(`UPDATE proposals SET status = 'approved'`); err != nil {
		t.Fatal(err)
	}
	cheaper := func(res *engine.Result) store.RunRule {
		for _, rr := range res.Rules {
			if rr.RuleID == "cheaper-plan" {
				return rr
			}
		}
		t.Fatal("no cheaper-plan rule in the run")
		return store.RunRule{}
	}
	tests := []struct {
		name     string
		day      time.Time
		wantHeld bool
	}{
		{"a day later, within the 90-day cooldown", clock.AddDate(0, 0, 1), true},
		{"89 days later, still within it", clock.AddDate(0, 0, 89), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng.Now = func() time.Time { return tt.day }
			res, err := eng.Run(ctx, rs, engine.Options{DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			rr := cheaper(res)
			if rr.Matched == 0 {
				t.Fatal("cheaper-plan matched nobody")
			}
			if tt.wantHeld && rr.Proposals != rr.Matched-rr.Skipped {
				t.Errorf("proposals %d, matched %d, held %d: counts do not add up", rr.Proposals, rr.Matched, rr.Skipped)
			}
			if n := res.Held["cheaper-plan"][policy.ReasonCooldown]; tt.wantHeld && n < cheaper(first).Proposals*9/10 {
				t.Errorf("cooldown held back %d of the %d customers proposed to %s ago", n, cheaper(first).Proposals, tt.day.Sub(clock))
			}
		})
	}
	// After the cooldown the same customers may be proposed to again.
	later := clock.AddDate(0, 0, 91)
	eng.Now = func() time.Time { return later }
	res, err := eng.Run(ctx, rs, engine.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Held["cheaper-plan"][policy.ReasonCooldown]; n != 0 {
		t.Errorf("91 days later %d customers are still held back by the 90-day cooldown", n)
	}
}

func TestARuleFailingForSomeCustomersDoesNotStopTheRun(t *testing.T) {
	ctx := context.Background()
	db := dbtest.MustOpenSQLite(t)
	eng := mustSetup(t, db, 500)
	// Customers 1..10 used no data last month, so 100000 / data_mb fails.
	if _, err := db.Exec(`UPDATE usage SET quantity = 0 WHERE customer_id <= 10 AND meter = 'data_mb'`); err != nil {
		t.Fatal(err)
	}
	res, err := eng.Run(ctx, mustLoad(t, "testdata/rulesets/flaky"), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rr := res.Rules[0]
	if rr.Errors < 10 {
		t.Errorf("%d errors, want at least 10", rr.Errors)
	}
	if rr.Proposals == 0 || res.Customers != 500 {
		t.Errorf("%d proposals over %d customers: the run should have gone on", rr.Proposals, res.Customers)
	}
	got, err := store.GetRun(ctx, db, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	samples := got.Rules[0].ErrorSamples
	if len(samples) != 5 || samples[0].CustomerID != 1 || samples[0].Error != "integer divide by zero" {
		t.Errorf("error samples = %+v, want the first 5 customers with the division error", samples)
	}
	// Failing on more than 1% of customers makes the rule unhealthy: its
	// proposals are kept but held back from review.
	if why := res.Unhealthy[rr.RuleID]; !strings.HasPrefix(why, "failed on 2.") || !strings.HasSuffix(why, "proposals are held back from review") {
		t.Errorf("unhealthy reason = %q", why)
	}
	held, err := store.ListProposals(ctx, db, store.ProposalFilter{RunID: res.ID, Status: store.ProposalHeld})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(held)) != rr.Proposals || res.Held[rr.RuleID][policy.ReasonUnhealthy] != rr.Proposals {
		t.Errorf("%d proposals held, %d recorded as unhealthy; want all %d", len(held), res.Held[rr.RuleID][policy.ReasonUnhealthy], rr.Proposals)
	}
	saved, err := store.Held(ctx, db, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if saved[rr.RuleID][policy.ReasonUnhealthy] != rr.Proposals {
		t.Errorf("recorded held reasons = %v", saved)
	}

	// With a looser limit the same failures leave the proposals pending.
	db2 := dbtest.MustOpenSQLite(t)
	eng2 := mustSetup(t, db2, 500)
	eng2.MaxErrorShare = 0.05
	if _, err := db2.Exec(`UPDATE usage SET quantity = 0 WHERE customer_id <= 10 AND meter = 'data_mb'`); err != nil {
		t.Fatal(err)
	}
	res2, err := eng2.Run(ctx, mustLoad(t, "testdata/rulesets/flaky"), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res2.Unhealthy) != 0 {
		t.Errorf("unhealthy under a 5%% limit: %v", res2.Unhealthy)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	ctx := context.Background()
	db := dbtest.MustOpenSQLite(t)
	eng := mustSetup(t, db, 400)
	res, err := eng.Run(ctx, mustLoad(t, "../rulesets/mobile"), engine.Options{DryRun: true, Samples: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Proposals == 0 || len(res.Samples["cheaper-plan"]) != 2 {
		t.Errorf("dry run found %d proposals and %d samples, want some and 2", res.Proposals, len(res.Samples["cheaper-plan"]))
	}
	var runs, proposals int
	db.QueryRow(`SELECT count(*) FROM runs`).Scan(&runs)
	db.QueryRow(`SELECT count(*) FROM proposals`).Scan(&proposals)
	if runs != 0 || proposals != 0 {
		t.Errorf("dry run wrote %d runs and %d proposals", runs, proposals)
	}
}

// countingDriver wraps the SQLite driver and counts the statements prepared
// or run on its connections.
type countingDriver struct {
	base    sqlite.Driver
	queries atomic.Int64
}

func (d *countingDriver) Open(name string) (driver.Conn, error) {
	c, err := d.base.Open(name)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, d: d}, nil
}

type countingConn struct {
	driver.Conn
	d *countingDriver
}

func (c *countingConn) Prepare(q string) (driver.Stmt, error) {
	c.d.queries.Add(1)
	return c.Conn.Prepare(q)
}

func (c *countingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	c.d.queries.Add(1)
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

var counting = &countingDriver{}

func init() { sql.Register("sqlite-counting", counting) }

func TestQueriesPerRunDoNotGrowWithCustomers(t *testing.T) {
	ctx := context.Background()
	rs := mustLoad(t, "../rulesets/mobile")
	queries := map[int]int64{}
	for _, n := range []int{100, 1000} {
		dsn := dbtest.SQLiteDSN(t)
		setup := mustOpen(t, dsn)
		eng := mustSetup(t, setup, n)
		db, err := database.OpenDriver(ctx, dsn, "sqlite-counting")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		eng.DB, eng.Billing = db, &billing.Reader{DB: db}
		// Dry runs: the proposals written are batched too, but their number
		// depends on the data, so measure reading and evaluating alone.
		before := counting.queries.Load()
		res, err := eng.Run(ctx, rs, engine.Options{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		queries[n] = counting.queries.Load() - before
		t.Logf("%d customers, %d proposals: %d queries", res.Customers, res.Proposals, queries[n])
	}
	if queries[100] == 0 || queries[100] != queries[1000] {
		t.Errorf("queries per run: %v; want the same non-zero number for 100 and 1000 customers", queries)
	}
	if queries[1000] > 20 {
		t.Errorf("%d queries for one run, want a handful", queries[1000])
	}
}

func TestOnePassOverSeveralRulesetsEqualsSeparateRuns(t *testing.T) {
	ctx := context.Background()
	sets, err := rules.LoadAll("../rulesets")
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) < 2 {
		t.Fatalf("%d shipped rulesets, want several", len(sets))
	}
	together := mustOpen(t, dbtest.SQLiteDSN(t))
	results, err := mustSetup(t, together, 700).RunAll(ctx, sets, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	apart := mustOpen(t, dbtest.SQLiteDSN(t))
	eng := mustSetup(t, apart, 700)
	for i, rs := range sets {
		res, err := eng.Run(ctx, rs, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if results[i].Ruleset != rs.Name || results[i].Customers != res.Customers || results[i].Proposals != res.Proposals {
			t.Errorf("ruleset %s: together %d customers, %d proposals; apart %d, %d",
				rs.Name, results[i].Customers, results[i].Proposals, res.Customers, res.Proposals)
		}
		got, want := mustProposals(t, together, results[i].ID), mustProposals(t, apart, res.ID)
		if len(got) != len(want) || len(got) == 0 {
			t.Fatalf("ruleset %s: %d proposals together, %d apart", rs.Name, len(got), len(want))
		}
		for j := range got {
			if got[j] != want[j] {
				t.Fatalf("ruleset %s: proposal %d differs:\n%+v\n%+v", rs.Name, j, got[j], want[j])
			}
		}
	}
}

// TestShardedRunInOneProcessEqualsARun: a run split into shards, worked as
// River jobs by a worker in this process, proposes and counts exactly what
// one pass does, on SQLite (which serves one process) and PostgreSQL; the
// job that finishes the runs is inserted once.
func TestShardedRunInOneProcessEqualsARun(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sets := []*rules.Ruleset{mustLoad(t, "../rulesets/mobile")}
		ref := mustOpen(t, dbtest.SQLiteDSN(t))
		want, err := mustSetup(t, ref, 400).Run(ctx, sets[0], engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		db := mustOpen(t, dsn)
		eng := mustSetup(t, db, 400)
		sr, err := eng.StartSharded(ctx, sets, 4)
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.WorkSharded(ctx, sr, map[string]*rules.Ruleset{"mobile": sets[0]}, queue.Config{FetchPollInterval: 50 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		run, err := store.GetRun(ctx, db, sr.RunIDs[0])
		if err != nil {
			t.Fatal(err)
		}
		if run.Status != store.RunSucceeded || run.Customers != want.Customers || run.Proposals != want.Proposals || run.Proposals == 0 {
			t.Errorf("sharded run %s with %d customers, %d proposals; one pass %d, %d", run.Status, run.Customers, run.Proposals, want.Customers, want.Proposals)
		}
		for k, rr := range run.Rules {
			w := want.Rules[k]
			if rr.RuleID != w.RuleID || rr.Matched != w.Matched || rr.Proposals != w.Proposals || rr.Skipped != w.Skipped || rr.Value != w.Value {
				t.Errorf("rule %s: sharded %+v, one pass %+v", rr.RuleID, rr, w)
			}
		}
		got, exp := mustProposals(t, db, run.ID), mustProposals(t, ref, want.ID)
		if len(got) != len(exp) {
			t.Fatalf("%d proposals sharded, %d in one pass", len(got), len(exp))
		}
		for i := range got {
			if got[i] != exp[i] {
				t.Fatalf("proposal %d differs:\n%+v\n%+v", i, got[i], exp[i])
			}
		}
		client, err := queue.NewClient(db, queue.Config{})
		if err != nil {
			t.Fatal(err)
		}
		jobs, err := queue.List(ctx, client, nil, river.NewJobListParams().TagsAny(store.RunTag(run.ID)).States(rivertype.JobStateCompleted))
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]int{}
		for _, j := range jobs {
			kinds[j.Kind]++
		}
		if kinds[engine.ShardArgs{}.Kind()] != 4 || kinds[engine.FinishArgs{}.Kind()] != 1 || len(kinds) != 2 {
			t.Errorf("completed jobs by kind: %v, want 4 shards and 1 finish", kinds)
		}
	})
}

// startTwoShards starts a sharded run of the mobile ruleset over 200
// sample customers in two shards, each tried attempts times (0: the
// default).
func startTwoShards(ctx context.Context, t *testing.T, dsn string, attempts int) (*database.DB, *engine.Engine, []*rules.Ruleset, *engine.ShardedRun) {
	t.Helper()
	sets := []*rules.Ruleset{mustLoad(t, "../rulesets/mobile")}
	db := mustOpen(t, dsn)
	eng := mustSetup(t, db, 200)
	eng.ShardAttempts = attempts
	sr, err := eng.StartSharded(ctx, sets, 2)
	if err != nil {
		t.Fatal(err)
	}
	return db, eng, sets, sr
}

// A shard that fails on every attempt (here: the worker has not loaded its
// ruleset) fails its run once its attempts are spent, with the shard's
// error, instead of leaving it running through River's backoff; the other
// shard, failing too or taken after the run failed, changes nothing.
func TestAShardFailingEveryAttemptFailsItsRun(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		db, eng, _, sr := startTwoShards(ctx, t, dsn, 2)
		// WorkSharded returns once the runs are no longer running.
		if err := eng.WorkSharded(ctx, sr, map[string]*rules.Ruleset{}, queue.Config{FetchPollInterval: 50 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		run, err := store.GetRun(ctx, db, sr.RunIDs[0])
		if err != nil {
			t.Fatal(err)
		}
		if run.Status != store.RunFailed || !strings.Contains(run.Error, "failed on all 2 attempts, the last with: ") ||
			!strings.Contains(run.Error, `needs ruleset "mobile", which this worker has not loaded`) || !strings.HasPrefix(run.Error, "shard ") {
			t.Errorf("run %s: %q, want failed with the shard's last error", run.Status, run.Error)
		}
		client, err := queue.NewClient(db, queue.Config{})
		if err != nil {
			t.Fatal(err)
		}
		jobs, err := queue.List(ctx, client, nil, river.NewJobListParams().TagsAny(store.RunTag(run.ID)).
			States(rivertype.JobStateDiscarded))
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) == 0 || jobs[0].Attempt != 2 || jobs[0].MaxAttempts != 2 {
			t.Errorf("discarded jobs %v, want a shard discarded after 2 attempts", jobs)
		}
	})
}

// The shards of a sharded run that was given up before they were worked
// (failed: its process died, say) are cancelled, not evaluated: they would
// only write proposals nobody may review.
func TestShardsOfAFailedRunAreCancelled(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		db, eng, sets, sr := startTwoShards(ctx, t, dsn, 0)
		run, err := store.GetRun(ctx, db, sr.RunIDs[0])
		if err != nil {
			t.Fatal(err)
		}
		run.Status, run.FinishedAt, run.Error = store.RunFailed, run.StartedAt.Add(time.Minute), "abandoned: no heartbeat"
		if err := store.FinishRun(ctx, db, run); err != nil {
			t.Fatal(err)
		}
		client, err := eng.ShardClient(map[string]*rules.Ruleset{"mobile": sets[0]}, queue.Config{FetchPollInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := client.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer client.Stop(context.WithoutCancel(ctx))
		for {
			left, err := queue.List(ctx, client, nil, river.NewJobListParams().TagsAny(store.RunTag(run.ID)).States(queue.Unfinished...))
			if err != nil {
				t.Fatal(err)
			}
			if len(left) == 0 {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%d jobs still unfinished", len(left))
			case <-time.After(50 * time.Millisecond):
			}
		}
		jobs, err := queue.List(ctx, client, nil, river.NewJobListParams().TagsAny(store.RunTag(run.ID)).
			States(rivertype.JobStateCancelled, rivertype.JobStateCompleted, rivertype.JobStateDiscarded))
		if err != nil {
			t.Fatal(err)
		}
		states := map[rivertype.JobState]int{}
		for _, j := range jobs {
			states[j.State]++
		}
		if states[rivertype.JobStateCancelled] != 2 || len(states) != 1 {
			t.Errorf("shard jobs by state: %v, want 2 cancelled", states)
		}
		if got := mustProposals(t, db, run.ID); len(got) != 0 {
			t.Errorf("the failed run got %d proposals", len(got))
		}
	})
}
