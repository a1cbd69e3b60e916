package queue_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/queue"
	"github.com/goodturn/goodturn/engine/schedule"
	"github.com/goodturn/goodturn/notify/outbox"
)

// otherArgs is a job of a stage that is none of goodturn's.
type otherArgs struct{}

func (otherArgs) Kind() string { return "other_stage" }

type otherWorker struct {
	river.WorkerDefaults[otherArgs]
}

func (otherWorker) Work(context.Context, *river.Job[otherArgs]) error { return nil }

// TestEveryKindIsRescuedByAnyLeader leaves a job of each of goodturn's
// kinds running as if its process had died, and lets a client that works
// none of them lead alone: River's leader discards a stuck job of a kind it
// has no worker for, so every kind must be declared to every client
// (queue.Kind) for the job to be retried instead. A shard, a run's finish
// or a slot carries its own timeout, and stays running within it whatever
// the leader's job timeout.
func TestEveryKindIsRescuedByAnyLeader(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.MustOpenMigrated(t, dsn)
		// River's rescuer measures how long a job has run by the real
		// clock: the jobs are made three hours ago.
		earlier := time.Now().Add(-3 * time.Hour)
		inserter, err := queue.NewClient(db, queue.Config{Now: func() time.Time { return earlier }, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		kinds := []river.JobArgs{engine.ShardArgs{}, engine.FinishArgs{}, schedule.SlotArgs{}, outbox.SendArgs{}}
		// Jobs that may run longer than the leader's own job timeout say
		// so, and stay running until then.
		long := []river.JobArgs{
			engine.ShardArgs{ShardedRun: engine.ShardedRun{Timeout: 5 * time.Hour}},
			engine.FinishArgs{ShardedRun: engine.ShardedRun{Timeout: 5 * time.Hour}},
			schedule.SlotArgs{Ruleset: "long", Timeout: 5 * time.Hour},
		}
		var ids []int64
		for _, args := range kinds {
			res, err := inserter.Insert(ctx, args, &river.InsertOpts{Queue: "nobody_works_this", MaxAttempts: 5})
			if err != nil {
				t.Fatalf("insert %s: %v", args.Kind(), err)
			}
			ids = append(ids, res.Job.ID)
		}
		var longIDs []int64
		for _, args := range long {
			res, err := inserter.Insert(ctx, args, &river.InsertOpts{Queue: "nobody_works_this", MaxAttempts: 5})
			if err != nil {
				t.Fatalf("insert %s: %v", args.Kind(), err)
			}
			longIDs = append(longIDs, res.Job.ID)
		}
		// As a worker that took them and died would leave them.
		if _, err := db.ExecContext(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = created_at`); err != nil {
			t.Fatal(err)
		}
		workers := river.NewWorkers()
		river.AddWorker(workers, &otherWorker{})
		leader, err := queue.NewClient(db, queue.Config{Workers: workers, Queues: map[string]river.QueueConfig{"other_stage": {MaxWorkers: 1}},
			RescueStuckJobsAfter: time.Hour, FetchPollInterval: 20 * time.Millisecond,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if err := leader.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer leader.Stop(ctx)
		deadline := time.Now().Add(20 * time.Second)
		for i, id := range ids {
			for {
				j, err := leader.JobGet(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if j.State != rivertype.JobStateRunning {
					if j.State == rivertype.JobStateDiscarded {
						t.Errorf("a stuck %s job was discarded by a leader that does not work it", kinds[i].Kind())
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the %s job was never rescued", kinds[i].Kind())
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		// The leader has looked (it rescued the others); the jobs within
		// the timeout they carry are still running.
		for i, id := range longIDs {
			if j, err := leader.JobGet(ctx, id); err != nil || j.State != rivertype.JobStateRunning {
				t.Errorf("a %s job running 3 hours of its 5 was taken for stuck: %v %v", long[i].Kind(), j.State, err)
			}
		}
	})
}
