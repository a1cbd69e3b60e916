// Package engine runs rulesets over the billing data: it reads customers'
// facts in bulk, evaluates each compiled rule for each customer on a pool of
// workers, applies the contact policy (policy.go), and records the runs and
// their proposals — in one process, or split into shards, River jobs that
// any number of worker processes work (shard.go, shardjobs.go).
package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/policy"
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
	// ShardTimeout is how long a shard's job of a sharded run this engine
	// starts may run before it is cancelled, or, its worker dead, rescued
	// and worked again; DefaultRescueAfter when zero.
	ShardTimeout time.Duration
	// ShardAttempts is how many times each job of a sharded run this
	// engine starts is tried before the run fails; DefaultShardAttempts
	// when zero.
	ShardAttempts int
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
	Policy policy.Policy
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
	// ReadEverything reads every billing relation whole instead of only
	// what the enabled rules can read (rules.ReadsOf).
	ReadEverything bool
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

// writeBatch is how many proposals are buffered before they are written,
// with one batch more waiting while one is written: with GOGC at 400 the
// heap grows to five times what is live, and the proposals waiting to be
// written, with their evidence, are most of that. At 10,000 a run of
// 100,000 customers peaked at 250 MB without the soft memory limit; at
// 1,500, one waiting, a run of 1,000,000 peaks at 160 MB, no slower.
const writeBatch = 1500

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
	names := make([]string, len(sets))
	for i, rs := range sets {
		names[i] = rs.Name
	}
	p, err := e.prepare(ctx, sets, names, opts)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", strings.Join(names, ", "), err)
	}
	stopHeartbeat := e.keepAlive(p.results)
	tallies, customers, runErr := p.evaluate(ctx)
	stopHeartbeat()

	var errs []error
	if runErr != nil {
		errs = append(errs, fmt.Errorf("run %s: %w", strings.Join(names, ", "), runErr))
	}
	for i, res := range p.results {
		res.Customers = customers
		res.Status = store.RunSucceeded
		if runErr != nil {
			res.Status, res.Error = store.RunFailed, runErr.Error()
		}
		p.tell(i, tallies)
		// The end is the start on the run's clock plus the time the run
		// really took, so that a run at a fixed --now still has a duration.
		res.Duration = time.Since(start)
		res.FinishedAt = res.StartedAt.Add(res.Duration)
		if err := e.finish(ctx, res); err != nil {
			errs = append(errs, fmt.Errorf("run %s: %w", res.Ruleset, err))
		}
		e.logger().Info("run finished", "ruleset", res.Ruleset, "run", res.ID, "status", res.Status, "customers", res.Customers,
			"proposals", res.Proposals, "errors", res.Errors, "refused", res.Refused, "duration", res.Duration.Round(time.Millisecond))
	}
	return p.results, errors.Join(errs...)
}

// prepare reads what a pass needs before it starts — the plan catalogue,
// the earlier proposals that hold customers back, what the contact policy
// knows — fails the dead runs of these rulesets, and records a run for
// each ruleset (unless a dry run).
func (e *Engine) prepare(ctx context.Context, sets []*rules.Ruleset, names []string, opts Options) (*pass, error) {
	now := e.now().UTC()
	p := &pass{e: e, sets: sets, policy: e.policy(), now: now,
		today: time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC), opts: opts}
	var err error
	if p.plans, err = e.Billing.Catalogue(ctx); err != nil {
		return nil, err
	}
	if !opts.DryRun {
		// Runs of these rulesets whose process died must not hold anyone
		// back: fail them and withdraw their proposals first.
		if err := e.recoverDead(ctx, names); err != nil {
			return nil, err
		}
	}
	currency := catalogueCurrency(p.plans)
	for i, rs := range sets {
		p.results = append(p.results, &Result{Run: store.Run{Ruleset: rs.Name, DryRun: opts.DryRun, AsOf: p.today, StartedAt: now},
			Samples: map[string][]store.Proposal{}, Currency: currency})
		for _, r := range rs.Enabled() {
			p.slots = append(p.slots, slot{set: i, rule: r})
		}
	}
	if !opts.IgnoreHeld {
		if p.earlier, err = e.earlierProposals(ctx, sets, p.slots, p.today, opts.Range); err != nil {
			return nil, err
		}
		if p.contacts, err = e.policyState(ctx, sets, p.today); err != nil {
			return nil, err
		}
	}
	for i, res := range p.results {
		if !opts.DryRun {
			res.HeartbeatAt = e.wall()
			if err := store.CreateRun(ctx, e.DB, &res.Run); err != nil {
				return nil, err
			}
		}
		e.logger().Info("run started", "ruleset", sets[i].Name, "run", res.ID, "rules", len(sets[i].Enabled()), "dry_run", opts.DryRun)
	}
	return p, nil
}

// catalogueCurrency is the currency of every plan of the catalogue, or ""
// when they do not share one.
func catalogueCurrency(plans []rules.Plan) string {
	currency := ""
	for i, p := range plans {
		if i == 0 {
			currency = p.Currency
		} else if p.Currency != currency {
			return ""
		}
	}
	return currency
}

// tell puts the tallies of ruleset i's rules into its result.
func (p *pass) tell(i int, tallies []tally) {
	res := p.results[i]
	for si, sl := range p.slots {
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
}

// finish holds back the proposals of the run's unhealthy rules and, unless
// a dry run, records the run's end and why matches were held back.
func (e *Engine) finish(ctx context.Context, res *Result) error {
	err := e.holdUnhealthy(ctx, res)
	if res.DryRun {
		return err
	}
	// Record the end even if the run's context was cancelled.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if ferr := store.FinishRun(fctx, e.DB, &res.Run); ferr != nil {
		return errors.Join(err, ferr)
	}
	return errors.Join(err, store.SaveHeld(fctx, e.DB, res.ID, res.Held))
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
		if broken := res.Held[rr.RuleID][policy.ReasonBrokenPromise]; share <= limit && rr.Matched > 0 {
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
			res.Held[rr.RuleID][policy.ReasonUnhealthy] = held
		}
	}
	return nil
}

// slot is one enabled rule of one of the rulesets being run.
type slot struct {
	set  int
	rule *rules.Rule
}

// tally is one rule's counts, kept per worker and then summed.
type tally struct {
	matched, skipped, errors, stored, value, control int64
	errSamples                                       []store.ErrorSample
	// held counts matches held back (by a broken promise or the contact
	// policy), by reason.
	held map[string]int64
	// uncovered counts proposals, by customer locale, whose customer's
	// language has no template of the rule.
	uncovered map[string]int64
	// kept holds the matches held back, with Options.CollectHeld.
	kept []HeldMatch
}

// hold counts a match held back for a reason.
func (t *tally) hold(reason string) { addCount(&t.held, reason, 1) }

// addCount adds n to a key of a map of counts, making the map if need be.
func addCount(m *map[string]int64, key string, n int64) {
	if *m == nil {
		*m = map[string]int64{}
	}
	(*m)[key] += n
}

// fail counts a rule's failure for a customer and keeps a few samples.
func (t *tally) fail(customer int64, err error) {
	t.errors++
	if len(t.errSamples) < maxErrorSamples {
		t.errSamples = append(t.errSamples, store.ErrorSample{CustomerID: customer, Error: err.Error()})
	}
}

// policyState is what the contact policy needs to know before a run: the
// customers' recent promotional contacts and the active suppressions.
type policyState struct {
	recent       map[int64]int
	suppressions []policy.Suppression
}

// policy returns the contact policy in force.
func (e *Engine) policy() policy.Policy {
	if e.Policy == (policy.Policy{}) {
		return policy.DefaultPolicy
	}
	return e.Policy
}

func (e *Engine) policyState(ctx context.Context, sets []*rules.Ruleset, today time.Time, excludeRuns ...int64) (policyState, error) {
	var ps policyState
	var err error
	active, err := store.ListSuppressions(ctx, e.DB, today)
	if err != nil {
		return ps, err
	}
	for _, s := range active {
		ps.suppressions = append(ps.suppressions, s)
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
		var buf []byte
		if buf, err = ev.AppendJSON(make([]byte, 0, 2048)); err == nil {
			// Exactly its size: proposals wait in memory to be written.
			evidence = bytes.Clone(buf)
		} else {
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
	b := make([]byte, 0, 64*len(vs)+2)
	b = append(b, '{')
	var err error
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = rules.AppendJSONValue(b, v.Name); err != nil {
			return nil, fmt.Errorf("%s: %w", v.Name, err)
		}
		b = append(b, ':')
		value := v.Value
		if t, ok := value.(time.Time); ok && t.Equal(t.Truncate(24*time.Hour)) {
			value = t.Format(time.DateOnly) // a date, not an instant
		}
		if b, err = rules.AppendJSONValue(b, value); err != nil {
			return nil, fmt.Errorf("%s: %w", v.Name, err)
		}
	}
	return bytes.Clone(append(b, '}')), nil
}

// CustomerFacts assembles one customer's facts as a run at the engine's
// clock would, for explaining a decision (billing.Reader.CustomerFacts).
func (e *Engine) CustomerFacts(ctx context.Context, id int64) (rules.Facts, error) {
	return e.Billing.CustomerFacts(ctx, id, e.now().UTC())
}
