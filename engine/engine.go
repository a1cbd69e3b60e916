// Package engine runs rulesets over the billing data: it reads customers'
// facts in bulk, evaluates each compiled rule for each customer on a pool of
// workers, holds back what a cooldown forbids, and records the run and its
// proposals.
package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/rules"
)

// Engine evaluates rulesets against billing data.
type Engine struct {
	// DB holds goodturn's own tables: runs and proposals.
	DB *database.DB
	// Billing reads the billing relations, which may live in DB or elsewhere.
	Billing *billing.Reader
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Workers is the number of evaluating goroutines; GOMAXPROCS when zero.
	Workers int
	// Logger receives structured progress lines; slog.Default when nil.
	Logger *slog.Logger
	// Progress, when set, is called from time to time with the number of
	// customers read so far.
	Progress func(customers int)
}

// Options tune one run.
type Options struct {
	// DryRun evaluates and reports but writes nothing.
	DryRun bool
	// Range limits the run to a range of customer ids.
	Range billing.Range
	// Samples is how many matched proposals to keep in the result per rule
	// (for dry runs and the demo's summary).
	Samples int
	// IgnoreHeld evaluates as if no earlier proposal held anyone back, so
	// that a dry run shows everyone the rules match.
	IgnoreHeld bool
	// Collect keeps every proposal found in Result.Found (for diffs).
	Collect bool
}

// Result is what a run did.
type Result struct {
	store.Run
	// Samples holds, per rule id, the first matched proposals by customer id.
	Samples map[string][]store.Proposal
	// Found holds every proposal found, ordered by rule and customer, when
	// Options.Collect is set.
	Found []store.Proposal
	// Duration is the run's wall time.
	Duration time.Duration
	// Currency is the currency of the plan catalogue, when all its plans
	// share one: the currency of the run's totals.
	Currency string
}

// maxErrorSamples is how many failing customers a run keeps per rule.
const maxErrorSamples = 5

// batchSize is how many customers travel together from reader to workers.
const batchSize = 256

// writeBatch is how many proposals are buffered before they are written.
const writeBatch = 2000

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.Default()
}

// Run evaluates every enabled rule of the ruleset for every customer and,
// unless DryRun, records the run and its proposals. A rule that fails for a
// customer is counted and sampled and the run goes on; a failure to read or
// write stops the run, which is then recorded as failed. Running again on
// the same day proposes nothing twice.
func (e *Engine) Run(ctx context.Context, rs *rules.Ruleset, opts Options) (*Result, error) {
	start := time.Now()
	now := e.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	enabled := rs.Enabled()
	log := e.logger().With("ruleset", rs.Name)

	res := &Result{Run: store.Run{Ruleset: rs.Name, DryRun: opts.DryRun, AsOf: today, StartedAt: now}, Samples: map[string][]store.Proposal{}}
	held := map[holdKey]hold{}
	if !opts.IgnoreHeld {
		var err error
		if held, err = e.heldBack(ctx, rs, today); err != nil {
			return nil, fmt.Errorf("run %s: %w", rs.Name, err)
		}
	}
	catalogue, err := e.Billing.Catalogue(ctx)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", rs.Name, err)
	}
	for i, p := range catalogue {
		if i == 0 {
			res.Currency = p.Currency
		} else if p.Currency != res.Currency {
			res.Currency = ""
			break
		}
	}
	if !opts.DryRun {
		if err := store.CreateRun(ctx, e.DB, &res.Run); err != nil {
			return nil, fmt.Errorf("run %s: %w", rs.Name, err)
		}
	}
	log = log.With("run", res.ID)
	log.Info("run started", "rules", len(enabled), "dry_run", opts.DryRun)

	tallies, samples, runErr := e.evaluate(ctx, rs, enabled, catalogue, held, now, today, opts, res)

	res.Status = store.RunSucceeded
	if runErr != nil {
		res.Status = store.RunFailed
		res.Error = runErr.Error()
	}
	for i, r := range enabled {
		t := tallies[i]
		sort.Slice(t.errSamples, func(a, b int) bool { return t.errSamples[a].CustomerID < t.errSamples[b].CustomerID })
		if len(t.errSamples) > maxErrorSamples {
			t.errSamples = t.errSamples[:maxErrorSamples]
		}
		rr := store.RunRule{RuleID: r.ID, RuleVersion: r.Version, Kind: r.Kind, Matched: t.matched, Skipped: t.skipped,
			Errors: t.errors, Proposals: t.stored, Value: t.value, ErrorSamples: t.errSamples}
		res.Rules = append(res.Rules, rr)
		res.Proposals += t.stored
		res.Errors += t.errors
		if s := samples[r.ID]; len(s) > 0 {
			res.Samples[r.ID] = s
		}
	}
	res.FinishedAt = e.now().UTC()
	res.Duration = time.Since(start)
	if !opts.DryRun {
		// Record the end even if the run's context was cancelled.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := store.FinishRun(fctx, e.DB, &res.Run); err != nil {
			return res, errors.Join(runErr, fmt.Errorf("run %s: %w", rs.Name, err))
		}
	}
	log.Info("run finished", "status", res.Status, "customers", res.Customers, "proposals", res.Proposals,
		"errors", res.Errors, "duration", res.Duration.Round(time.Millisecond))
	if runErr != nil {
		return res, fmt.Errorf("run %s: %w", rs.Name, runErr)
	}
	return res, nil
}

// holdKey identifies a rule and a customer.
type holdKey struct {
	rule     string
	customer int64
}

// hold is the latest earlier proposal of a rule to a customer.
type hold struct {
	pending bool
	asOf    time.Time
}

// heldBack loads the earlier proposals that can hold back a new one: those
// pending and those within the longest cooldown.
func (e *Engine) heldBack(ctx context.Context, rs *rules.Ruleset, today time.Time) (map[holdKey]hold, error) {
	var longest time.Duration
	for _, r := range rs.Rules {
		longest = max(longest, r.Cooldown)
	}
	keys, err := store.RecentProposals(ctx, e.DB, rs.Name, today.Add(-longest))
	if err != nil {
		return nil, err
	}
	m := make(map[holdKey]hold, len(keys))
	for _, k := range keys {
		hk := holdKey{k.RuleID, k.CustomerID}
		h := m[hk]
		h.pending = h.pending || k.Status == store.ProposalPending
		if k.AsOf.After(h.asOf) {
			h.asOf = k.AsOf
		}
		m[hk] = h
	}
	return m, nil
}

// isHeld reports whether a rule may not propose to a customer today.
func isHeld(held map[holdKey]hold, r *rules.Rule, customer int64, today time.Time) bool {
	h, ok := held[holdKey{r.ID, customer}]
	if !ok {
		return false
	}
	status := ""
	if h.pending {
		status = store.ProposalPending
	}
	return HeldBy(r, status, h.asOf, today)
}

// HeldBy reports whether an earlier proposal of a rule to a customer, with
// the given status and date, holds back a new one today: it is still
// pending, was made today, or is within the rule's cooldown.
func HeldBy(r *rules.Rule, status string, asOf, today time.Time) bool {
	return status == store.ProposalPending || !asOf.Before(today) || today.Sub(asOf) < r.Cooldown
}

// tally is one rule's counts, kept per worker and then summed.
type tally struct {
	matched, skipped, errors, stored, value int64
	errSamples                              []store.ErrorSample
}

func (e *Engine) evaluate(ctx context.Context, rs *rules.Ruleset, enabled []*rules.Rule, catalogue []rules.Plan,
	held map[holdKey]hold, now, today time.Time, opts Options, res *Result) ([]tally, map[string][]store.Proposal, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	workers := e.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	batches := make(chan []rules.Facts, workers*2)
	found := make(chan []store.Proposal, workers*2)

	// Reader: stream facts in batches.
	var readWG sync.WaitGroup
	readWG.Add(1)
	go func() {
		defer readWG.Done()
		defer close(batches)
		batch := make([]rules.Facts, 0, batchSize)
		st, err := e.Billing.Read(ctx, opts.Range, now, catalogue, func(f rules.Facts) error {
			batch = append(batch, f)
			if len(batch) == batchSize {
				select {
				case batches <- batch:
				case <-ctx.Done():
					return context.Cause(ctx)
				}
				batch = make([]rules.Facts, 0, batchSize)
			}
			return nil
		})
		if err == nil && len(batch) > 0 {
			select {
			case batches <- batch:
			case <-ctx.Done():
				err = context.Cause(ctx)
			}
		}
		res.Customers = int64(st.Customers)
		if err != nil {
			cancel(err)
		}
	}()

	// Workers: evaluate every enabled rule for every customer.
	perWorker := make([][]tally, workers)
	var workWG sync.WaitGroup
	for w := 0; w < workers; w++ {
		perWorker[w] = make([]tally, len(enabled))
		workWG.Add(1)
		go func(t []tally) {
			defer workWG.Done()
			var machine vm.VM
			for batch := range batches {
				var out []store.Proposal
				for i := range batch {
					f := batch[i]
					for ri, r := range enabled {
						o, err := r.Eval(&machine, f)
						if err != nil {
							t[ri].errors++
							if len(t[ri].errSamples) < maxErrorSamples {
								t[ri].errSamples = append(t[ri].errSamples, store.ErrorSample{CustomerID: f.Customer.ID, Error: err.Error()})
							}
							continue
						}
						if !o.Matched {
							continue
						}
						t[ri].matched++
						if isHeld(held, r, f.Customer.ID, today) {
							t[ri].skipped++
							continue
						}
						p, err := proposal(&machine, rs, r, f, o, res.ID, now, today, !opts.DryRun)
						if err != nil {
							t[ri].errors++
							if len(t[ri].errSamples) < maxErrorSamples {
								t[ri].errSamples = append(t[ri].errSamples, store.ErrorSample{CustomerID: f.Customer.ID, Error: err.Error()})
							}
							continue
						}
						out = append(out, p)
					}
				}
				if len(out) > 0 {
					select {
					case found <- out:
					case <-ctx.Done():
						return
					}
				}
				if e.Progress != nil {
					e.Progress(len(batch))
				}
			}
		}(perWorker[w])
	}
	go func() {
		workWG.Wait()
		close(found)
	}()

	// Writer: store proposals in batches, keep samples.
	stored := map[string]store.Tally{}
	samples := map[string][]store.Proposal{}
	var pending []store.Proposal
	flush := func() error {
		if opts.DryRun || len(pending) == 0 {
			pending = pending[:0]
			return nil
		}
		t, err := store.InsertProposals(ctx, e.DB, pending)
		if err != nil {
			return err
		}
		for rule, n := range t {
			s := stored[rule]
			s.Count += n.Count
			s.Value += n.Value
			stored[rule] = s
		}
		pending = pending[:0]
		return nil
	}
	var writeErr error
	for ps := range found {
		for _, p := range ps {
			if opts.Samples > 0 {
				s := append(samples[p.RuleID], p)
				if len(s) >= 4*opts.Samples+64 {
					// Keep memory flat: only the lowest customer ids survive.
					s = lowest(s, opts.Samples)
				}
				samples[p.RuleID] = s
			}
			if opts.Collect {
				res.Found = append(res.Found, p)
			}
			if opts.DryRun {
				s := stored[p.RuleID]
				s.Count++
				s.Value += p.Value
				stored[p.RuleID] = s
			}
		}
		if writeErr != nil {
			continue // drain
		}
		pending = append(pending, ps...)
		if len(pending) >= writeBatch {
			if err := flush(); err != nil {
				writeErr = err
				cancel(err)
			}
		}
	}
	if writeErr == nil && ctx.Err() == nil {
		if err := flush(); err != nil {
			writeErr = err
		}
	}
	readWG.Wait()

	tallies := make([]tally, len(enabled))
	for _, t := range perWorker {
		for i := range t {
			tallies[i].matched += t[i].matched
			tallies[i].skipped += t[i].skipped
			tallies[i].errors += t[i].errors
			tallies[i].errSamples = append(tallies[i].errSamples, t[i].errSamples...)
		}
	}
	for i, r := range enabled {
		tallies[i].stored = stored[r.ID].Count
		tallies[i].value = stored[r.ID].Value
	}
	sort.Slice(res.Found, func(a, b int) bool {
		x, y := res.Found[a], res.Found[b]
		if x.RuleID != y.RuleID {
			return x.RuleID < y.RuleID
		}
		return x.CustomerID < y.CustomerID
	})
	for id, s := range samples {
		samples[id] = lowest(s, opts.Samples)
	}

	if writeErr != nil {
		return tallies, samples, writeErr
	}
	if err := context.Cause(ctx); err != nil {
		return tallies, samples, err
	}
	return tallies, samples, nil
}

// lowest returns the n proposals with the lowest customer ids, in order.
func lowest(ps []store.Proposal, n int) []store.Proposal {
	sort.Slice(ps, func(a, b int) bool { return ps[a].CustomerID < ps[b].CustomerID })
	if len(ps) > n {
		ps = ps[:n]
	}
	return ps
}

// proposal builds the stored proposal of a match, with its offer and (unless
// withEvidence is false) its evidence as JSON.
func proposal(machine *vm.VM, rs *rules.Ruleset, r *rules.Rule, f rules.Facts, o rules.Outcome, runID int64, now, today time.Time, withEvidence bool) (store.Proposal, error) {
	offer, err := orderedJSON(o.Offer)
	if err != nil {
		return store.Proposal{}, fmt.Errorf("offer: %w", err)
	}
	// A dry run stores nothing, so it skips the evidence: it costs a second
	// evaluation of the rule.
	evidence := json.RawMessage("{}")
	if withEvidence {
		evidence, err = json.Marshal(jsonSafe(r.Evidence(machine, f, o)))
		if err != nil {
			return store.Proposal{}, fmt.Errorf("evidence: %w", err)
		}
	}
	return store.Proposal{
		RunID: runID, Ruleset: rs.Name, RuleID: r.ID, RuleVersion: r.Version, CustomerID: f.Customer.ID,
		Kind: r.Kind, Value: int64(o.Value), Currency: f.Currency, Offer: offer, Evidence: evidence,
		Status: store.ProposalPending, AsOf: today, CreatedAt: now,
	}, nil
}

// jsonSafe replaces evidence values that JSON cannot hold (an infinite
// float, a map with non-string keys) with their printed form, so that odd
// values never cost a proposal its evidence.
func jsonSafe(ev rules.Evidence) rules.Evidence {
	fix := func(vs []rules.NamedValue) []rules.NamedValue {
		out := make([]rules.NamedValue, len(vs))
		for i, v := range vs {
			out[i] = v
			if _, err := json.Marshal(v.Value); err != nil {
				out[i].Value = fmt.Sprint(v.Value)
			}
		}
		return out
	}
	ev.Values, ev.Facts = fix(ev.Values), fix(ev.Facts)
	return ev
}

// orderedJSON writes named values as a JSON object in their declared order.
func orderedJSON(vs []rules.NamedValue) (json.RawMessage, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(v.Name)
		b.Write(k)
		b.WriteByte(':')
		value := v.Value
		if t, ok := value.(time.Time); ok && t.Equal(t.Truncate(24*time.Hour)) {
			value = t.Format(time.DateOnly) // a date, not an instant
		}
		val, err := json.Marshal(value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.Name, err)
		}
		b.Write(val)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// CustomerFacts assembles one customer's facts as a run at the engine's
// clock would, for explaining a decision.
func (e *Engine) CustomerFacts(ctx context.Context, id int64) (rules.Facts, error) {
	catalogue, err := e.Billing.Catalogue(ctx)
	if err != nil {
		return rules.Facts{}, err
	}
	var (
		facts rules.Facts
		found bool
	)
	_, err = e.Billing.Read(ctx, billing.Range{From: id, To: id + 1}, e.now().UTC(), catalogue, func(f rules.Facts) error {
		facts, found = f, true
		return nil
	})
	if err != nil {
		return rules.Facts{}, err
	}
	if !found {
		return rules.Facts{}, fmt.Errorf("customer %d: %w", id, store.ErrNotFound)
	}
	return facts, nil
}
