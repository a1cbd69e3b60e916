// Package policy is the contact policy: which of the benefits that matched
// a customer are proposed now and why the others are held back — broken
// promises, suppressions, opt-outs, unreachable customers, consent,
// pending proposals and cooldowns, the frequency cap and one winner among
// promotional benefits. It depends only on the rule language.
package policy

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/goodturn/goodturn/rules"
)

// Reasons a matched rule is held back instead of proposed. Every decision
// of the contact policy carries one; a proposal carries none.
const (
	ReasonSuppressed   = "suppressed"
	ReasonOptedOut     = "opted_out"
	ReasonNoConsent    = "no_marketing_consent"
	ReasonPending      = "pending"
	ReasonCooldown     = "cooldown"
	ReasonFrequencyCap = "frequency_cap"
	ReasonOutranked    = "outranked"
	// ReasonUnreachable holds back a match for a customer who has none of
	// the rule's channels: no email address for email, no phone number for
	// SMS.
	ReasonUnreachable = "unreachable"
	// ReasonUnhealthy holds back the proposals of a rule that failed on
	// more than the allowed share of the run's customers, or broke its
	// promises for more than that share of its matches.
	ReasonUnhealthy = "unhealthy"
	// ReasonBrokenPromise holds back a match that breaks one of its rule's
	// promises (the rule's `require:` or its kind's built-in ones). It is
	// checked before the contact policy; BrokenPromiseReason counts each
	// promise broken on its own.
	ReasonBrokenPromise = "broken_promise"
)

// Reasons lists every reason in the order they are checked.
var Reasons = []string{ReasonBrokenPromise, ReasonSuppressed, ReasonOptedOut, ReasonUnreachable, ReasonNoConsent, ReasonPending, ReasonCooldown, ReasonFrequencyCap, ReasonOutranked, ReasonUnhealthy}

// brokenPromisePrefix starts the held-back reason of one broken promise.
const brokenPromisePrefix = ReasonBrokenPromise + ": "

// BrokenPromiseReason is the reason that counts the matches breaking one
// promise: "broken_promise: offer.new_price < offer.current_price". A
// match breaking two promises counts once under ReasonBrokenPromise and
// once under each of theirs.
func BrokenPromiseReason(promise string) string { return brokenPromisePrefix + promise }

// BrokenPromises returns, from a rule's held-back counts, the count of each
// broken promise, by promise.
func BrokenPromises(held map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for reason, n := range held {
		if p, ok := strings.CutPrefix(reason, brokenPromisePrefix); ok {
			out[p] = n
		}
	}
	return out
}

// Policy is the contact policy: one layer, applied after the rules and
// before proposals are stored, that keeps customers from being pestered.
//
// In order: a suppression covering the customer and rule holds it back; so
// does the customer's contact opt-out, and having none of the rule's
// channels (no email address for an email, no phone number for an SMS);
// a promotional rule needs marketing
// consent (service rules go regardless); a pending proposal of the same rule,
// or one within the rule's cooldown, holds it back. Then, for promotional
// rules only, the frequency cap counts the customer's proposals within the
// cap's window across all rules, and of the promotional benefits still
// competing the highest yearly value wins (ties to the ruleset and rule id
// that sort first) and the rest wait for a later run. Service rules (a free
// replacement SIM, an end-of-contract notice) are neither capped nor
// outranked.
type Policy struct {
	// Cap is how many promotional proposals a customer may get within
	// CapWindow across all rules; 0 or less means no cap beyond one per
	// run.
	Cap int
	// CapWindow is the window of the frequency cap.
	CapWindow time.Duration
}

// DefaultPolicy is one promotional message per customer per 7 days.
var DefaultPolicy = Policy{Cap: 1, CapWindow: 7 * 24 * time.Hour}

// Candidate is a rule that matched a customer, before the policy.
type Candidate struct {
	Ruleset string
	Rule    *rules.Rule
	// Value is the yearly value to the customer.
	Value int
	// Earlier is the latest earlier proposal of this rule to the customer.
	Earlier *Earlier
}

// Earlier is the latest earlier proposal of a rule to a customer.
type Earlier struct {
	// Pending reports that it still waits for review.
	Pending bool
	// AsOf is the day it was proposed.
	AsOf time.Time
}

// Suppression keeps the customers it covers from being contacted: a
// customer or a segment, for a rule, a ruleset or everything, until it
// expires. store.Suppression is one.
type Suppression interface {
	// Covers reports whether it applies to a customer in a segment for a
	// rule on a day.
	Covers(customer int64, segment, ruleset, rule string, today time.Time) bool
	// Describe says why, and who asked: "complaint open (by ana)".
	Describe() string
}

// Decision is what the policy made of a candidate: Reason is "" when the
// candidate is proposed, else why it is held back; Detail says more (the
// rule that outranked it, the suppression's reason).
type Decision struct {
	Reason string
	Detail string
}

// Contact is what the policy knows of the customer.
type Contact struct {
	Customer rules.Customer
	// Recent is how many promotional proposals the customer got within the
	// cap's window before this run.
	Recent int
	// Suppressions are the active suppressions.
	Suppressions []Suppression
}

// Decide applies the policy to one customer's candidates and returns a
// decision for each, in the same order.
func (p Policy) Decide(c Contact, cands []Candidate, today time.Time) []Decision {
	out := make([]Decision, len(cands))
	var competing []int
	for i, cand := range cands {
		r := cand.Rule
		if s := suppressed(c, cand, today); s != nil {
			out[i] = Decision{Reason: ReasonSuppressed, Detail: s.Describe()}
			continue
		}
		if c.Customer.ContactOptOut {
			out[i] = Decision{Reason: ReasonOptedOut}
			continue
		}
		if chs := r.Message.Channels; len(chs) > 0 && len(c.Customer.Reachable(chs)) == 0 {
			out[i] = Decision{Reason: ReasonUnreachable, Detail: "no " + strings.Join(r.Message.Channels, " or ") + " contact"}
			continue
		}
		service := r.Purpose == "service"
		if !service && !c.Customer.MarketingOptIn {
			out[i] = Decision{Reason: ReasonNoConsent}
			continue
		}
		if e := cand.Earlier; e != nil {
			if e.Pending {
				out[i] = Decision{Reason: ReasonPending, Detail: "proposed " + e.AsOf.Format(time.DateOnly)}
				continue
			}
			if HeldBy(r, false, e.AsOf, today) {
				out[i] = Decision{Reason: ReasonCooldown, Detail: "proposed " + e.AsOf.Format(time.DateOnly)}
				continue
			}
		}
		if !service {
			competing = append(competing, i)
		}
	}
	// Frequency cap and arbitration among the promotional benefits.
	sort.SliceStable(competing, func(a, b int) bool {
		x, y := cands[competing[a]], cands[competing[b]]
		if x.Value != y.Value {
			return x.Value > y.Value
		}
		if x.Ruleset != y.Ruleset {
			return x.Ruleset < y.Ruleset
		}
		return x.Rule.ID < y.Rule.ID
	})
	room := 1
	if p.Cap > 0 {
		room = min(1, p.Cap-c.Recent)
	}
	for n, i := range competing {
		switch {
		case p.Cap > 0 && c.Recent >= p.Cap:
			out[i] = Decision{Reason: ReasonFrequencyCap, Detail: fmt.Sprintf("%d in the last %s", c.Recent, days(p.CapWindow))}
		case n >= room:
			w := cands[competing[0]]
			out[i] = Decision{Reason: ReasonOutranked, Detail: fmt.Sprintf("by %s (%d a year)", w.Rule.ID, w.Value)}
		}
	}
	return out
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// suppressed returns the first active suppression covering the candidate.
func suppressed(c Contact, cand Candidate, today time.Time) Suppression {
	for _, s := range c.Suppressions {
		if s.Covers(c.Customer.ID, c.Customer.Segment, cand.Ruleset, cand.Rule.ID, today) {
			return s
		}
	}
	return nil
}

// HeldBy reports whether an earlier proposal of a rule to a customer, made
// on asOf, holds back a new one today: it is still pending, was made today,
// or is within the rule's cooldown.
func HeldBy(r *rules.Rule, pending bool, asOf, today time.Time) bool {
	return pending || !asOf.Before(today) || today.Sub(asOf) < r.Cooldown
}
