package engine

import (
	"sort"
	"strings"

	"github.com/goodturn/goodturn/engine/policy"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/rules"
)

// HeldMatch is a match the run held back instead of proposing: by a broken
// promise or by the contact policy, with the reason and its detail.
type HeldMatch struct {
	store.Proposal
	// Reason is one of Reasons: why the match was held back.
	Reason string
	// Detail says more: the promises broken, the rule that outranked it,
	// the suppression's reason.
	Detail string
}

// keep records a held match for Result.HeldMatches; a match whose offer
// cannot be built is kept without one.
func (t *tally) keep(rs *rules.Ruleset, r *rules.Rule, f rules.Facts, o rules.Outcome, d policy.Decision) {
	p, _ := proposal(nil, rs, r, f, o, 0, f.Now, f.Today, false)
	p.RuleID, p.Ruleset, p.CustomerID, p.Kind, p.Value, p.Currency = r.ID, rs.Name, f.Customer.ID, r.Kind, int64(o.Value), f.Currency
	p.Status = store.ProposalHeld
	t.kept = append(t.kept, HeldMatch{Proposal: p, Reason: d.Reason, Detail: d.Detail})
}

// brokenDecision is the decision on a match that breaks promises.
func brokenDecision(o rules.Outcome) policy.Decision {
	return policy.Decision{Reason: policy.ReasonBrokenPromise, Detail: strings.Join(o.Broken, "; ")}
}

// sortHeld orders held matches by ruleset, rule and customer.
func sortHeld(hs []HeldMatch) {
	sort.Slice(hs, func(a, b int) bool {
		x, y := hs[a], hs[b]
		if x.Ruleset != y.Ruleset {
			return x.Ruleset < y.Ruleset
		}
		if x.RuleID != y.RuleID {
			return x.RuleID < y.RuleID
		}
		return x.CustomerID < y.CustomerID
	})
}
