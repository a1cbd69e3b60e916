// Package engine runs rulesets over the billing data: it reads customers'
// facts in bulk, evaluates each compiled rule for each customer on a pool of
// workers, applies the contact policy (policy.go), and records the runs and
// their proposals — in one process, or split into shards that worker
// processes claim from PostgreSQL (shard.go).
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
	"strings"
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
	// MaxErrorShare is the share of a run's customers a rule may fail on
	// before it is unhealthy and its proposals are held back from review;
	// 0 means DefaultMaxErrorShare, a negative value never.
	MaxErrorShare float64
	// Budget bounds each evaluation of a rule for a customer; zero fields
	// take rules.DefaultBudget's. A rule over budget fails for that
	// customer, like any other runtime error.
	Budget rules.Budget
	// Policy is the contact policy; its zero value means DefaultPolicy.
	// A negative Cap turns the frequency cap off (one promotional proposal
	// per customer per run still holds).
	Policy Policy
	// HeartbeatEvery is how often a run records its heartbeat;
	// store.DefaultHeartbeat when zero.
	HeartbeatEvery time.Duration
	// WallClock is the clock of heartbeats and of their staleness; time.Now
	// when nil. Unlike Now it is never fixed.
	WallClock func() time.Time
	// StaleAfter is how old a running run's heartbeat must be for the run
	// to be taken for dead (see store.AbandonDeadRuns); store.StaleAfter
	// when zero.
	StaleAfter time.Duration
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
	// CollectHeld keeps every match held back, with its reason, in
	// Result.HeldMatches (for `run --dry-run --output`).
	CollectHeld bool
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
	// Held counts, per rule and reason, the matches the contact policy held
	// back.
	Held map[string]map[string]int64
	// Unhealthy gives, per rule that failed on too many customers, why its
	// proposals were held back from review.
	Unhealthy map[string]string
	// Uncovered counts, per rule and customer locale, the proposals whose
	// customer's language has none of the rule's templates: they get the
	// rule's own language.
	Uncovered map[string]map[string]int64
	// HeldMatches holds every match held back, ordered by rule and
	// customer, when Options.CollectHeld is set.
	HeldMatches []HeldMatch
}

// DefaultMaxErrorShare is the error share above which a rule is unhealthy.
const DefaultMaxErrorShare = 0.01

// maxErrorSamples is how many failing customers a run keeps per rule.
const maxErrorSamples = 5

// batchSize is how many customers travel together from reader to workers.
const batchSize = 256

// writeBatch is how many proposals are buffered before they are written.
const writeBatch = 10000

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
	res, err := e.RunAll(ctx, []*rules.Ruleset{rs}, opts)
	if len(res) == 1 {
		return res[0], err
	}
	return nil, err
}

// RunAll runs several rulesets in one pass over the billing data: each
// customer's facts are read once and every ruleset's rules evaluated on
// them. Each ruleset still gets a run of its own, as if run alone.
func (e *Engine) RunAll(ctx context.Context, sets []*rules.Ruleset, opts Options) ([]*Result, error) {
	start := time.Now()
	now := e.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	log := e.logger()
	names := make([]string, len(sets))
	for i, rs := range sets {
		names[i] = rs.Name
	}
	fail := func(err error) ([]*Result, error) {
		return nil, fmt.Errorf("run %s: %w", strings.Join(names, ", "), err)
	}

	catalogue, err := e.Billing.Catalogue(ctx)
	if err != nil {
		return fail(err)
	}
	currency := ""
	for i, p := range catalogue {
		if i == 0 {
			currency = p.Currency
		} else if p.Currency != currency {
			currency = ""
			break
		}
	}
	if !opts.DryRun {
		// Runs of these rulesets whose process died must not hold anyone
		// back: fail them and withdraw their proposals first.
		if err := e.recoverDead(ctx, names); err != nil {
			return fail(err)
		}
	}
	held := map[holdKey]hold{}
	results := make([]*Result, len(sets))
	var slots []slot
	for i, rs := range sets {
		res := &Result{Run: store.Run{Ruleset: rs.Name, DryRun: opts.DryRun, AsOf: today, StartedAt: now},
			Samples: map[string][]store.Proposal{}, Currency: currency}
		results[i] = res
		if !opts.IgnoreHeld {
			if err := e.heldBack(ctx, i, rs, today, held); err != nil {
				return fail(err)
			}
		}
		for _, r := range rs.Enabled() {
			slots = append(slots, slot{set: i, rule: r})
		}
	}
	var contacts policyState
	if !opts.IgnoreHeld {
		if contacts, err = e.policyState(ctx, sets, today); err != nil {
			return fail(err)
		}
	}
	for i, res := range results {
		if !opts.DryRun {
			res.HeartbeatAt = e.wall()
			if err := store.CreateRun(ctx, e.DB, &res.Run); err != nil {
				return fail(err)
			}
		}
		log.Info("run started", "ruleset", sets[i].Name, "run", res.ID, "rules", len(sets[i].Enabled()), "dry_run", opts.DryRun)
	}

	stopHeartbeat := e.keepAlive(results)
	tallies, customers, runErr := e.evaluate(ctx, sets, slots, catalogue, held, contacts, now, today, opts, results)
	stopHeartbeat()

	var errs []error
	for i, res := range results {
		res.Customers = customers
		res.Status = store.RunSucceeded
		if runErr != nil {
			res.Status = store.RunFailed
			res.Error = runErr.Error()
		}
		for si, sl := range slots {
			if sl.set != i {
				continue
			}
			t := tallies[si]
			sort.Slice(t.errSamples, func(a, b int) bool { return t.errSamples[a].CustomerID < t.errSamples[b].CustomerID })
			if len(t.errSamples) > maxErrorSamples {
				t.errSamples = t.errSamples[:maxErrorSamples]
			}
			r := sl.rule
			res.Rules = append(res.Rules, store.RunRule{RuleID: r.ID, RuleVersion: r.Version, Kind: r.Kind, Matched: t.matched,
				Skipped: t.skipped, Errors: t.errors, Proposals: t.stored, Value: t.value, Control: t.control, ErrorSamples: t.errSamples})
			if len(t.uncovered) > 0 {
				if res.Uncovered == nil {
					res.Uncovered = map[string]map[string]int64{}
				}
				res.Uncovered[r.ID] = t.uncovered
			}
			if len(t.held) > 0 {
				if res.Held == nil {
					res.Held = map[string]map[string]int64{}
				}
				res.Held[r.ID] = t.held
			}
			res.Proposals += t.stored
			res.HeldMatches = append(res.HeldMatches, t.kept...)
			res.Errors += t.errors
		}
		sortHeld(res.HeldMatches)
		// The end is the start on the run's clock plus the time the run
		// really took, so that a run at a fixed --now still has a duration.
		res.Duration = time.Since(start)
		res.FinishedAt = res.StartedAt.Add(res.Duration)
		if err := e.holdUnhealthy(ctx, res); err != nil {
			errs = append(errs, fmt.Errorf("run %s: %w", res.Ruleset, err))
		}
		if !opts.DryRun {
			// Record the end even if the run's context was cancelled.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			if err := store.FinishRun(fctx, e.DB, &res.Run); err != nil {
				errs = append(errs, fmt.Errorf("run %s: %w", res.Ruleset, err))
			} else if err := store.SaveHeld(fctx, e.DB, res.ID, res.Held); err != nil {
				errs = append(errs, fmt.Errorf("run %s: %w", res.Ruleset, err))
			}
			cancel()
		}
		log.Info("run finished", "ruleset", res.Ruleset, "run", res.ID, "status", res.Status, "customers", res.Customers,
			"proposals", res.Proposals, "errors", res.Errors, "refused", res.Refused, "duration", res.Duration.Round(time.Millisecond))
	}
	if runErr != nil {
		errs = append([]error{fmt.Errorf("run %s: %w", strings.Join(names, ", "), runErr)}, errs...)
	}
	return results, errors.Join(errs...)
}

// holdUnhealthy marks the rules of a run that failed on more than the
// allowed share of its customers, and holds their proposals back from
// review.
func (e *Engine) holdUnhealthy(ctx context.Context, res *Result) error {
	limit := e.MaxErrorShare
	if limit == 0 {
		limit = DefaultMaxErrorShare
	}
	if limit < 0 || res.Customers == 0 {
		return nil
	}
	for _, rr := range res.Rules {
		share := float64(rr.Errors) / float64(res.Customers)
		why := fmt.Sprintf("failed on %.1f%% of customers (limit %.1f%%)", 100*share, 100*limit)
		if broken := res.Held[rr.RuleID][ReasonBrokenPromise]; share <= limit && rr.Matched > 0 {
			// A rule that breaks its promises for more than the same
			// share of its matches is as unhealthy as one that fails.
			share = float64(broken) / float64(rr.Matched)
			why = fmt.Sprintf("broke its promises for %.1f%% of its matches (limit %.1f%%)", 100*share, 100*limit)
		}
		if share <= limit {
			continue
		}
		held := rr.Proposals
		if !res.DryRun && rr.Proposals > 0 {
			n, err := store.HoldProposals(context.WithoutCancel(ctx), e.DB, res.ID, rr.RuleID)
			if err != nil {
				return err
			}
			held = n
		}
		if res.Unhealthy == nil {
			res.Unhealthy = map[string]string{}
		}
		res.Unhealthy[rr.RuleID] = fmt.Sprintf("%s: its %d proposals are held back from review", why, held)
		if held > 0 {
			if res.Held == nil {
				res.Held = map[string]map[string]int64{}
			}
			if res.Held[rr.RuleID] == nil {
				res.Held[rr.RuleID] = map[string]int64{}
			}
			res.Held[rr.RuleID][ReasonUnhealthy] = held
		}
	}
	return nil
}

// slot is one enabled rule of one of the rulesets being run.
type slot struct {
	set  int
	rule *rules.Rule
}

// holdKey identifies a ruleset (by its index in the run), a rule and a
// customer.
type holdKey struct {
	set      int
	rule     string
	customer int64
}

// hold is the latest earlier proposal of a rule to a customer.
type hold struct {
	pending bool
	asOf    time.Time
}

// heldBack adds to held the earlier proposals of a ruleset that can hold
// back a new one: those pending and those within the longest cooldown.
func (e *Engine) heldBack(ctx context.Context, set int, rs *rules.Ruleset, today time.Time, held map[holdKey]hold, excludeRuns ...int64) error {
	var longest time.Duration
	for _, r := range rs.Rules {
		longest = max(longest, r.Cooldown)
	}
	keys, err := store.RecentProposals(ctx, e.DB, rs.Name, today.Add(-longest), excludeRuns...)
	if err != nil {
		return err
	}
	for _, k := range keys {
		hk := holdKey{set, k.RuleID, k.CustomerID}
		h := held[hk]
		h.pending = h.pending || k.Status == store.ProposalPending
		if k.AsOf.After(h.asOf) {
			h.asOf = k.AsOf
		}
		held[hk] = h
	}
	return nil
}

// HeldBy reports whether an earlier proposal of a rule to a customer, with
// the given status and date, holds back a new one today: it is still
// pending, was made today, or is within the rule's cooldown.
func HeldBy(r *rules.Rule, status string, asOf, today time.Time) bool {
	return status == store.ProposalPending || !asOf.Before(today) || today.Sub(asOf) < r.Cooldown
}

// tally is one rule's counts, kept per worker and then summed.
type tally struct {
	matched, skipped, errors, stored, value, control int64
	errSamples                                       []store.ErrorSample
	// held counts matches held back by the contact policy, by reason.
	held map[string]int64
	// uncovered counts proposals, by customer locale, whose customer's
	// language has no template of the rule.
	uncovered map[string]int64
	// kept holds the matches held back, with Options.CollectHeld.
	kept []HeldMatch
}

// hold counts a match held back for a reason.
func (t *tally) hold(reason string) {
	if t.held == nil {
		t.held = map[string]int64{}
	}
	t.held[reason]++
}

// policyState is what the contact policy needs to know before a run: the
// customers' recent promotional contacts and the active suppressions.
type policyState struct {
	recent       map[int64]int
	suppressions []store.Suppression
}

// policy returns the contact policy in force.
func (e *Engine) policy() Policy {
	if e.Policy == (Policy{}) {
		return DefaultPolicy
	}
	return e.Policy
}

func (e *Engine) policyState(ctx context.Context, sets []*rules.Ruleset, today time.Time, excludeRuns ...int64) (policyState, error) {
	var ps policyState
	var err error
	if ps.suppressions, err = store.ListSuppressions(ctx, e.DB, today); err != nil {
		return ps, err
	}
	if p := e.policy(); p.Cap > 0 && p.CapWindow > 0 {
		purpose := map[[2]string]string{}
		for _, rs := range sets {
			for _, r := range rs.Rules {
				purpose[[2]string{rs.Name, r.ID}] = r.Purpose
			}
		}
		since := today.Add(-p.CapWindow).AddDate(0, 0, 1)
		ps.recent, err = store.RecentContacts(ctx, e.DB, since, func(ruleset, rule string) string {
			return purpose[[2]string{ruleset, rule}]
		}, excludeRuns...)
		if err != nil {
			return ps, err
		}
	}
	return ps, nil
}

// evaluate reads every customer's facts once, evaluates every slot's rule on
// them on a pool of workers, and writes (or, in a dry run, only counts) the
// proposals. It returns the tallies by slot and the customers read.
func (e *Engine) evaluate(ctx context.Context, sets []*rules.Ruleset, slots []slot, catalogue []rules.Plan,
	held map[holdKey]hold, contacts policyState, now, today time.Time, opts Options, results []*Result) ([]tally, int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	workers := e.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	policy := e.policy()
	batches := make(chan []rules.Facts, workers*2)
	found := make(chan []store.Proposal, workers*2)
	var customers int64

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
		customers = int64(st.Customers)
		for _, res := range results { // customers refused for bad billing rows
			res.Refused = int64(st.Refused)
			for _, rf := range st.Refusals {
				res.Refusals = append(res.Refusals, store.ErrorSample{CustomerID: rf.CustomerID, Error: rf.Reason})
			}
		}
		if err != nil {
			cancel(err)
		}
	}()

	// Workers: evaluate every slot's rule for every customer.
	perWorker := make([][]tally, workers)
	var workWG sync.WaitGroup
	for w := 0; w < workers; w++ {
		perWorker[w] = make([]tally, len(slots))
		workWG.Add(1)
		go func(t []tally) {
			defer workWG.Done()
			var machine vm.VM
			limiter := rules.NewLimiter(ctx, e.Budget)
			var (
				cands     []Candidate
				candSlots []int
				outcomes  []rules.Outcome
			)
			failed := func(si int, customer int64, err error) {
				t[si].errors++
				if len(t[si].errSamples) < maxErrorSamples {
					t[si].errSamples = append(t[si].errSamples, store.ErrorSample{CustomerID: customer, Error: err.Error()})
				}
			}
			for batch := range batches {
				var out []store.Proposal
				for i := range batch {
					f := batch[i]
					f.Limit(limiter)
					var env any = f // boxed once for all the rules
					cands, candSlots, outcomes = cands[:0], candSlots[:0], outcomes[:0]
					for si, sl := range slots {
						o, err := sl.rule.EvalEnv(&machine, env)
						if err != nil {
							failed(si, f.Customer.ID, err)
							continue
						}
						if !o.Matched {
							continue
						}
						t[si].matched++
						if len(o.Broken) > 0 {
							// A match that breaks a promise is never
							// proposed, and does not compete with the
							// customer's other benefits.
							t[si].hold(ReasonBrokenPromise)
							for _, p := range o.Broken {
								t[si].hold(BrokenPromiseReason(p))
							}
							t[si].skipped++
							if opts.CollectHeld {
								t[si].keep(sets[sl.set], sl.rule, f, o, brokenDecision(o))
							}
							continue
						}
						c := Candidate{Ruleset: sets[sl.set].Name, Rule: sl.rule, Value: o.Value}
						if h, ok := held[holdKey{sl.set, sl.rule.ID, f.Customer.ID}]; ok {
							c.Earlier = &Earlier{AsOf: h.asOf}
							if h.pending {
								c.Earlier.Status = store.ProposalPending
							}
						}
						cands, candSlots, outcomes = append(cands, c), append(candSlots, si), append(outcomes, o)
					}
					if len(cands) == 0 {
						continue
					}
					contact := Contact{Customer: f.Customer, Recent: contacts.recent[f.Customer.ID], Suppressions: contacts.suppressions}
					for k, d := range policy.Decide(contact, cands, today) {
						si := candSlots[k]
						if d.Reason != "" {
							t[si].skipped++
							t[si].hold(d.Reason)
							if opts.CollectHeld {
								t[si].keep(sets[slots[si].set], slots[si].rule, f, outcomes[k], d)
							}
							continue
						}
						sl := slots[si]
						p, err := proposal(&machine, sets[sl.set], sl.rule, f, outcomes[k], results[sl.set].ID, now, today, !opts.DryRun)
						if err != nil {
							failed(si, f.Customer.ID, err)
							continue
						}
						if InControl(p.Ruleset, p.RuleID, p.CustomerID, sl.rule.Control) {
							p.Status = store.ProposalControl // kept back to measure
						} else if _, _, covered := sl.rule.TemplateFor(f.Customer.Locale); !covered {
							if t[si].uncovered == nil {
								t[si].uncovered = map[string]int64{}
							}
							t[si].uncovered[f.Customer.Locale]++
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
	type ruleKey struct{ ruleset, rule string }
	stored := map[ruleKey]store.Tally{}
	setOf := map[string]int{}
	for i, rs := range sets {
		setOf[rs.Name] = i
	}
	// The writer goroutine stores batches while the workers go on
	// evaluating: writing is the database's work, not this process's.
	toWrite := make(chan []store.Proposal, 2)
	var writeErr error
	var writeWG sync.WaitGroup
	writeWG.Add(1)
	go func() {
		defer writeWG.Done()
		for ps := range toWrite {
			if writeErr != nil {
				continue // drain
			}
			// One ruleset per call keeps the tallies apart.
			byRuleset := map[string][]store.Proposal{}
			for _, p := range ps {
				byRuleset[p.Ruleset] = append(byRuleset[p.Ruleset], p)
			}
			for name, part := range byRuleset {
				t, err := store.InsertProposals(ctx, e.DB, part)
				if err != nil {
					writeErr = err
					cancel(err)
					break
				}
				for rule, n := range t {
					k := ruleKey{name, rule}
					s := stored[k]
					s.Count += n.Count
					s.Value += n.Value
					s.Control += n.Control
					stored[k] = s
				}
			}
		}
	}()
	var pending []store.Proposal
	for ps := range found {
		for _, p := range ps {
			res := results[setOf[p.Ruleset]]
			if opts.Samples > 0 {
				s := append(res.Samples[p.RuleID], p)
				if len(s) >= 4*opts.Samples+64 {
					// Keep memory flat: only the lowest customer ids survive.
					s = lowest(s, opts.Samples)
				}
				res.Samples[p.RuleID] = s
			}
			if opts.Collect {
				res.Found = append(res.Found, p)
			}
			if opts.DryRun {
				k := ruleKey{p.Ruleset, p.RuleID}
				s := stored[k]
				s.Add(p.Status, p.Value)
				stored[k] = s
			}
		}
		if opts.DryRun {
			continue
		}
		pending = append(pending, ps...)
		if len(pending) >= writeBatch {
			select {
			case toWrite <- pending:
			case <-ctx.Done():
			}
			pending = nil
		}
	}
	if len(pending) > 0 && ctx.Err() == nil {
		toWrite <- pending
	}
	close(toWrite)
	writeWG.Wait()
	readWG.Wait()

	tallies := make([]tally, len(slots))
	for _, t := range perWorker {
		for i := range t {
			tallies[i].matched += t[i].matched
			tallies[i].skipped += t[i].skipped
			tallies[i].errors += t[i].errors
			tallies[i].errSamples = append(tallies[i].errSamples, t[i].errSamples...)
			tallies[i].kept = append(tallies[i].kept, t[i].kept...)
			for reason, n := range t[i].held {
				if tallies[i].held == nil {
					tallies[i].held = map[string]int64{}
				}
				tallies[i].held[reason] += n
			}
			for locale, n := range t[i].uncovered {
				if tallies[i].uncovered == nil {
					tallies[i].uncovered = map[string]int64{}
				}
				tallies[i].uncovered[locale] += n
			}
		}
	}
	for i, sl := range slots {
		k := ruleKey{sets[sl.set].Name, sl.rule.ID}
		tallies[i].stored = stored[k].Count
		tallies[i].value = stored[k].Value
		tallies[i].control = stored[k].Control
	}
	for _, res := range results {
		sort.Slice(res.Found, func(a, b int) bool {
			x, y := res.Found[a], res.Found[b]
			if x.RuleID != y.RuleID {
				return x.RuleID < y.RuleID
			}
			return x.CustomerID < y.CustomerID
		})
		for id, s := range res.Samples {
			res.Samples[id] = lowest(s, opts.Samples)
		}
	}

	if writeErr != nil {
		return tallies, customers, writeErr
	}
	if err := context.Cause(ctx); err != nil {
		return tallies, customers, err
	}
	return tallies, customers, nil
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
		ev := r.Evidence(machine, f, o)
		evidence, err = json.Marshal(ev)
		if err != nil {
			evidence, err = json.Marshal(jsonSafe(ev))
		}
		if err != nil {
			return store.Proposal{}, fmt.Errorf("evidence: %w", err)
		}
	}
	return store.Proposal{
		RunID: runID, Ruleset: rs.Name, RuleID: r.ID, RuleVersion: r.Version, CustomerID: f.Customer.ID,
		Kind: r.Kind, Value: int64(o.Value), Currency: f.Currency, Offer: offer, Evidence: evidence,
		Status: store.ProposalPending, AsOf: today, CreatedAt: now, AccountNo: f.Customer.AccountNo,
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
	st, err := e.Billing.Read(ctx, billing.Range{From: id, To: id + 1}, e.now().UTC(), catalogue, func(f rules.Facts) error {
		facts, found = f, true
		return nil
	})
	if err != nil {
		return rules.Facts{}, err
	}
	if len(st.Refusals) > 0 {
		return rules.Facts{}, fmt.Errorf("customer %d is refused: %s", id, st.Refusals[0].Reason)
	}
	if !found {
		return rules.Facts{}, fmt.Errorf("customer %d: %w", id, store.ErrNotFound)
	}
	return facts, nil
}
