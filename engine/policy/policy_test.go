package policy_test

import (
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/policy"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/rules"
	"github.com/goodturn/goodturn/rules/rulefmt"
)

func testRule(id, purpose string, cooldown time.Duration) *rules.Rule {
	return &rules.Rule{Rule: &rulefmt.Rule{ID: id, Purpose: purpose, Cooldown: cooldown, Message: rulefmt.Message{Channels: []string{"email"}}}}
}

func TestPolicyDecide(t *testing.T) {
	today := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	day := func(n int) time.Time { return today.AddDate(0, 0, n) }
	plan := testRule("cheaper-plan", "promotional", 90*24*time.Hour)
	addon := testRule("unused-addon", "promotional", 30*24*time.Hour)
	sim := testRule("free-sim", "service", 30*24*time.Hour)
	customer := rules.Customer{ID: 7, Segment: "consumer", MarketingOptIn: true, Email: "ada@example.com"}
	cand := func(r *rules.Rule, value int) policy.Candidate {
		return policy.Candidate{Ruleset: "mobile", Rule: r, Value: value}
	}
	earlier := func(c policy.Candidate, status string, asOf time.Time) policy.Candidate {
		c.Earlier = &policy.Earlier{Pending: status == store.ProposalPending, AsOf: asOf}
		return c
	}
	type want struct{ reason, detail string }
	tests := []struct {
		name    string
		policy  policy.Policy
		contact policy.Contact
		cands   []policy.Candidate
		want    []want
	}{
		{
			name:    "a lone promotional benefit is proposed",
			policy:  policy.DefaultPolicy,
			contact: policy.Contact{Customer: customer},
			cands:   []policy.Candidate{cand(plan, 6000)},
			want:    []want{{"", ""}},
		},
		{
			name:    "contact opt-out holds everything back, service too",
			policy:  policy.DefaultPolicy,
			contact: policy.Contact{Customer: rules.Customer{ID: 7, ContactOptOut: true, MarketingOptIn: true, Email: "ada@example.com"}},
			cands:   []policy.Candidate{cand(plan, 6000), cand(sim, 500)},
			want:    []want{{policy.ReasonOptedOut, ""}, {policy.ReasonOptedOut, ""}},
		},
		{
			name:    "a customer with no address on the rule's channels is unreachable",
			policy:  policy.DefaultPolicy,
			contact: policy.Contact{Customer: rules.Customer{ID: 7, MarketingOptIn: true, Phone: "+447700900123"}},
			cands:   []policy.Candidate{cand(plan, 6000)},
			want:    []want{{policy.ReasonUnreachable, "no email contact"}},
		},
		{
			name:    "without marketing consent only service messages go",
			policy:  policy.DefaultPolicy,
			contact: policy.Contact{Customer: rules.Customer{ID: 7, Email: "ada@example.com"}},
			cands:   []policy.Candidate{cand(plan, 6000), cand(sim, 500)},
			want:    []want{{policy.ReasonNoConsent, ""}, {"", ""}},
		},
		{
			name:    "a pending proposal of the same rule",
			policy:  policy.DefaultPolicy,
			contact: policy.Contact{Customer: customer},
			cands:   []policy.Candidate{earlier(cand(plan, 6000), store.ProposalPending, day(-40))},
			want:    []want{{policy.ReasonPending, "proposed 2026-10-14"}},
		},
		{
			name:    "within the rule's cooldown",
			policy:  policy.DefaultPolicy,
			contact: policy.Contact{Customer: customer},
			cands:   []policy.Candidate{earlier(cand(plan, 6000), "approved", day(-89))},
			want:    []want{{policy.ReasonCooldown, "proposed 2026-08-26"}},
		},
		{
			name:    "the cooldown has passed",
			policy:  policy.DefaultPolicy,
			contact: policy.Contact{Customer: customer},
			cands:   []policy.Candidate{earlier(cand(plan, 6000), "approved", day(-90))},
			want:    []want{{"", ""}},
		},
		{
			name:    "the frequency cap counts other rules' recent proposals",
			policy:  policy.DefaultPolicy,
			contact: policy.Contact{Customer: customer, Recent: 1},
			cands:   []policy.Candidate{cand(plan, 6000), cand(sim, 500)},
			want:    []want{{policy.ReasonFrequencyCap, "1 in the last 7d"}, {"", ""}},
		},
		{
			name:    "a looser cap leaves room",
			policy:  policy.Policy{Cap: 2, CapWindow: 7 * 24 * time.Hour},
			contact: policy.Contact{Customer: customer, Recent: 1},
			cands:   []policy.Candidate{cand(plan, 6000)},
			want:    []want{{"", ""}},
		},
		{
			name:    "the most valuable benefit wins, the rest wait",
			policy:  policy.DefaultPolicy,
			contact: policy.Contact{Customer: customer},
			cands:   []policy.Candidate{cand(addon, 2400), cand(plan, 6000), cand(sim, 500)},
			want:    []want{{policy.ReasonOutranked, "by cheaper-plan (6000 a year)"}, {"", ""}, {"", ""}},
		},
		{
			name:    "with the cap off, still one promotional benefit per run",
			policy:  policy.Policy{Cap: -1},
			contact: policy.Contact{Customer: customer, Recent: 5},
			cands:   []policy.Candidate{cand(addon, 2400), cand(plan, 2400)},
			want:    []want{{policy.ReasonOutranked, "by cheaper-plan (2400 a year)"}, {"", ""}},
		},
		{
			name:   "a suppression of the customer for one rule",
			policy: policy.DefaultPolicy,
			contact: policy.Contact{Customer: customer, Suppressions: suppressions(
				store.Suppression{CustomerID: 7, RuleID: "cheaper-plan", Owner: "ana", Reason: "complaint open"})},
			cands: []policy.Candidate{cand(plan, 6000), cand(addon, 2400)},
			want:  []want{{policy.ReasonSuppressed, "complaint open (by ana)"}, {"", ""}},
		},
		{
			name:   "a suppression of a segment for every rule",
			policy: policy.DefaultPolicy,
			contact: policy.Contact{Customer: customer, Suppressions: suppressions(
				store.Suppression{Segment: "consumer", Owner: "ops", Reason: "billing migration"})},
			cands: []policy.Candidate{cand(sim, 500)},
			want:  []want{{policy.ReasonSuppressed, "billing migration (by ops)"}},
		},
		{
			name:   "an expired suppression and another segment's do not apply",
			policy: policy.DefaultPolicy,
			contact: policy.Contact{Customer: customer, Suppressions: suppressions(
				store.Suppression{CustomerID: 7, Owner: "ana", Reason: "old", ExpiresOn: today},
				store.Suppression{Segment: "small_business", Owner: "ops", Reason: "other segment"})},
			cands: []policy.Candidate{cand(plan, 6000)},
			want:  []want{{"", ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.policy.Decide(tt.contact, tt.cands, today)
			if len(got) != len(tt.want) {
				t.Fatalf("%d decisions, want %d", len(got), len(tt.want))
			}
			for i, d := range got {
				if d.Reason != tt.want[i].reason || d.Detail != tt.want[i].detail {
					t.Errorf("candidate %d (%s): decision %q (%s), want %q (%s)", i, tt.cands[i].Rule.ID, d.Reason, d.Detail, tt.want[i].reason, tt.want[i].detail)
				}
			}
		})
	}
}

// suppressions turns stored suppressions into what the policy reads.
func suppressions(ss ...store.Suppression) []policy.Suppression {
	out := make([]policy.Suppression, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
