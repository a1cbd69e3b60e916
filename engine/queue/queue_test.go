package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/queue"
	"github.com/goodturn/goodturn/engine/store"
)

// greetArgs is the trivial job of these tests.
type greetArgs struct {
	Name string `json:"name"`
}

func (greetArgs) Kind() string { return "greet" }

// greeter works greet jobs by sending their names on a channel.
type greeter struct {
	river.WorkerDefaults[greetArgs]
	names chan string
}

func (g *greeter) Work(ctx context.Context, job *river.Job[greetArgs]) error {
	g.names <- job.Args.Name
	return nil
}

func countJobs(t *testing.T, db *database.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM river_job`).Scan(&n); err != nil {
		t.Fatalf("count river jobs: %v", err)
	}
	return n
}

// TestMigrateCreatesRiverTablesBesideGoodturns: goodturn's migrations
// create River's tables too, in the schema goodturn's own tables are in
// (on PostgreSQL the test's own schema, named by the search_path), and a
// second migration has nothing left to do.
func TestMigrateCreatesRiverTablesBesideGoodturns(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.MustOpenMigrated(t, dsn)
		if n := countJobs(t, db); n != 0 {
			t.Errorf("a new database holds %d jobs", n)
		}
		if db.IsPostgres() {
			var riverSchema, runsSchema string
			q := `SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = $1 AND n.nspname = current_schema()`
			if err := db.QueryRowContext(ctx, q, "river_job").Scan(&riverSchema); err != nil {
				t.Fatalf("river_job is not in the current schema: %v", err)
			}
			if err := db.QueryRowContext(ctx, q, "runs").Scan(&runsSchema); err != nil || riverSchema != runsSchema {
				t.Fatalf("river_job in %q, runs in %q (%v)", riverSchema, runsSchema, err)
			}
		}
		if n, err := store.Pending(ctx, db); err != nil || n != 0 {
			t.Errorf("after migrating, %d migrations pending (%v)", n, err)
		}
		if n, err := queue.Migrate(ctx, db); err != nil || n != 0 {
			t.Errorf("migrating again applied %d of River's migrations (%v)", n, err)
		}
	})
}

// TestPendingCountsRiversMigrations: a database with goodturn's tables but
// not River's has migrations pending.
func TestPendingCountsRiversMigrations(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.MustOpen(t, dsn)
		before, err := queue.Pending(ctx, db)
		if err != nil || before == 0 {
			t.Fatalf("an empty database has %d of River's migrations pending (%v)", before, err)
		}
		applied, err := queue.Migrate(ctx, db)
		if err != nil || applied != before {
			t.Fatalf("migrate applied %d of %d (%v)", applied, before, err)
		}
		if n, err := queue.Pending(ctx, db); err != nil || n != 0 {
			t.Errorf("after migrating, %d pending (%v)", n, err)
		}
	})
}

// TestInsertTxFollowsTheTransaction: a job inserted in a goodturn
// transaction is gone when it rolls back and there when it commits.
func TestInsertTxFollowsTheTransaction(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.MustOpenMigrated(t, dsn)
		client, err := queue.NewClient(db, queue.Config{})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			commit bool
			want   int
		}{{false, 0}, {true, 1}} {
			tx, err := database.Begin(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := queue.InsertTx(ctx, client, tx, greetArgs{Name: "ada"}, nil); err != nil {
				tx.Rollback()
				t.Fatal(err)
			}
			if tc.commit {
				err = tx.Commit()
			} else {
				err = tx.Rollback()
			}
			if err != nil {
				t.Fatal(err)
			}
			if n := countJobs(t, db); n != tc.want {
				t.Errorf("commit %v: %d jobs, want %d", tc.commit, n, tc.want)
			}
		}
	})
}

// TestClientWorksAJob: a client working the default queue runs a job
// inserted by another, insert-only client, and River records it completed.
func TestClientWorksAJob(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db := dbtest.MustOpenMigrated(t, dsn)
		workers := river.NewWorkers()
		g := &greeter{names: make(chan string, 1)}
		river.AddWorker(workers, g)
		worker, err := queue.NewClient(db, queue.Config{Workers: workers, FetchPollInterval: 50 * time.Millisecond,
			Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		completed, stop := worker.Subscribe(river.EventKindJobCompleted)
		defer stop()
		if err := worker.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer worker.Stop(context.Background())
		inserter, err := queue.NewClient(db, queue.Config{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		tx, err := database.Begin(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		res, err := queue.InsertTx(ctx, inserter, tx, greetArgs{Name: "grace"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		select {
		case name := <-g.names:
			if name != "grace" {
				t.Errorf("worked %q, want grace", name)
			}
		case <-ctx.Done():
			t.Fatal("the job was not worked within 30s")
		}
		select {
		case ev := <-completed:
			if ev.Job.ID != res.Job.ID {
				t.Errorf("completed job %d, inserted %d", ev.Job.ID, res.Job.ID)
			}
		case <-ctx.Done():
			t.Fatal("the job was not completed within 30s")
		}
		job, err := worker.JobGet(ctx, res.Job.ID)
		if err != nil || job.State != rivertype.JobStateCompleted {
			t.Errorf("job %d: %+v %v", res.Job.ID, job, err)
		}
		counts, err := queue.Counts(ctx, db)
		if err != nil || len(counts) != 1 || len(counts[river.QueueDefault]) != 1 || counts[river.QueueDefault]["completed"] != 1 {
			t.Errorf("job counts %v %v, want one completed in the default queue", counts, err)
		}
	})
}
