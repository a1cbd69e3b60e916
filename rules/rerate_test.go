package rules_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/goodturn/goodturn/rules"
)

// TestCostAndOverage re-rates single months by hand:
// basic is £5 with 1,000 MB at 0.5p per MB beyond, 100 minutes at 8.5p.
func TestCostAndOverage(t *testing.T) {
	for _, tt := range []struct {
		name    string
		plan    rules.Plan
		month   rules.UsageMonth
		micros  int64
		overage int
		fits    bool
	}{
		{"within allowance", basic, usage(800, 90, 50), 0, 0, true},
		{"exactly the allowance", basic, usage(1000, 100, 0), 0, 0, true},
		// 3 minutes × 8.5p = 25.5p, rounded half away from zero once.
		{"fractional rate", basic, usage(800, 103, 50), 25_500_000, 26, false},
		{"half a penny rounds up", basic, usage(1001, 0, 0), 500_000, 1, false},
		{"1.5p rounds to 2p", basic, usage(1003, 0, 0), 1_500_000, 2, false},
		// 0.5p + 8.5p is summed exactly to 9p before the one rounding;
		// rounding each meter would give 1p + 9p = 10p.
		{"summed before rounding", basic, usage(1001, 101, 0), 9_000_000, 9, false},
		{"two meters over", basic, usage(1200, 110, 0), 100_000_000 + 85_000_000, 185, false},
		{"unlimited", maxPlan, usage(1_000_000, 100_000, 100_000), 0, 0, true},
		{"unlimited texts, limited data", basic, usage(0, 0, 1_000_000), 0, 0, true},
		// A meter the plan does not list is not covered: it costs nothing
		// extra but the month does not fit.
		{"meter the plan does not list", basic, rules.UsageMonth{"roaming_mb": 50, "minutes": 103}, 25_500_000, 26, false},
		{"unlisted meter unused", basic, rules.UsageMonth{"roaming_mb": 0, "minutes": -3}, 0, 0, true},
		{"empty month", basic, rules.UsageMonth{}, 0, 0, true},
		{"no month", basic, nil, 0, 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			micros, covered := rules.OverageMicros(tt.plan, tt.month)
			if micros != tt.micros {
				t.Errorf("OverageMicros = %d, want %d", micros, tt.micros)
			}
			if got := rules.Overage(tt.plan, tt.month); got != tt.overage {
				t.Errorf("Overage = %d, want %d", got, tt.overage)
			}
			if got := rules.Cost(tt.plan, tt.month); got != tt.plan.MonthlyPrice+tt.overage {
				t.Errorf("Cost = %d, want %d", got, tt.plan.MonthlyPrice+tt.overage)
			}
			if got := rules.Fits(tt.plan, tt.month); got != tt.fits {
				t.Errorf("Fits = %v, want %v", got, tt.fits)
			}
			_, unlisted := tt.month["roaming_mb"]
			if wantCovered := !unlisted || tt.month["roaming_mb"] <= 0; covered != wantCovered {
				t.Errorf("covered = %v, want %v", covered, wantCovered)
			}
		})
	}
}

func TestRerate(t *testing.T) {
	f := customer(basic, usage(800, 103, 0), usage(1001, 101, 0), usage(0, 0, 0), usage(5000, 500, 0))
	for _, tt := range []struct {
		plan rules.Plan
		n    int
		want int
	}{
		{basic, 1, 526},
		{basic, 2, 526 + 509},
		{basic, 3, 526 + 509 + 500},
		// 4,000 MB × 0.5p + 400 minutes × 8.5p = 20 + 34 = £54, plus £5.
		{basic, 4, 526 + 509 + 500 + 5900},
		{basic, 10, 526 + 509 + 500 + 5900},
		{basic, 0, 0},
		{basic, -1, 0},
		{mid, 4, 4000},
	} {
		if got := rules.Rerate(&f, tt.plan, tt.n); got != tt.want {
			t.Errorf("Rerate(%s, %d) = %d, want %d", tt.plan.ID, tt.n, got, tt.want)
		}
	}
}

func TestCheapestPlan(t *testing.T) {
	light := usage(500, 50, 10)  // fits every plan
	heavy := usage(3000, 50, 10) // too much data for basic
	for _, tt := range []struct {
		name   string
		f      rules.Facts
		n      int
		want   string // plan id; "" for nil
		saving int
	}{
		// legacy (£3) is cheaper but not on sale; euro is in euros.
		{"cheapest that fits", customer(maxPlan, light, light, light), 3, "basic", 3 * 1500},
		{"one month over allowance", customer(maxPlan, light, heavy, light), 3, "alt", 3 * 1000},
		// alt and mid cost the same; alt has the lower id, though mid
		// comes first in the catalogue.
		{"tie goes to the lower id", customer(maxPlan, heavy, heavy, heavy), 3, "alt", 3 * 1000},
		{"only the last n months", customer(maxPlan, light, light, light, heavy), 3, "basic", 3 * 1500},
		// Only plans priced below the current one: on basic (£5) nothing on
		// sale is cheaper, however well alt fits.
		{"only plans priced below the current one", customer(basic, light, light, light), 3, "", 0},
		{"not the current plan", customer(alt, light, light, light), 3, "basic", 3*1000 - 3*500},
		{"fewer months than asked", customer(maxPlan, light, light), 3, "", 0},
		{"no months", customer(maxPlan), 1, "", 0},
		{"n is zero", customer(maxPlan, light), 0, "", 0},
		{"n is negative", customer(maxPlan, light), -1, "", 0},
		{"nothing fits", customer(maxPlan, rules.UsageMonth{"roaming_mb": 1}), 1, "", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := rules.CheapestPlan(&tt.f, tt.n)
			switch {
			case tt.want == "" && q != nil:
				t.Fatalf("CheapestPlan = %s, want nil", q.Plan.ID)
			case tt.want == "":
				return
			case q == nil:
				t.Fatalf("CheapestPlan = nil, want %s", tt.want)
			}
			if q.Plan.ID != tt.want || q.Saving != tt.saving || q.Months != tt.n {
				t.Errorf("CheapestPlan = %s saving %d over %d months, want %s saving %d over %d",
					q.Plan.ID, q.Saving, q.Months, tt.want, tt.saving, tt.n)
			}
		})
	}
}

// TestCheapestPlanNothingFits checks that no plan is offered when the
// customer uses a meter no other plan covers.
func TestCheapestPlanNothingFits(t *testing.T) {
	f := customer(maxPlan, rules.UsageMonth{"roaming_mb": 1})
	f.Plans = []rules.Plan{basic, mid, maxPlan}
	if q := rules.CheapestPlan(&f, 1); q != nil {
		t.Errorf("CheapestPlan = %s, want nil", q.Plan.ID)
	}
	// With no currency in the facts, plans in any currency are considered.
	f = customer(maxPlan, usage(1, 1, 1))
	f.Currency = ""
	if q := rules.CheapestPlan(&f, 1); q == nil || q.Plan.ID != "euro" {
		t.Errorf("CheapestPlan with no currency = %v, want euro", q)
	}
}

func TestNewQuote(t *testing.T) {
	// On basic: 103 minutes cost 500 + 25.5 → 526; 101 minutes 500 + 8.5
	// → 509; 100 minutes 500. On mid every month is £10.
	f := customer(basic, usage(0, 103, 0), usage(0, 101, 0), usage(0, 100, 0))
	want := &rules.Quote{
		Plan:          mid,
		Months:        3,
		Costs:         []int{1000, 1000, 1000},
		Total:         3000,
		CurrentCosts:  []int{526, 509, 500},
		CurrentTotal:  1535,
		Saving:        -1465,
		MonthlySaving: -488, // -488.33, truncated toward zero
		ByMonth: []rules.QuoteMonth{
			{Month: date(2025, 5, 1), CurrentCost: 526, NewCost: 1000, Saving: -474, CurrentOverage: 26},
			{Month: date(2025, 4, 1), CurrentCost: 509, NewCost: 1000, Saving: -491, CurrentOverage: 9},
			{Month: date(2025, 3, 1), CurrentCost: 500, NewCost: 1000, Saving: -500},
		},
		MinMonthlySaving: -500,
	}
	if got := rules.NewQuote(&f, mid, 3); !reflect.DeepEqual(got, want) {
		t.Errorf("NewQuote(mid, 3) =\n%+v\nwant\n%+v", got, want)
	}

	// The other way round, with more months asked for than known.
	f = customer(mid, usage(0, 103, 0), usage(0, 101, 0), usage(0, 100, 0))
	want = &rules.Quote{
		Plan:          basic,
		Months:        3,
		Costs:         []int{526, 509, 500},
		Total:         1535,
		CurrentCosts:  []int{1000, 1000, 1000},
		CurrentTotal:  3000,
		Saving:        1465,
		MonthlySaving: 488,
		ByMonth: []rules.QuoteMonth{
			{Month: date(2025, 5, 1), CurrentCost: 1000, NewCost: 526, Saving: 474, NewOverage: 26},
			{Month: date(2025, 4, 1), CurrentCost: 1000, NewCost: 509, Saving: 491, NewOverage: 9},
			{Month: date(2025, 3, 1), CurrentCost: 1000, NewCost: 500, Saving: 500},
		},
		// Every month saves: the least of them, 474, twelve times.
		MinMonthlySaving: 474,
		SavesEveryMonth:  true,
		YearlySaving:     474 * 12,
	}
	if got := rules.NewQuote(&f, basic, 6); !reflect.DeepEqual(got, want) {
		t.Errorf("NewQuote(basic, 6) =\n%+v\nwant\n%+v", got, want)
	}

	// No usage: an empty quote.
	f = customer(mid)
	if got := rules.NewQuote(&f, basic, 3); got.Months != 0 || got.Total != 0 || got.MonthlySaving != 0 || len(got.Costs) != 0 {
		t.Errorf("NewQuote with no usage = %+v", got)
	}
}

// TestYearlySaving checks the conservative yearly value of a quote: one
// expensive month is never annualised.
func TestYearlySaving(t *testing.T) {
	for _, tt := range []struct {
		name   string
		on     rules.Plan
		to     rules.Plan
		months []rules.UsageMonth
		want   int
	}{
		// mid to basic: 500 a month less, except a month of 2,000 MB on
		// basic costs 500 + 500 = 1000, as much as mid: not every month
		// saves, so the value is what the months saved in all.
		{"a month that does not save", mid, basic, []rules.UsageMonth{usage(2000, 0, 0), usage(0, 0, 0), usage(0, 0, 0)}, 1000},
		// basic to mid: one month of 3,000 minutes costs basic £246.50 of
		// overage; the other two cost £5 more on mid, so the value is the
		// three months' total saving, nothing annualised.
		{"one spike month", basic, mid, []rules.UsageMonth{usage(0, 3000, 0), usage(0, 0, 0), usage(0, 0, 0)}, (500 + 24650) + 500 + 500 - 3*1000},
		// Every month saves: the smallest saving × 12, not the average.
		{"every month saves", maxPlan, basic, []rules.UsageMonth{usage(1100, 0, 0), usage(0, 0, 0), usage(0, 0, 0)}, (2000 - 550) * 12},
		{"nothing saved", basic, mid, []rules.UsageMonth{usage(0, 0, 0)}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := customer(tt.on, tt.months...)
			if got := rules.NewQuote(&f, tt.to, len(tt.months)).YearlySaving; got != tt.want {
				t.Errorf("YearlySaving = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestBiggerPlan checks the plan offered to a customer who pays overage.
func TestBiggerPlan(t *testing.T) {
	heavy := usage(3000, 50, 10) // 2,000 MB over basic: £10 of overage
	light := usage(500, 50, 10)
	for _, tt := range []struct {
		name string
		f    rules.Facts
		want string
	}{
		// alt and mid cost £10 and fit; alt has the lower id.
		{"overage every month", customer(basic, heavy, heavy, heavy), "alt"},
		// 1500 + 500 + 1500 on basic against 3000 on alt: 500 less.
		{"overage in two months", customer(basic, heavy, light, heavy), "alt"},
		// 1500 + 500 + 500 = 2500 against 3000: more on alt.
		{"overage once costs less than the bigger plan", customer(basic, heavy, light, light), ""},
		{"never a cheaper plan", customer(maxPlan, heavy, heavy, heavy), ""},
		{"fewer months than asked", customer(basic, heavy, heavy), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := rules.BiggerPlan(&tt.f, 3)
			got := ""
			if q != nil {
				got = q.Plan.ID
				if q.Plan.MonthlyPrice < tt.f.Plan.MonthlyPrice || q.Saving <= 0 {
					t.Errorf("BiggerPlan offers %s at %d with saving %d", got, q.Plan.MonthlyPrice, q.Saving)
				}
			}
			if got != tt.want {
				t.Errorf("BiggerPlan = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestBestPlan checks the best tariff: the lowest total, overage included,
// among plans that cover every meter used.
func TestBestPlan(t *testing.T) {
	heavy := usage(3000, 50, 10)
	light := usage(500, 50, 10)
	for _, tt := range []struct {
		name   string
		f      rules.Facts
		want   string
		saving int
	}{
		{"a cheaper plan", customer(maxPlan, light, light, light), "basic", 3 * 1500},
		{"a dearer plan spares the overage", customer(basic, heavy, heavy, heavy), "alt", 3 * 500},
		{"the current plan is best", customer(basic, light, light, light), "basic", 0},
		// basic would cost less, but it does not list roaming at all.
		{"a plan that does not cover a meter", customer(maxPlan, rules.UsageMonth{"roaming_mb": 1}), "max", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := rules.BestPlan(&tt.f, len(tt.f.Usage))
			if q == nil || q.Plan.ID != tt.want || q.Saving != tt.saving {
				t.Fatalf("BestPlan = %+v, want %s saving %d", q, tt.want, tt.saving)
			}
		})
	}
}

func TestUsageMonthMeters(t *testing.T) {
	got := fmt.Sprint(rules.UsageMonth{"texts": 1, "data_mb": 2, "minutes": 3}.Meters())
	if got != "[data_mb minutes texts]" {
		t.Errorf("Meters() = %s", got)
	}
}

func TestYearsBetween(t *testing.T) {
	for _, tt := range []struct {
		a, b time.Time
		want int
	}{
		{date(2020, 3, 1), date(2025, 3, 1), 5},
		{date(2020, 3, 1), date(2025, 2, 28), 4},
		{date(2020, 3, 1), date(2025, 3, 2), 5},
		{date(2020, 3, 15), date(2025, 3, 14), 4},
		{date(2020, 2, 29), date(2021, 2, 28), 0},
		{date(2020, 2, 29), date(2021, 3, 1), 1},
		{date(2020, 2, 29), date(2024, 2, 29), 4},
		{date(2025, 6, 15), date(2025, 6, 15), 0},
		{date(2026, 1, 1), date(2025, 6, 15), -1},
		{time.Time{}, date(2025, 6, 15), 0}, // unknown date
	} {
		if got := rules.YearsBetween(tt.a, tt.b); got != tt.want {
			t.Errorf("YearsBetween(%s, %s) = %d, want %d", tt.a.Format(time.DateOnly), tt.b.Format(time.DateOnly), got, tt.want)
		}
	}
}

func TestPlanByID(t *testing.T) {
	f := customer(basic)
	if p, ok := f.PlanByID("alt"); !ok || p.MonthlyPrice != 1000 {
		t.Errorf("PlanByID(alt) = %v, %v", p, ok)
	}
	if _, ok := f.PlanByID("nope"); ok {
		t.Error("PlanByID(nope) found a plan")
	}
}
