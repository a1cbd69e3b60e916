package outcomes

import (
	"strings"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/store"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestRevenueEnd(t *testing.T) {
	tests := []struct{ asOf, want string }{
		{"2026-06-01", "2026-09-01"},
		{"2026-01-31", "2026-04-30"},
		{"2026-11-30", "2027-02-28"},
		{"2027-11-30", "2028-02-29"},
	}
	for _, tt := range tests {
		if got := RevenueEnd(day(tt.asOf).Add(2 * time.Hour)); !got.Equal(day(tt.want)) {
			t.Errorf("RevenueEnd(%s) = %s, want %s", tt.asOf, got.Format(time.DateOnly), tt.want)
		}
	}
}

// TestRevenueCounts checks what revenue sums over: the bills after the
// run's day up to the window's end, not waived (the reader's SQL drops
// those), a customer with no bill (they left) as nothing, a customer with
// an unreadable charge in the window left out and counted (one outside it
// does not matter), and a batch whose window is not over not at all.
func TestRevenueCounts(t *testing.T) {
	asOf := day("2026-06-01").Add(2 * time.Hour)
	var units []store.OutcomeUnit
	facts := &Facts{Billed: map[int64][]Bill{}, Currency: "GBP"}
	// 25 treated billed 1,000 on each of Jun 1 (the run's day: before),
	// Jul 1, Aug 1, Sep 1 and Sep 2 (after the window): 3,000 each.
	for id := int64(1); id <= 25; id++ {
		units = append(units, store.OutcomeUnit{RunID: 1, Ruleset: "r", RuleID: "x", CustomerID: id, AsOf: asOf, Status: store.ProposalApproved})
		for _, on := range []string{"2026-06-01", "2026-07-01", "2026-08-01", "2026-09-01", "2026-09-02"} {
			facts.Billed[id] = append(facts.Billed[id], Bill{On: day(on), Amount: 1000})
		}
	}
	// 25 control: the first 5 left and have no bills; the others are
	// billed 2,500 and a credit of -100 on Jul 1: 2,400 each.
	for id := int64(101); id <= 125; id++ {
		units = append(units, store.OutcomeUnit{RunID: 1, Ruleset: "r", RuleID: "x", CustomerID: id, AsOf: asOf, Status: store.ProposalControl})
		if id > 105 {
			facts.Billed[id] = []Bill{{On: day("2026-07-01"), Amount: 2400}}
		}
	}
	// One more control customer with a NULL amount in the window, and two
	// with one only before it (on the run's day) or after it: those two
	// are counted, the first is left out.
	for id, on := range map[int64]string{200: "2026-08-15", 201: "2026-06-01", 202: "2026-09-02"} {
		units = append(units, store.OutcomeUnit{RunID: 1, Ruleset: "r", RuleID: "x", CustomerID: id, AsOf: asOf, Status: store.ProposalControl})
		facts.Billed[id] = []Bill{{On: day("2026-07-01"), Amount: 2400}, {On: day(on), Unknown: true}}
	}

	rep := Build(units, facts, day("2026-09-01"))
	r := rep.Rules[0].Revenue
	if r.Treated.N != 25 || r.Treated.Total != 75000 || r.Treated.Mean != 3000 || r.Treated.Lo != 3000 || r.Treated.Hi != 3000 {
		t.Errorf("treated: %+v, want 25 billed 3,000 each", r.Treated)
	}
	if r.Control.N != 27 || r.Control.Total != 52800 || r.Control.Mean != 1956 || r.Refused != 1 {
		t.Errorf("control: %+v refused %d, want 27 billed 52,800 in all (mean 1,955.6) and 1 refused", r.Control, r.Refused)
	}
	if r.Diff.D != 1044 || r.Diff.Lo >= 1044 || r.Diff.Hi <= 1044 || r.Diff.Covers(0) {
		t.Errorf("diff: %+v, want 1,044 with an interval around it, above zero", r.Diff)
	}
	if !strings.HasPrefix(r.Verdict, "revenue kept or gained: contacted customers were billed £10.44 more each over 3 months (£") {
		t.Errorf("verdict: %q", r.Verdict)
	}
	// A day earlier the window is not over.
	if r := Build(units, facts, day("2026-08-31")).Rules[0].Revenue; r.Treated.N+r.Control.N != 0 || r.Verdict != "not yet: no batch is 3 months old" {
		t.Errorf("before the window's end: %+v", r)
	}
}

func TestRevenueVerdicts(t *testing.T) {
	r := Revenue{Months: 3, Currency: "GBP", Treated: Amount{N: 400}, Control: Amount{N: 100}}
	tests := []struct {
		diff   AmountDiff
		billed bool
		want   string
	}{
		{AmountDiff{D: -410, Lo: -500, Hi: -320}, true, "revenue given: contacted customers were billed £4.10 less each over 3 months (£3.20 to £5.00 less)"},
		{AmountDiff{D: -10, Lo: -120, Hi: 80}, true, "too few customers yet to tell: the difference could be anything from -£1.20 to +£0.80 a customer over 3 months"},
		{AmountDiff{D: -10, Lo: -120, Hi: 80}, false, "no bills in the 3 months after the run: the billing data has none yet"},
	}
	for _, tt := range tests {
		r.Diff = tt.diff
		if got := revenueVerdict(r, tt.billed, map[string]bool{"GBP": true}); got != tt.want {
			t.Errorf("verdict of %+v: %q, want %q", tt.diff, got, tt.want)
		}
	}
	if got := revenueVerdict(r, true, map[string]bool{"GBP": true, "EUR": true}); got != "customers are billed in several currencies (EUR, GBP): not added together" {
		t.Errorf("two currencies: %q", got)
	}
}
