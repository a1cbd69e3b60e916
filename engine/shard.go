package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/rules"
)

// DefaultLease is how long a worker holds a shard without renewing it.
const DefaultLease = 30 * time.Second

// StartJob starts a sharded run of the rulesets: it records a run for each
// and splits the customers into shards of about the same number of
// customers (quantiles of the ids present) that any number of
// worker processes claim from PostgreSQL (see Work). The result is the same
// as a single-process RunAll at the same clock.
func (e *Engine) StartJob(ctx context.Context, sets []*rules.Ruleset, shards int) (*store.Job, error) {
	if shards < 1 {
		return nil, fmt.Errorf("start job: %d shards", shards)
	}
	now := e.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	ranges, err := store.CustomerShards(ctx, e.Billing.DB, shards)
	if err != nil {
		return nil, fmt.Errorf("start job: %w", err)
	}
	job := &store.Job{Clock: now, CreatedAt: time.Now().UTC()}
	if !e.DB.IsPostgres() {
		return nil, fmt.Errorf("start job: %w", store.ErrNeedsPostgres)
	}
	for _, rs := range sets {
		run := store.Run{Ruleset: rs.Name, AsOf: today, StartedAt: now}
		if err := store.CreateRun(ctx, e.DB, &run); err != nil {
			return nil, fmt.Errorf("start job: %w", err)
		}
		job.Rulesets = append(job.Rulesets, rs.Name)
		job.RunIDs = append(job.RunIDs, run.ID)
	}
	if err := store.CreateJob(ctx, e.DB, job, ranges); err != nil {
		return nil, fmt.Errorf("start job: %w", err)
	}
	e.logger().Info("job started", "job", job.ID, "rulesets", job.Rulesets, "runs", job.RunIDs, "shards", shards)
	return job, nil
}

// Work claims shards of running jobs and evaluates them until none is left
// to claim, and returns how many it finished. The worker that finishes a
// job's last shard records its runs. A worker that dies loses its lease;
// its shard is claimed again when the lease runs out, and since proposals
// are written idempotently, evaluating a shard twice proposes nothing twice.
func (e *Engine) Work(ctx context.Context, sets map[string]*rules.Ruleset, owner string, lease time.Duration) (int, error) {
	if lease <= 0 {
		lease = DefaultLease
	}
	done := 0
	for ctx.Err() == nil {
		sh, err := store.ClaimShard(ctx, e.DB, owner, lease)
		if err != nil {
			return done, err
		}
		if sh == nil {
			// Nothing to claim; record any job whose last worker died
			// while recording it.
			return done, e.finishOrphans(ctx, sets, lease)
		}
		if err := e.workShard(ctx, sets, sh, owner, lease); err != nil {
			return done, err
		}
		done++
	}
	return done, ctx.Err()
}

// shardResult is what a pass over a shard counted, by slot.
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

func (e *Engine) jobSets(job *store.Job, sets map[string]*rules.Ruleset) ([]*rules.Ruleset, error) {
	var out []*rules.Ruleset
	for _, name := range job.Rulesets {
		rs, ok := sets[name]
		if !ok {
			return nil, fmt.Errorf("job %d needs ruleset %q, which this worker has not loaded", job.ID, name)
		}
		out = append(out, rs)
	}
	return out, nil
}

func (e *Engine) workShard(ctx context.Context, all map[string]*rules.Ruleset, sh *store.Shard, owner string, lease time.Duration) error {
	log := e.logger().With("job", sh.JobID, "shard", sh.Shard, "owner", owner)
	job, err := store.GetJob(ctx, e.DB, sh.JobID)
	if err != nil {
		return err
	}
	sets, err := e.jobSets(job, all)
	if err != nil {
		return err
	}
	// Keep the lease while the shard is evaluated.
	wctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go func() {
		t := time.NewTicker(lease / 3)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
				ok, err := store.ExtendLease(wctx, e.DB, sh, owner, lease)
				if err == nil && !ok {
					stop(errors.New("lost the lease"))
					return
				}
			}
		}
	}()

	now := job.Clock.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	catalogue, err := e.Billing.Catalogue(wctx)
	if err != nil {
		return err
	}
	found := map[earlierKey]earlier{}
	results := make([]*Result, len(sets))
	var slots []slot
	for i, rs := range sets {
		results[i] = &Result{Run: store.Run{ID: job.RunIDs[i], Ruleset: rs.Name, AsOf: today, StartedAt: now},
			Samples: map[string][]store.Proposal{}}
		if err := e.earlierProposals(wctx, i, rs, today, found, job.RunIDs...); err != nil {
			return err
		}
		for _, r := range rs.Enabled() {
			slots = append(slots, slot{set: i, rule: r})
		}
	}
	contacts, err := e.policyState(wctx, sets, today, job.RunIDs...)
	if err != nil {
		return err
	}
	p := &pass{e: e, sets: sets, slots: slots, plans: catalogue, earlier: found, contacts: contacts, policy: e.policy(),
		now: now, today: today, opts: Options{Range: billing.Range{From: sh.From, To: sh.To}}, results: results}
	tallies, customers, err := p.evaluate(wctx)
	if err != nil {
		if cause := context.Cause(wctx); cause != nil && ctx.Err() == nil {
			log.Warn("shard abandoned", "reason", cause)
			return nil // another worker has it now
		}
		return fmt.Errorf("job %d shard %d: %w", sh.JobID, sh.Shard, err)
	}
	sr := shardResult{Customers: customers, Refused: results[0].Refused, Refusals: results[0].Refusals}
	for i, sl := range slots {
		t := tallies[i]
		sr.Slots = append(sr.Slots, slotResult{Ruleset: sets[sl.set].Name, Rule: sl.rule.ID, Matched: t.matched,
			Skipped: t.skipped, Errors: t.errors, Held: t.held, Samples: t.errSamples})
	}
	b, err := json.Marshal(sr)
	if err != nil {
		return err
	}
	ok, err := store.FinishShard(ctx, e.DB, sh, owner, b)
	if err != nil {
		return err
	}
	if !ok {
		log.Warn("shard finished after its lease ran out; another worker's pass counts")
		return nil
	}
	log.Info("shard done", "customers", customers, "from", sh.From, "to", sh.To, "attempt", sh.Attempts)
	last, err := store.ClaimJobFinish(ctx, e.DB, job.ID, lease)
	if err != nil || !last {
		return err
	}
	return e.finishJob(ctx, job, sets)
}

// finishOrphans records the runs of jobs whose shards are all done but that
// no live worker is recording.
func (e *Engine) finishOrphans(ctx context.Context, all map[string]*rules.Ruleset, lease time.Duration) error {
	ids, err := store.UnfinishedDoneJobs(ctx, e.DB)
	if err != nil {
		return err
	}
	for _, id := range ids {
		ok, err := store.ClaimJobFinish(ctx, e.DB, id, lease)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		job, err := store.GetJob(ctx, e.DB, id)
		if err != nil {
			return err
		}
		sets, err := e.jobSets(job, all)
		if err != nil {
			return err
		}
		if err := e.finishJob(ctx, job, sets); err != nil {
			return err
		}
	}
	return nil
}

// finishJob records the runs of a job whose shards are all done.
func (e *Engine) finishJob(ctx context.Context, job *store.Job, sets []*rules.Ruleset) error {
	raw, err := store.ShardResults(ctx, e.DB, job.ID)
	if err != nil {
		return err
	}
	type key struct{ ruleset, rule string }
	sum := map[key]*slotResult{}
	var customers, refused int64
	var refusals []store.ErrorSample
	for _, b := range raw {
		var sr shardResult
		if err := json.Unmarshal(b, &sr); err != nil {
			return fmt.Errorf("job %d: shard result: %w", job.ID, err)
		}
		customers += sr.Customers
		refused += sr.Refused
		refusals = append(refusals, sr.Refusals...)
		for _, s := range sr.Slots {
			k := key{s.Ruleset, s.Rule}
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
	elapsed := time.Since(job.CreatedAt)
	var errs []error
	for i, rs := range sets {
		totals, err := store.RunTotals(ctx, e.DB, job.RunIDs[i])
		if err != nil {
			return err
		}
		today := time.Date(job.Clock.Year(), job.Clock.Month(), job.Clock.Day(), 0, 0, 0, 0, time.UTC)
		res := &Result{Run: store.Run{ID: job.RunIDs[i], Ruleset: rs.Name, AsOf: today, StartedAt: job.Clock,
			FinishedAt: job.Clock.Add(elapsed), Status: store.RunSucceeded, Customers: customers,
			Refused: refused, Refusals: firstRefusals(refusals)}, Duration: elapsed}
		for _, r := range rs.Enabled() {
			t := sum[key{rs.Name, r.ID}]
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
		e.logger().Info("run finished", "ruleset", rs.Name, "run", res.ID, "job", job.ID, "customers", customers, "proposals", res.Proposals)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return store.CompleteJob(ctx, e.DB, job.ID, time.Now())
}

// firstRefusals keeps the refusals of the lowest customer ids, as a run in
// one process would.
func firstRefusals(rs []store.ErrorSample) []store.ErrorSample {
	sort.Slice(rs, func(a, b int) bool { return rs[a].CustomerID < rs[b].CustomerID })
	return rs[:min(len(rs), billing.MaxRefusalSamples)]
}
