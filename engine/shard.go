package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/riverqueue/river"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/queue"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/rules"
)

// ShardQueue is the River queue of sharded runs: their shards and the jobs
// that finish them. `goodturn worker` works it.
const ShardQueue = "shards"

// DefaultRescueAfter is how long a shard may run: after it, its work is
// cancelled and retried, and a shard whose worker died is rescued by River
// and given to another worker. It must be longer than the longest shard
// takes: a shard cut short is worked again from the start (which proposes
// nothing twice, but spends the time again).
const DefaultRescueAfter = time.Hour

// DefaultShardAttempts is how many times a shard's job is tried (River
// backs off about attempt⁴ seconds between tries: some six minutes in
// all) before its sharded run is given up as failed.
const DefaultShardAttempts = 5

// ShardedRun is a run of one or more rulesets split into shards of
// customers, each a River job on ShardQueue that any worker process takes.
type ShardedRun struct {
	// RunIDs holds the run of each ruleset, in the order of Rulesets.
	RunIDs   []int64  `json:"runs"`
	Rulesets []string `json:"rulesets"`
	// Clock is the run's clock: every shard evaluates as of it.
	Clock time.Time `json:"clock"`
	// Started is when the sharded run was started, on the wall clock.
	Started time.Time `json:"started"`
	Shards  int       `json:"shards"`
	// Timeout is how long each of its jobs may run (Engine.ShardTimeout):
	// the jobs carry it, so that whichever River client leads, it does not
	// take a shard for stuck sooner.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// tags are the River tags of the sharded run's jobs: one per run (see
// store.RunTag), which keeps the runs from being taken for dead while the
// jobs are unfinished.
func (sr *ShardedRun) tags() []string {
	out := make([]string, len(sr.RunIDs))
	for i, id := range sr.RunIDs {
		out[i] = store.RunTag(id)
	}
	return out
}

// ShardArgs is the River job of one shard of a sharded run: the customers
// whose ids are in [From, To).
type ShardArgs struct {
	ShardedRun
	Shard int   `json:"shard"`
	From  int64 `json:"from"`
	To    int64 `json:"to"`
}

// Kind names shard jobs in River.
func (ShardArgs) Kind() string { return "goodturn_shard" }

// FinishArgs is the River job that records the runs of a sharded run once
// every shard is done. The shard that finds itself the last one done
// inserts it; it is unique by its arguments, so a sharded run is finished
// once.
type FinishArgs struct {
	ShardedRun
}

// Kind names the jobs that finish sharded runs in River.
func (FinishArgs) Kind() string { return "goodturn_finish_sharded_run" }

// StartSharded starts a sharded run of the rulesets: in one transaction it
// records a run for each and inserts one River job per shard of customers
// (quantiles of the ids present, so that shards hold about the same number
// of customers), which any number of worker processes take (see
// ShardWorkers). The result is the same as a single-process RunAll at the
// same clock.
func (e *Engine) StartSharded(ctx context.Context, sets []*rules.Ruleset, shards int) (*ShardedRun, error) {
	if shards < 1 {
		return nil, fmt.Errorf("start sharded run: %d shards", shards)
	}
	now := e.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	ranges, err := store.CustomerShards(ctx, e.Billing.DB, shards)
	if err != nil {
		return nil, fmt.Errorf("start sharded run: %w", err)
	}
	client, err := queue.NewClient(e.DB, queue.Config{Workers: e.ShardWorkers(nil)})
	if err != nil {
		return nil, fmt.Errorf("start sharded run: %w", err)
	}
	tx, err := database.Begin(ctx, e.DB)
	if err != nil {
		return nil, fmt.Errorf("start sharded run: %w", err)
	}
	defer tx.Rollback()
	sr := &ShardedRun{Clock: now, Started: time.Now().UTC(), Shards: len(ranges), Timeout: cmp.Or(e.ShardTimeout, DefaultRescueAfter)}
	for _, rs := range sets {
		run := store.Run{Ruleset: rs.Name, AsOf: today, StartedAt: now, HeartbeatAt: e.wall()}
		if err := store.CreateRun(ctx, tx, &run); err != nil {
			return nil, fmt.Errorf("start sharded run: %w", err)
		}
		sr.Rulesets = append(sr.Rulesets, rs.Name)
		sr.RunIDs = append(sr.RunIDs, run.ID)
	}
	params := make([]river.InsertManyParams, len(ranges))
	for i, r := range ranges {
		params[i] = river.InsertManyParams{Args: ShardArgs{ShardedRun: *sr, Shard: i, From: r[0], To: r[1]},
			InsertOpts: &river.InsertOpts{Queue: ShardQueue, Tags: sr.tags(), MaxAttempts: e.shardAttempts()}}
	}
	if _, err := queue.InsertManyTx(ctx, client, tx, params); err != nil {
		return nil, fmt.Errorf("start sharded run: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("start sharded run: %w", err)
	}
	e.logger().Info("sharded run started", "rulesets", sr.Rulesets, "runs", sr.RunIDs, "shards", sr.Shards)
	return sr, nil
}

// shardResult is what a pass over a shard counted, by slot: the output
// River keeps with the shard's job.
type shardResult struct {
	Customers int64               `json:"customers"`
	Slots     []slotResult        `json:"slots"`
	Refused   int64               `json:"refused,omitempty"`
	Refusals  []store.ErrorSample `json:"refusals,omitempty"`
}

type slotResult struct {
	Ruleset string              `json:"ruleset"`
	Rule    string              `json:"rule"`
	Matched int64               `json:"matched"`
	Skipped int64               `json:"skipped"`
	Errors  int64               `json:"errors"`
	Held    map[string]int64    `json:"held,omitempty"`
	Samples []store.ErrorSample `json:"samples,omitempty"`
}

// shardSets returns the rulesets of a sharded run from those a worker has
// loaded.
func shardSets(sr *ShardedRun, sets map[string]*rules.Ruleset) ([]*rules.Ruleset, error) {
	var out []*rules.Ruleset
	for _, name := range sr.Rulesets {
		rs, ok := sets[name]
		if !ok {
			return nil, fmt.Errorf("sharded run %v needs ruleset %q, which this worker has not loaded", sr.RunIDs, name)
		}
		out = append(out, rs)
	}
	return out, nil
}

// evaluateShard evaluates every rule of the sharded run for the customers
// of one shard, writing their proposals as a run in one process would, and
// returns what it counted.
func (e *Engine) evaluateShard(ctx context.Context, sets []*rules.Ruleset, sh *ShardArgs) (*shardResult, error) {
	now := sh.Clock.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	catalogue, err := e.Billing.Catalogue(ctx)
	if err != nil {
		return nil, err
	}
	results := make([]*Result, len(sets))
	var slots []slot
	for i, rs := range sets {
		results[i] = &Result{Run: store.Run{ID: sh.RunIDs[i], Ruleset: rs.Name, AsOf: today, StartedAt: now},
			Samples: map[string][]store.Proposal{}}
		for _, r := range rs.Enabled() {
			slots = append(slots, slot{set: i, rule: r})
		}
	}
	rng := billing.Range{From: sh.From, To: sh.To}
	found, err := e.earlierProposals(ctx, sets, slots, today, rng, sh.RunIDs...)
	if err != nil {
		return nil, err
	}
	contacts, err := e.policyState(ctx, sets, today, sh.RunIDs...)
	if err != nil {
		return nil, err
	}
	p := &pass{e: e, sets: sets, slots: slots, plans: catalogue, earlier: found, contacts: contacts, policy: e.policy(),
		now: now, today: today, opts: Options{Range: rng}, results: results}
	tallies, customers, err := p.evaluate(ctx)
	if err != nil {
		return nil, fmt.Errorf("runs %v shard %d: %w", sh.RunIDs, sh.Shard, err)
	}
	sr := &shardResult{Customers: customers, Refused: results[0].Refused, Refusals: results[0].Refusals}
	for i, sl := range slots {
		t := tallies[i]
		sr.Slots = append(sr.Slots, slotResult{Ruleset: sets[sl.set].Name, Rule: sl.rule.ID, Matched: t.matched,
			Skipped: t.skipped, Errors: t.errors, Held: t.held, Samples: t.errSamples})
	}
	return sr, nil
}

// sumShards adds up what the shards of a sharded run counted, by ruleset
// and rule.
func sumShards(outputs [][]byte) (sum map[[2]string]*slotResult, customers, refused int64, refusals []store.ErrorSample, err error) {
	sum = map[[2]string]*slotResult{}
	for _, b := range outputs {
		var sr shardResult
		if err := json.Unmarshal(b, &sr); err != nil {
			return nil, 0, 0, nil, fmt.Errorf("shard result: %w", err)
		}
		customers += sr.Customers
		refused += sr.Refused
		refusals = append(refusals, sr.Refusals...)
		for _, s := range sr.Slots {
			k := [2]string{s.Ruleset, s.Rule}
			t := sum[k]
			if t == nil {
				t = &slotResult{Held: map[string]int64{}}
				sum[k] = t
			}
			t.Matched += s.Matched
			t.Skipped += s.Skipped
			t.Errors += s.Errors
			for r, n := range s.Held {
				t.Held[r] += n
			}
			t.Samples = append(t.Samples, s.Samples...)
		}
	}
	return sum, customers, refused, refusals, nil
}

// finishSharded records the runs of a sharded run whose shards are all
// done, from the shards' outputs. A run recorded already (by an earlier
// attempt of the finishing job) is left as it is.
func (e *Engine) finishSharded(ctx context.Context, sr *ShardedRun, sets []*rules.Ruleset, outputs [][]byte) error {
	sum, customers, refused, refusals, err := sumShards(outputs)
	if err != nil {
		return fmt.Errorf("finish runs %v: %w", sr.RunIDs, err)
	}
	elapsed := time.Since(sr.Started)
	today := time.Date(sr.Clock.Year(), sr.Clock.Month(), sr.Clock.Day(), 0, 0, 0, 0, time.UTC)
	var errs []error
	for i, rs := range sets {
		if run, err := store.GetRun(ctx, e.DB, sr.RunIDs[i]); err != nil {
			return err
		} else if run.Status != store.RunRunning {
			continue
		}
		totals, err := store.RunTotals(ctx, e.DB, sr.RunIDs[i])
		if err != nil {
			return err
		}
		res := &Result{Run: store.Run{ID: sr.RunIDs[i], Ruleset: rs.Name, AsOf: today, StartedAt: sr.Clock,
			FinishedAt: sr.Clock.Add(elapsed), Status: store.RunSucceeded, Customers: customers,
			Refused: refused, Refusals: firstRefusals(refusals)}, Duration: elapsed}
		for _, r := range rs.Enabled() {
			t := sum[[2]string{rs.Name, r.ID}]
			if t == nil {
				t = &slotResult{}
			}
			sort.Slice(t.Samples, func(a, b int) bool { return t.Samples[a].CustomerID < t.Samples[b].CustomerID })
			if len(t.Samples) > maxErrorSamples {
				t.Samples = t.Samples[:maxErrorSamples]
			}
			stored := totals[r.ID]
			res.Rules = append(res.Rules, store.RunRule{RuleID: r.ID, RuleVersion: r.Version, Kind: r.Kind, Matched: t.Matched,
				Skipped: t.Skipped, Errors: t.Errors, Proposals: stored.Count, Value: stored.Value, Control: stored.Control, ErrorSamples: t.Samples})
			res.Proposals += stored.Count
			res.Errors += t.Errors
			if len(t.Held) > 0 {
				if res.Held == nil {
					res.Held = map[string]map[string]int64{}
				}
				res.Held[r.ID] = t.Held
			}
		}
		if err := e.holdUnhealthy(ctx, res); err != nil {
			errs = append(errs, err)
		}
		if err := store.FinishRun(ctx, e.DB, &res.Run); err != nil {
			errs = append(errs, err)
		} else if err := store.SaveHeld(ctx, e.DB, res.ID, res.Held); err != nil {
			errs = append(errs, err)
		}
		e.logger().Info("run finished", "ruleset", rs.Name, "run", res.ID, "shards", sr.Shards, "customers", customers, "proposals", res.Proposals)
	}
	return errors.Join(errs...)
}

// firstRefusals keeps the refusals of the lowest customer ids, as a run in
// one process would.
func firstRefusals(rs []store.ErrorSample) []store.ErrorSample {
	sort.Slice(rs, func(a, b int) bool { return rs[a].CustomerID < rs[b].CustomerID })
	return rs[:min(len(rs), billing.MaxRefusalSamples)]
}
