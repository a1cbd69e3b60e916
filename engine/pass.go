package engine

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/policy"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/rules"
)

// pass is one pass over the billing data for one or more rulesets: what
// its three stages share. The reader streams customers' facts in batches,
// workers evaluate every rule on them and decide what to propose, and the
// writer stores the proposals (or, in a dry run, only counts them).
type pass struct {
	e     *Engine
	sets  []*rules.Ruleset
	slots []slot
	plans []rules.Plan
	// rater re-rates usage on the catalogue's slots for every worker.
	rater   *rules.Rater
	earlier earlierIndex
	// contacts is what the contact policy knows before the pass.
	contacts   policyState
	policy     policy.Policy
	now, today time.Time
	opts       Options
	results    []*Result
}

// evaluate runs the pass and returns each slot's tallies and the number of
// customers read.
func (p *pass) evaluate(ctx context.Context) ([]tally, int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	workers := p.e.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if p.rater == nil {
		p.rater = rules.NewRater(p.plans)
	}
	batches := make(chan []rules.Facts, workers*2)
	found := make(chan []store.Proposal, workers*2)

	var customers int64
	var readWG sync.WaitGroup
	readWG.Add(1)
	go func() {
		defer readWG.Done()
		defer close(batches)
		n, err := p.read(ctx, batches)
		customers = n
		if err != nil {
			cancel(err)
		}
	}()

	perWorker := make([][]tally, workers)
	var workWG sync.WaitGroup
	for i := range perWorker {
		w := &worker{pass: p, limiter: rules.NewLimiter(ctx, p.e.Budget), rating: p.rater.NewRating(), t: make([]tally, len(p.slots))}
		perWorker[i] = w.t
		workWG.Add(1)
		go func() {
			defer workWG.Done()
			w.work(ctx, batches, found)
		}()
	}
	go func() {
		workWG.Wait()
		close(found)
	}()

	stored, writeErr := p.write(ctx, cancel, found)
	readWG.Wait()

	tallies := sumTallies(perWorker, len(p.slots))
	for i, sl := range p.slots {
		k := ruleKey{p.sets[sl.set].Name, sl.rule.ID}
		tallies[i].stored, tallies[i].value, tallies[i].control = stored[k].Count, stored[k].Value, stored[k].Control
	}
	if writeErr != nil {
		return tallies, customers, writeErr
	}
	return tallies, customers, context.Cause(ctx)
}

// read streams the facts of every customer in the pass's range to batches,
// records the customers the reader refused, and returns how many it read.
func (p *pass) read(ctx context.Context, batches chan<- []rules.Facts) (int64, error) {
	batch := make([]rules.Facts, 0, batchSize)
	send := func() error {
		select {
		case batches <- batch:
			batch = make([]rules.Facts, 0, batchSize)
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	st, err := p.e.Billing.ReadWith(ctx, p.opts.Range, p.now, p.plans, p.readOptions(), func(f rules.Facts) error {
		batch = append(batch, f)
		if len(batch) == batchSize {
			return send()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = send()
	}
	for _, res := range p.results { // customers refused for bad billing rows
		res.Refused = int64(st.Refused)
		for _, rf := range st.Refusals {
			res.Refusals = append(res.Refusals, store.ErrorSample{CustomerID: rf.CustomerID, Error: rf.Reason})
		}
	}
	return int64(st.Customers), err
}

// readOptions narrow the pass's read to what its rules can read (unless
// Options.ReadEverything) and log each query at info.
func (p *pass) readOptions() billing.ReadOptions {
	var ro billing.ReadOptions
	if !p.opts.ReadEverything {
		rs := make([]*rules.Rule, len(p.slots))
		for i, sl := range p.slots {
			rs[i] = sl.rule
		}
		need := rules.ReadsOf(rs)
		ro.Need = &need
	}
	log := p.e.logger()
	ro.OnQuery = func(relation, query string, args []any) {
		log.Info("billing query", "relation", relation, "query", query, "args", fmt.Sprintf("%v", args))
	}
	return ro
}

// worker evaluates every rule of the pass for the customers of the batches
// it takes. A worker is one goroutine: it owns its VM, budget and tallies.
type worker struct {
	*pass
	machine vm.VM
	limiter *rules.Limiter
	rating  *rules.Rating
	t       []tally
	// The matches of the customer at hand that the contact policy weighs.
	cands     []policy.Candidate
	candSlots []int
	outcomes  []rules.Outcome
}

// work evaluates batches until there are no more, sending each batch's
// proposals to found.
func (w *worker) work(ctx context.Context, batches <-chan []rules.Facts, found chan<- []store.Proposal) {
	for batch := range batches {
		var out []store.Proposal
		for i := range batch {
			out = w.customer(batch[i], out)
		}
		if len(out) > 0 {
			select {
			case found <- out:
			case <-ctx.Done():
				return
			}
		}
		if w.e.Progress != nil {
			w.e.Progress(len(batch))
		}
	}
}

// customer evaluates every rule for one customer, holds back the matches
// that break a promise, lets the contact policy decide among the rest, and
// appends the proposals to out.
func (w *worker) customer(f rules.Facts, out []store.Proposal) []store.Proposal {
	f.Limit(w.limiter)
	f.Rate(w.rating)
	var env any = f // boxed once for all the rules
	w.cands, w.candSlots, w.outcomes = w.cands[:0], w.candSlots[:0], w.outcomes[:0]
	for si, sl := range w.slots {
		o, err := sl.rule.EvalEnv(&w.machine, env)
		if err != nil {
			w.t[si].fail(f.Customer.ID, err)
			continue
		}
		if !o.Matched {
			continue
		}
		w.t[si].matched++
		if len(o.Broken) > 0 {
			// A match that breaks a promise is never proposed, and does
			// not compete with the customer's other benefits.
			w.holdBack(si, f, o, brokenDecision(o), o.Broken)
			continue
		}
		w.cands = append(w.cands, w.candidate(si, f.Customer.ID, o))
		w.candSlots, w.outcomes = append(w.candSlots, si), append(w.outcomes, o)
	}
	if len(w.cands) == 0 {
		return out
	}
	contact := policy.Contact{Customer: f.Customer, Recent: w.contacts.recent[f.Customer.ID], Suppressions: w.contacts.suppressions}
	for k, d := range w.policy.Decide(contact, w.cands, w.today) {
		si := w.candSlots[k]
		if d.Reason != "" {
			w.holdBack(si, f, w.outcomes[k], d, nil)
			continue
		}
		if p, ok := w.propose(si, f, w.outcomes[k]); ok {
			out = append(out, p)
		}
	}
	return out
}

// candidate is a match as the contact policy sees it, with the latest
// earlier proposal of its rule to the customer.
func (w *worker) candidate(si int, customer int64, o rules.Outcome) policy.Candidate {
	sl := w.slots[si]
	c := policy.Candidate{Ruleset: w.sets[sl.set].Name, Rule: sl.rule, Value: o.Value}
	c.Earlier = w.earlier.find(si, customer)
	return c
}

// holdBack counts a match held back, for the decision's reason and each
// promise it broke.
func (w *worker) holdBack(si int, f rules.Facts, o rules.Outcome, d policy.Decision, broken []string) {
	t := &w.t[si]
	t.skipped++
	t.hold(d.Reason)
	for _, p := range broken {
		t.hold(policy.BrokenPromiseReason(p))
	}
	if w.opts.CollectHeld {
		sl := w.slots[si]
		t.keep(w.sets[sl.set], sl.rule, f, o, d)
	}
}

// propose builds the proposal of a match the contact policy let through;
// it is stored as control when the customer is in the rule's control group.
func (w *worker) propose(si int, f rules.Facts, o rules.Outcome) (store.Proposal, bool) {
	sl := w.slots[si]
	p, err := proposal(&w.machine, w.sets[sl.set], sl.rule, f, o, w.results[sl.set].ID, w.now, w.today, !w.opts.DryRun)
	if err != nil {
		w.t[si].fail(f.Customer.ID, err)
		return p, false
	}
	if InControl(p.Ruleset, p.RuleID, p.CustomerID, sl.rule.Control) {
		p.Status = store.ProposalControl // kept back to measure
	} else if _, _, covered := sl.rule.TemplateFor(f.Customer.Locale); !covered {
		addCount(&w.t[si].uncovered, f.Customer.Locale, 1)
	}
	return p, true
}

// ruleKey names a rule of a ruleset.
type ruleKey struct{ ruleset, rule string }

// write stores the proposals found, in batches, on a goroutine of its own
// so that the workers go on evaluating while the database writes; it keeps
// each ruleset's samples and, in a dry run, only counts. It returns what
// was stored (or counted) per rule.
func (p *pass) write(ctx context.Context, cancel context.CancelCauseFunc, found <-chan []store.Proposal) (map[ruleKey]store.Tally, error) {
	stored := map[ruleKey]store.Tally{}
	setOf := map[string]int{}
	for i, rs := range p.sets {
		setOf[rs.Name] = i
	}
	toWrite := make(chan []store.Proposal, 1) // one batch waits while one is written (see writeBatch)
	var writeErr error
	var writeWG sync.WaitGroup
	writeWG.Add(1)
	go func() {
		defer writeWG.Done()
		for ps := range toWrite {
			if writeErr != nil {
				continue // drain
			}
			if writeErr = p.insert(ctx, ps, stored); writeErr != nil {
				cancel(writeErr)
			}
		}
	}()
	var pending []store.Proposal
	for ps := range found {
		for _, pr := range ps {
			p.results[setOf[pr.Ruleset]].collect(pr, p.opts)
			if p.opts.DryRun {
				k := ruleKey{pr.Ruleset, pr.RuleID}
				s := stored[k]
				s.Add(pr.Status, pr.Value)
				stored[k] = s
			}
		}
		if p.opts.DryRun {
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
	for _, res := range p.results {
		res.sortCollected(p.opts.Samples)
	}
	return stored, writeErr
}

// insert stores proposals, one ruleset per call so that the tallies stay
// apart, and adds what was stored to stored.
func (p *pass) insert(ctx context.Context, ps []store.Proposal, stored map[ruleKey]store.Tally) error {
	byRuleset := map[string][]store.Proposal{}
	for _, pr := range ps {
		byRuleset[pr.Ruleset] = append(byRuleset[pr.Ruleset], pr)
	}
	for name, part := range byRuleset {
		t, err := store.InsertProposals(ctx, p.e.DB, part)
		if err != nil {
			return err
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
	return nil
}

// collect keeps a proposal as a sample and, with Options.Collect, in
// Found.
func (res *Result) collect(p store.Proposal, opts Options) {
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
}

// sortCollected orders Found by rule and customer and keeps the n samples
// of each rule with the lowest customer ids.
func (res *Result) sortCollected(n int) {
	sort.Slice(res.Found, func(a, b int) bool {
		x, y := res.Found[a], res.Found[b]
		if x.RuleID != y.RuleID {
			return x.RuleID < y.RuleID
		}
		return x.CustomerID < y.CustomerID
	})
	for id, s := range res.Samples {
		res.Samples[id] = lowest(s, n)
	}
}

// sumTallies adds up the workers' tallies, slot by slot.
func sumTallies(perWorker [][]tally, slots int) []tally {
	tallies := make([]tally, slots)
	for _, t := range perWorker {
		for i := range t {
			sum := &tallies[i]
			sum.matched += t[i].matched
			sum.skipped += t[i].skipped
			sum.errors += t[i].errors
			sum.errSamples = append(sum.errSamples, t[i].errSamples...)
			sum.kept = append(sum.kept, t[i].kept...)
			for reason, n := range t[i].held {
				addCount(&sum.held, reason, n)
			}
			for locale, n := range t[i].uncovered {
				addCount(&sum.uncovered, locale, n)
			}
		}
	}
	return tallies
}
