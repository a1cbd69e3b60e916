package engine_test

import (
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine"
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
	cand := func(r *rules.Rule, value int) engine.Candidate {
		return engine.Candidate{Ruleset: "mobile", Rule: r, Value: value}
	}
	earlier := func(c engine.Candidate, status string, asOf time.Time) engine.Candidate {
		c.Earlier = &engine.Earlier{Status: status, AsOf: asOf}
		return c
	}
	type want struct{ reason, detail string }
	tests := []struct {
		name    string
		policy  engine.Policy
		contact engine.Contact
		cands   []engine.Candidate
		want    []want
	}{
		{
			name:    "a lone promotional benefit is proposed",
			policy:  engine.DefaultPolicy,
			contact: engine.Contact{Customer: customer},
			cands:   []engine.Candidate{cand(plan, 6000)},
			want:    []want{{"", ""}},
		},
		{
			name:    "contact opt-out holds everything back, service too",
			policy:  engine.DefaultPolicy,
			contact: engine.Contact{Customer: rules.Customer{ID: 7, ContactOptOut: true, MarketingOptIn: true, Email: "ada@example.com"}},
			cands:   []engine.Candidate{cand(plan, 6000), cand(sim, 500)},
			want:    []want{{engine.ReasonOptedOut, ""}, {engine.ReasonOptedOut, ""}},
		},
		{
			name:    "a customer with no address on the rule's channels is unreachable",
			policy:  engine.DefaultPolicy,
			contact: engine.Contact{Customer: rules.Customer{ID: 7, MarketingOptIn: true, Phone: "+447700900123"}},
			cands:   []engine.Candidate{cand(plan, 6000)},
			want:    []want{{engine.ReasonUnreachable, "no email contact"}},
		},
		{
			name:    "without marketing consent only service messages go",
			policy:  engine.DefaultPolicy,
			contact: engine.Contact{Customer: rules.Customer{ID: 7, Email: "ada@example.com"}},
			cands:   []engine.Candidate{cand(plan, 6000), cand(sim, 500)},
			want:    []want{{engine.ReasonNoConsent, ""}, {"", ""}},
		},
		{
			name:    "a pending proposal of the same rule",
			policy:  engine.DefaultPolicy,
			contact: engine.Contact{Customer: customer},
			cands:   []engine.Candidate{earlier(cand(plan, 6000), store.ProposalPending, day(-40))},
			want:    []want{{engine.ReasonPending, "proposed 2026-10-14"}},
		},
		{
			name:    "within the rule's cooldown",
			policy:  engine.DefaultPolicy,
			contact: engine.Contact{Customer: customer},
			cands:   []engine.Candidate{earlier(cand(plan, 6000), "approved", day(-89))},
			want:    []want{{engine.ReasonCooldown, "proposed 2026-08-26"}},
		},
		{
			name:    "the cooldown has passed",
			policy:  engine.DefaultPolicy,
			contact: engine.Contact{Customer: customer},
			cands:   []engine.Candidate{earlier(cand(plan, 6000), "approved", day(-90))},
			want:    []want{{"", ""}},
		},
		{
			name:    "the frequency cap counts other rules' recent proposals",
			policy:  engine.DefaultPolicy,
			contact: engine.Contact{Customer: customer, Recent: 1},
			cands:   []engine.Candidate{cand(plan, 6000), cand(sim, 500)},
			want:    []want{{engine.ReasonFrequencyCap, "1 in the last 7d"}, {"", ""}},
		},
		{
			name:    "a looser cap leaves room",
			policy:  engine.Policy{Cap: 2, CapWindow: 7 * 24 * time.Hour},
			contact: engine.Contact{Customer: customer, Recent: 1},
			cands:   []engine.Candidate{cand(plan, 6000)},
			want:    []want{{"", ""}},
		},
		{
			name:    "the most valuable benefit wins, the rest wait",
			policy:  engine.DefaultPolicy,
			contact: engine.Contact{Customer: customer},
			cands:   []engine.Candidate{cand(addon, 2400), cand(plan, 6000), cand(sim, 500)},
			want:    []want{{engine.ReasonOutranked, "by cheaper-plan (6000 a year)"}, {"", ""}, {"", ""}},
		},
		{
			name:    "with the cap off, still one promotional benefit per run",
			policy:  engine.Policy{Cap: -1},
			contact: engine.Contact{Customer: customer, Recent: 5},
			cands:   []engine.Candidate{cand(addon, 2400), cand(plan, 2400)},
			want:    []want{{engine.ReasonOutranked, "by cheaper-plan (2400 a year)"}, {"", ""}},
		},
		{
			name:   "a suppression of the customer for one rule",
			policy: engine.DefaultPolicy,
			contact: engine.Contact{Customer: customer, Suppressions: []store.Suppression{
				{CustomerID: 7, RuleID: "cheaper-plan", Owner: "ana", Reason: "complaint open"}}},
			cands: []engine.Candidate{cand(plan, 6000), cand(addon, 2400)},
			want:  []want{{engine.ReasonSuppressed, "complaint open (by ana)"}, {"", ""}},
		},
		{
			name:   "a suppression of a segment for every rule",
			policy: engine.DefaultPolicy,
			contact: engine.Contact{Customer: customer, Suppressions: []store.Suppression{
				{Segment: "consumer", Owner: "ops", Reason: "billing migration"}}},
			cands: []engine.Candidate{cand(sim, 500)},
			want:  []want{{engine.ReasonSuppressed, "billing migration (by ops)"}},
		},
		{
			name:   "an expired suppression and another segment's do not apply",
			policy: engine.DefaultPolicy,
			contact: engine.Contact{Customer: customer, Suppressions: []store.Suppression{
				{CustomerID: 7, Owner: "ana", Reason: "old", ExpiresOn: today},
				{Segment: "small_business", Owner: "ops", Reason: "other segment"}}},
			cands: []engine.Candidate{cand(plan, 6000)},
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
