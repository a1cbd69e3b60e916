package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/rules"
)

func runWorker(ctx context.Context, x *call) error {
	env, c, fs := x.Env, &x.config, x.Flags
	lease := durationIn(fs, "lease", engine.DefaultLease, time.Nanosecond, "how long a shard stays claimed without the worker renewing it")
	poll := durationIn(fs, "poll", 2*time.Second, time.Nanosecond, "how often to look for work when there is none")
	idleExit := fs.Bool("exit-when-idle", false, "exit once every job is done instead of waiting for more")
	workers := intIn(fs, "workers", 0, 0, maxWorkers, "evaluating goroutines; the number of CPUs by default")
	positional, err := x.Parse()
	if err != nil {
		return err
	}
	if err := noArgs(positional); err != nil {
		return err
	}
	if _, err := c.policy(); err != nil {
		return err
	}
	sets, err := c.loadRulesets(nil)
	if err != nil {
		return fmt.Errorf("load rulesets: %w", err)
	}
	db, bdb, err := x.Databases(ctx)
	if err != nil {
		return err
	}
	if !db.IsPostgres() {
		return store.ErrNeedsPostgres
	}
	tuneGC(env)
	eng := newEngine(env, db, bdb, c, *workers)
	byName := map[string]*rules.Ruleset{}
	for _, rs := range sets {
		byName[rs.Name] = rs
	}
	host, _ := os.Hostname()
	owner := fmt.Sprintf("%s-%d", host, os.Getpid())
	env.Logger.Info("worker started", "owner", owner)
	for {
		n, err := eng.Work(ctx, byName, owner, *lease)
		if err != nil {
			if ctx.Err() != nil {
				return nil // asked to stop
			}
			return err
		}
		if n == 0 && *idleExit {
			// Shards held by a worker that died come back when their lease
			// runs out: only leave when no job is left unfinished.
			left, err := store.UnfinishedJobs(ctx, db)
			if err != nil {
				return err
			}
			if left == 0 {
				return nil
			}
		}
		if n == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(*poll):
			}
		}
	}
}

// runSharded starts a sharded run, works on it alongside any `goodturn
// worker` processes, waits for it to finish and prints its runs.
func runSharded(ctx context.Context, env *Env, eng *engine.Engine, sets []*rules.Ruleset, shards int, lease time.Duration) error {
	job, err := eng.StartJob(ctx, sets, shards)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Job %d: %d shards of customers; `goodturn worker` processes may help.\n", job.ID, shards)
	byName := map[string]*rules.Ruleset{}
	for _, rs := range sets {
		byName[rs.Name] = rs
	}
	host, _ := os.Hostname()
	owner := fmt.Sprintf("%s-%d", host, os.Getpid())
	for {
		if _, err := eng.Work(ctx, byName, owner, lease); err != nil {
			return err
		}
		j, err := store.GetJob(ctx, eng.DB, job.ID)
		if err != nil {
			return err
		}
		if j.Status == store.JobDone {
			break
		}
		// Shards other workers hold: wait for them, or for their leases to
		// run out and claim them.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	cat, err := eng.Billing.Catalogue(ctx)
	if err != nil {
		return err
	}
	for i, rs := range sets {
		run, err := store.GetRun(ctx, eng.DB, job.RunIDs[i])
		if err != nil {
			return err
		}
		held, err := store.Held(ctx, eng.DB, run.ID)
		if err != nil {
			return err
		}
		res := &engine.Result{Run: *run, Held: held, Duration: run.FinishedAt.Sub(run.StartedAt)}
		if len(cat) > 0 {
			res.Currency = cat[0].Currency
		}
		printResult(env.Stdout, rs, res)
	}
	return nil
}
