package engine_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
	"github.com/goodturn/goodturn/rules"
)

// cleanProposals runs the ruleset once on a fresh database with n sample
// customers and returns its proposals: what any run of it should propose.
func cleanProposals(t *testing.T, dsn string, rs *rules.Ruleset, n int) []proposalKey {
	t.Helper()
	db := mustOpen(t, dsn)
	res, err := mustSetup(t, db, n).Run(context.Background(), rs, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return mustProposals(t, db, res.ID)
}

// noneRunning fails the test if any run is still recorded as running.
func noneRunning(t *testing.T, db *database.DB) {
	t.Helper()
	runs, err := store.ListRuns(context.Background(), db, store.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.Status == store.RunRunning {
			t.Errorf("run %d is still running", r.ID)
		}
	}
}

// A run killed mid-run (kill -9: no end recorded, part of its proposals
// committed, its heartbeat stopped) is failed by the next run of its
// ruleset, its proposals withdrawn, and the next run proposes to every
// customer exactly what a run on a database without the dead run does.
func TestAKilledRunIsRecoveredByTheNextRun(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		rs := mustLoad(t, "../rulesets/mobile")
		const customers = 800
		otherDSN := dbtest.SQLiteDSN(t)
		if strings.HasPrefix(dsn, "postgres") {
			otherDSN = dbtest.PostgresDSN(t)
		}
		want := cleanProposals(t, otherDSN, rs, customers)

		db := mustOpen(t, dsn)
		eng := mustSetup(t, db, customers)
		dead, err := eng.Run(ctx, rs, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		// Make it a run killed half way: running, no end, no rule results,
		// the proposals of half its customers committed, and a heartbeat
		// that stopped longer ago than the staleness allows.
		beat := time.Now().Add(-store.StaleAfter - time.Minute)
		for _, q := range []string{
			`UPDATE runs SET status = 'running', finished_at = NULL, customers = 0, proposals = 0, heartbeat_at = ? WHERE id = ?`,
			`DELETE FROM run_rules WHERE run_id = ?`,
			`DELETE FROM run_held WHERE run_id = ?`,
			`DELETE FROM proposals WHERE run_id = ? AND customer_id % 2 = 0`,
		} {
			args := []any{dead.ID}
			if strings.Contains(q, "heartbeat_at") {
				args = []any{beat.UTC(), dead.ID}
			}
			if _, err := db.ExecContext(ctx, db.Rebind(q), args...); err != nil {
				t.Fatal(err)
			}
		}
		stranded := mustProposals(t, db, dead.ID)
		if len(stranded) == 0 {
			t.Fatal("the dead run left no proposals to strand")
		}

		next, err := eng.Run(ctx, rs, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		noneRunning(t, db)
		got, err := store.GetRun(ctx, db, dead.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != store.RunFailed || !strings.HasPrefix(got.Error, "abandoned: no heartbeat since "+beat.UTC().Format(time.RFC3339)) {
			t.Errorf("dead run: %s, %q; want failed, abandoned", got.Status, got.Error)
		}
		withdrawn, _, err := store.WithdrawnProposals(ctx, db, dead.ID)
		if err != nil {
			t.Fatal(err)
		}
		if left := mustProposals(t, db, dead.ID); len(left) != 0 || len(withdrawn) != len(stranded) {
			t.Errorf("dead run: %d proposals left, %d withdrawn; want 0 and %d", len(left), len(withdrawn), len(stranded))
		}
		if proposed := mustProposals(t, db, next.ID); !reflect.DeepEqual(proposed, want) {
			t.Errorf("the next run proposed %d, a clean run %d; they differ", len(proposed), len(want))
		}
		// Nothing of the dead run is offered for review.
		batches, err := reviewdb.ListBatches(ctx, db, reviewdb.BatchFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range batches {
			if b.RunID == dead.ID {
				t.Errorf("batch %s of the dead run is offered for review", b.Key())
			}
		}
	})
}

// A run whose heartbeat is fresh is not taken for dead, even with its
// lock free: its process may only just have stopped beating.
func TestARunWithAFreshHeartbeatIsLeftAlone(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, dbtest.SQLiteDSN(t))
	eng := mustSetup(t, db, 100)
	rs := mustLoad(t, "../rulesets/mobile")
	other := &store.Run{Ruleset: rs.Name, AsOf: clock, StartedAt: clock}
	if err := store.CreateRun(ctx, db, other); err != nil {
		t.Fatal(err)
	}
	// The heartbeat's clock is the wall clock, not the run's: a run at a
	// fixed clock long ago still sees the other as alive.
	if _, err := eng.Run(ctx, rs, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.GetRun(ctx, db, other.ID); got.Status != store.RunRunning {
		t.Errorf("run with a fresh heartbeat: %s, want running", got.Status)
	}
	// Once its heartbeat is older than the staleness, it is.
	eng.WallClock = func() time.Time { return time.Now().Add(store.StaleAfter + time.Second) }
	if _, err := eng.Run(ctx, rs, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.GetRun(ctx, db, other.ID); got.Status != store.RunFailed {
		t.Errorf("run with a stale heartbeat: %s, want failed", got.Status)
	}
}

// A run beats its heartbeat on the wall clock while it runs.
func TestARunBeatsItsHeartbeat(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, dbtest.SQLiteDSN(t))
	eng := mustSetup(t, db, 600)
	var beats atomic.Int64
	wall := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	eng.HeartbeatEvery = time.Millisecond
	eng.WallClock = func() time.Time { return wall.Add(time.Duration(beats.Add(1)) * time.Second) }
	var seen atomic.Int64
	eng.Progress = func(int) {
		// Wait, once, for a heartbeat after the first.
		if seen.Add(1) == 1 {
			for deadline := time.Now().Add(5 * time.Second); beats.Load() < 3 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
		}
	}
	res, err := eng.Run(ctx, mustLoad(t, "../rulesets/mobile"), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.GetRun(ctx, db, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.HeartbeatAt.After(wall.Add(time.Second)) {
		t.Errorf("heartbeat at %v, want later than the first, %v", got.HeartbeatAt, wall.Add(time.Second))
	}
}

// failingDriver wraps the SQLite driver and fails every statement that
// inserts proposals after the first.
type failingDriver struct {
	base    sqlite.Driver
	inserts atomic.Int64
}

func (d *failingDriver) Open(name string) (driver.Conn, error) {
	c, err := d.base.Open(name)
	if err != nil {
		return nil, err
	}
	return &failingConn{Conn: c, d: d}, nil
}

type failingConn struct {
	driver.Conn
	d *failingDriver
}

var errInjected = errors.New("injected: disk full")

func (c *failingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	if strings.HasPrefix(q, "INSERT INTO proposals") && c.d.inserts.Add(1) > 1 {
		return nil, errInjected
	}
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
}

func (c *failingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

var failing = &failingDriver{}

func init() { sql.Register("sqlite-failing", failing) }

// A run that fails mid-run, after some of its proposals were committed,
// withdraws them as a dead run's are: the next run proposes as a clean one.
func TestARunThatFailsWithdrawsWhatItWrote(t *testing.T) {
	ctx := context.Background()
	sets, err := rules.LoadAll("../rulesets")
	if err != nil {
		t.Fatal(err)
	}
	const customers = 300
	dsn := dbtest.SQLiteDSN(t)
	eng := mustSetup(t, mustOpen(t, dsn), customers)
	db, err := database.OpenDriver(ctx, dsn, "sqlite-failing")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	eng.DB, eng.Billing = db, &billing.Reader{DB: db}
	// One pass over the rulesets writes each ruleset's proposals with a
	// statement of its own: the first commits, the second fails.
	failed, err := eng.RunAll(ctx, sets, engine.Options{})
	if !errors.Is(err, errInjected) {
		t.Fatalf("run: %v, want the injected failure", err)
	}
	if failing.inserts.Load() < 2 {
		t.Fatalf("%d proposal inserts: the test needs a second", failing.inserts.Load())
	}
	var withdrawn int
	for _, res := range failed {
		got, err := store.GetRun(ctx, db, res.ID)
		if err != nil {
			t.Fatal(err)
		}
		ps, _, err := store.WithdrawnProposals(ctx, db, res.ID)
		if err != nil {
			t.Fatal(err)
		}
		withdrawn += len(ps)
		if got.Status != store.RunFailed || len(mustProposals(t, db, res.ID)) != 0 {
			t.Errorf("run %d: %s with %d proposals, want failed with none", res.ID, got.Status, len(mustProposals(t, db, res.ID)))
		}
	}
	if withdrawn == 0 {
		t.Error("no proposals withdrawn: the first ruleset's committed proposals stayed")
	}

	good := mustOpen(t, dsn)
	eng.DB, eng.Billing = good, &billing.Reader{DB: good}
	for _, rs := range sets {
		next, err := eng.Run(ctx, rs, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		want := cleanProposals(t, dbtest.SQLiteDSN(t), rs, customers)
		if got := mustProposals(t, good, next.ID); !reflect.DeepEqual(got, want) {
			t.Errorf("ruleset %s: the next run proposed %d, a clean run %d; they differ", rs.Name, len(got), len(want))
		}
	}
	noneRunning(t, good)
}
