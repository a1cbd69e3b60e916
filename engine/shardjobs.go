package engine

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/queue"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/rules"
)

// Every working River client knows the shard and finish jobs, so that
// whichever leads rescues a stuck one instead of discarding it (see
// queue.Kind); only workers on the shards queue run them.
func init() {
	queue.Kind(func(w *river.Workers) error { return river.AddWorkerSafely(w, &shardWorker{}) })
	queue.Kind(func(w *river.Workers) error { return river.AddWorkerSafely(w, &finishWorker{}) })
}

// ShardWorkers returns the River workers of sharded runs, over the
// rulesets a process has loaded by name: a shard job evaluates its range
// of customers, and the finishing job records the runs.
func (e *Engine) ShardWorkers(sets map[string]*rules.Ruleset) *river.Workers {
	w := river.NewWorkers()
	river.AddWorker(w, &shardWorker{e: e, sets: sets})
	river.AddWorker(w, &finishWorker{e: e, sets: sets})
	return w
}

// ShardClient returns a River client that works ShardQueue with the
// rulesets a process has loaded: one job at a time, since one shard keeps
// every evaluating goroutine busy. A job may run for the timeout it
// carries (ShardedRun.Timeout): then its work is cancelled and River
// retries it. When this client leads, it looks for the jobs of dead
// workers every cfg.RescueStuckJobsAfter (DefaultRescueAfter when zero),
// and rescues those that have run longer than their timeout.
func (e *Engine) ShardClient(sets map[string]*rules.Ruleset, cfg queue.Config) (*queue.Client, error) {
	cfg.Workers = e.ShardWorkers(sets)
	cfg.Queues = map[string]river.QueueConfig{ShardQueue: {MaxWorkers: 1}}
	if cfg.RescueStuckJobsAfter <= 0 {
		cfg.RescueStuckJobsAfter = DefaultRescueAfter
	}
	cfg.JobTimeout = cfg.RescueStuckJobsAfter // for jobs from before they carried their timeout
	if cfg.Logger == nil {
		cfg.Logger = e.logger()
	}
	return queue.NewClient(e.DB, cfg)
}

// shardWorker works the shards of sharded runs.
type shardWorker struct {
	river.WorkerDefaults[ShardArgs]
	e    *Engine
	sets map[string]*rules.Ruleset
}

// Work evaluates the shard, then, in one transaction, completes its job
// with what it counted and, when no other shard of the run is left
// unfinished, inserts the job that finishes the run.
// Timeout is how long the job may run: the sharded run's, which every
// client, whichever leads, reads from the job.
func (w *shardWorker) Timeout(job *river.Job[ShardArgs]) time.Duration { return job.Args.Timeout }

func (w *shardWorker) Work(ctx context.Context, job *river.Job[ShardArgs]) (err error) {
	defer func() {
		err = w.e.giveUp(ctx, &job.Args.ShardedRun, job.JobRow, fmt.Sprintf("shard %d of %d", job.Args.Shard, job.Args.Shards), err)
	}()
	sh := &job.Args
	// A retry of a shard whose runs were given up meanwhile (failed, their
	// proposals withdrawn) would only write proposals nobody may review.
	if left, err := w.e.unrecorded(ctx, &sh.ShardedRun); err != nil {
		return err
	} else if left == 0 {
		return river.JobCancel(fmt.Errorf("runs %v are no longer running: shard %d is not evaluated", sh.RunIDs, sh.Shard))
	}
	sets, err := shardSets(&sh.ShardedRun, w.sets)
	if err != nil {
		return err
	}
	log := w.e.logger().With("runs", sh.RunIDs, "shard", sh.Shard, "attempt", job.Attempt)
	res, err := w.e.evaluateShard(ctx, sets, sh)
	if err != nil {
		return err
	}
	if err := river.RecordOutput(ctx, res); err != nil {
		return fmt.Errorf("runs %v shard %d: %w", sh.RunIDs, sh.Shard, err)
	}
	last, err := w.e.completeShard(ctx, job)
	if errors.Is(err, rivertype.ErrNotFound) {
		// River rescued the shard from this worker, taken for dead, and
		// another attempt completed it first: its pass counts.
		log.Warn("shard completed by another attempt")
		return nil
	}
	if err != nil {
		return err
	}
	log.Info("shard done", "customers", res.Customers, "from", sh.From, "to", sh.To, "last", last)
	return nil
}

// shardAttempts is how many times a shard's job is tried.
func (e *Engine) shardAttempts() int { return cmp.Or(e.ShardAttempts, DefaultShardAttempts) }

// giveUp returns err, the error of one attempt at a job of a sharded run
// (what names the job's part), after failing the run's runs that are still
// running, and withdrawing their proposals, when it was the job's last
// attempt: River discards the job, and nothing else would end the runs
// until their heartbeat went stale. A cancelled job (its runs ended
// already) gives nothing up.
func (e *Engine) giveUp(ctx context.Context, sr *ShardedRun, job *rivertype.JobRow, what string, err error) error {
	var cancel *river.JobCancelError
	if err == nil || job.Attempt < job.MaxAttempts || errors.As(err, &cancel) {
		return err
	}
	reason := fmt.Sprintf("%s failed on all %d attempts, the last with: %v", what, job.MaxAttempts, err)
	ctx = context.WithoutCancel(ctx) // the last attempt may have run out of time
	for _, id := range sr.RunIDs {
		failed, ferr := store.FailRun(ctx, e.DB, id, reason, e.wall())
		if ferr != nil {
			return errors.Join(err, ferr)
		}
		if failed {
			e.logger().Error("sharded run failed", "run", id, "error", reason)
		}
	}
	return err
}

// completeShard completes a shard's job in a transaction that first beats
// the heartbeat of the shard's runs: that update locks the runs' rows, so
// the completions of one sharded run's shards happen one after another and
// exactly one of them sees every other shard completed and inserts the
// finishing job. It reports whether this shard was that one. The
// proposals the shard wrote to a run that failed while it evaluated are
// withdrawn, as the failure withdrew the run's others.
func (e *Engine) completeShard(ctx context.Context, job *river.Job[ShardArgs]) (bool, error) {
	sh := &job.Args
	tx, err := database.Begin(ctx, e.DB)
	if err != nil {
		return false, fmt.Errorf("complete shard %d: %w", sh.Shard, err)
	}
	defer tx.Rollback()
	if err := store.Beat(ctx, tx, e.wall(), sh.RunIDs...); err != nil {
		return false, err
	}
	for _, id := range sh.RunIDs {
		if n, err := store.WithdrawLate(ctx, tx, id, e.wall()); err != nil {
			return false, err
		} else if n > 0 {
			e.logger().Warn("withdrew the proposals a shard wrote after its run failed", "run", id, "shard", sh.Shard, "withdrawn", n)
		}
	}
	if err := queue.CompleteTx(ctx, tx, job); err != nil {
		return false, err
	}
	client := river.ClientFromContext[*sql.Tx](ctx)
	left, err := queue.List(ctx, client, tx, river.NewJobListParams().Kinds(ShardArgs{}.Kind()).
		TagsAny(store.RunTag(sh.RunIDs[0])).States(queue.Unfinished...))
	if err != nil {
		return false, fmt.Errorf("complete shard %d: %w", sh.Shard, err)
	}
	if len(left) == 0 {
		if _, err := queue.InsertTx(ctx, client, tx, FinishArgs{ShardedRun: sh.ShardedRun},
			&river.InsertOpts{Queue: ShardQueue, Tags: sh.tags(), UniqueOpts: river.UniqueOpts{ByArgs: true}}); err != nil {
			return false, err
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("complete shard %d: %w", sh.Shard, err)
	}
	return len(left) == 0, nil
}

// finishWorker records the runs of sharded runs whose shards are done.
type finishWorker struct {
	river.WorkerDefaults[FinishArgs]
	e    *Engine
	sets map[string]*rules.Ruleset
}

// Work reads what every shard counted from River's completed shard jobs
// and records the runs.
// Timeout is how long the job may run: the sharded run's.
func (w *finishWorker) Timeout(job *river.Job[FinishArgs]) time.Duration { return job.Args.Timeout }

func (w *finishWorker) Work(ctx context.Context, job *river.Job[FinishArgs]) (err error) {
	defer func() { err = w.e.giveUp(ctx, &job.Args.ShardedRun, job.JobRow, "recording the runs", err) }()
	sr := &job.Args.ShardedRun
	sets, err := shardSets(sr, w.sets)
	if err != nil {
		return err
	}
	client := river.ClientFromContext[*sql.Tx](ctx)
	done, err := queue.List(ctx, client, nil, river.NewJobListParams().Kinds(ShardArgs{}.Kind()).
		TagsAny(store.RunTag(sr.RunIDs[0])).States(rivertype.JobStateCompleted))
	if err != nil {
		return fmt.Errorf("finish runs %v: %w", sr.RunIDs, err)
	}
	if len(done) != sr.Shards {
		return fmt.Errorf("finish runs %v: %d of %d shards are completed", sr.RunIDs, len(done), sr.Shards)
	}
	outputs := make([][]byte, len(done))
	for i, j := range done {
		outputs[i] = j.Output()
	}
	return w.e.finishSharded(ctx, sr, sets, outputs)
}

// WorkSharded works the shards of a sharded run in this process, beside
// any worker processes, until its runs are recorded: on SQLite, which
// serves one process, this is how a sharded run is worked. cfg tunes the
// River client (see ShardClient).
func (e *Engine) WorkSharded(ctx context.Context, sr *ShardedRun, sets map[string]*rules.Ruleset, cfg queue.Config) error {
	client, err := e.ShardClient(sets, cfg)
	if err != nil {
		return err
	}
	if err := client.Start(ctx); err != nil {
		return fmt.Errorf("work sharded run: %w", err)
	}
	defer client.Stop(context.WithoutCancel(ctx))
	poll := cfg.FetchPollInterval
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	for {
		left, err := e.unrecorded(ctx, sr)
		if err != nil || left == 0 {
			return err
		}
		jobs, err := queue.List(ctx, client, nil, river.NewJobListParams().TagsAny(store.RunTag(sr.RunIDs[0])).States(queue.Unfinished...))
		if err != nil {
			return fmt.Errorf("work sharded run: %w", err)
		}
		if len(jobs) == 0 {
			// The finishing job may have recorded the runs since.
			if left, err := e.unrecorded(ctx, sr); err != nil || left == 0 {
				return err
			}
			return fmt.Errorf("sharded runs %v: no job is left to finish them (a shard was discarded after its last attempt: see its errors in River's river_job table)", sr.RunIDs)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// unrecorded counts the runs of a sharded run still running.
func (e *Engine) unrecorded(ctx context.Context, sr *ShardedRun) (int, error) {
	n := 0
	for _, id := range sr.RunIDs {
		run, err := store.GetRun(ctx, e.DB, id)
		if err != nil {
			return 0, err
		}
		if run.Status == store.RunRunning {
			n++
		}
	}
	return n, nil
}
