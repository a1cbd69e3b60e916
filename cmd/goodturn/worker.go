package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/queue"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/rules"
)

func runWorker(ctx context.Context, x *call) error {
	env, c, fs := x.Env, &x.config, x.Flags
	rescue := durationIn(fs, "rescue-after", engine.DefaultRescueAfter, time.Nanosecond, "when this worker leads River, how long a shard must have run before it may be taken for a dead worker's and given to another; each shard also runs within the limit run --shards --rescue-after gave it")
	poll := durationIn(fs, "poll", time.Second, time.Nanosecond, "how often to look for work when there is none")
	idleExit := fs.Bool("exit-when-idle", false, "exit once no shard is left unfinished instead of waiting for more")
	workers := intIn(fs, "workers", 0, 0, maxWorkers, "evaluating goroutines; the number of CPUs by default")
	_, err := x.Parse()
	if err != nil {
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
		return errors.New("goodturn worker needs PostgreSQL: on SQLite, which serves one process, run --shards works its shards itself")
	}
	tuneGC(env)
	eng := newEngine(env, db, bdb, c, *workers)
	client, err := eng.ShardClient(byName(sets), queue.Config{ID: workerID(), RescueStuckJobsAfter: *rescue, FetchPollInterval: *poll})
	if err != nil {
		return err
	}
	if err := client.Start(ctx); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer client.Stop(context.WithoutCancel(ctx))
	env.Logger.Info("worker started", "id", workerID(), "queue", engine.ShardQueue)
	for {
		select {
		case <-ctx.Done():
			return nil // asked to stop
		case <-time.After(*poll):
		}
		if !*idleExit {
			continue
		}
		// A shard held by a worker that died stays running until River
		// rescues it: only leave when no shard is left unfinished.
		left, err := queue.List(ctx, client, nil, river.NewJobListParams().Queues(engine.ShardQueue).States(queue.Unfinished...))
		if err != nil {
			return err
		}
		if len(left) == 0 {
			return nil
		}
	}
}

// workerID names this process in River's jobs (attempted_by): host and
// process id.
func workerID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// byName indexes rulesets by name.
func byName(sets []*rules.Ruleset) map[string]*rules.Ruleset {
	out := map[string]*rules.Ruleset{}
	for _, rs := range sets {
		out[rs.Name] = rs
	}
	return out
}

// runSharded starts a sharded run, works its shards in this process
// alongside any `goodturn worker` processes (the only worker on SQLite),
// waits for its runs to be recorded and prints them.
func runSharded(ctx context.Context, env *Env, eng *engine.Engine, sets []*rules.Ruleset, shards int, rescue time.Duration) error {
	eng.ShardTimeout = rescue
	sr, err := eng.StartSharded(ctx, sets, shards)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Runs %s: %d shards of customers; `goodturn worker` processes may help.\n", idList(sr.RunIDs), sr.Shards)
	if err := eng.WorkSharded(ctx, sr, byName(sets), queue.Config{ID: workerID(), RescueStuckJobsAfter: rescue}); err != nil {
		return err
	}
	cat, err := eng.Billing.Catalogue(ctx)
	if err != nil {
		return err
	}
	var failed []error
	for i, rs := range sets {
		run, err := store.GetRun(ctx, eng.DB, sr.RunIDs[i])
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
		if run.Status == store.RunFailed {
			failed = append(failed, fmt.Errorf("run %d of %s failed: %s", run.ID, rs.Name, run.Error))
		}
	}
	return errors.Join(failed...)
}

// idList writes run ids as "12, 13".
func idList(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ", ")
}
