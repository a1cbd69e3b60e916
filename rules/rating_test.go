package rules

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestRatingOnSlotsEqualsRatingOnMaps re-rates random customers' usage on
// a random catalogue with every re-rating helper, on slots and from the
// plans' maps, and wants the same quotes to the penny.
func TestRatingOnSlotsEqualsRatingOnMaps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	meters := []string{"data_mb", "minutes", "texts", "roaming_mb", "intl_minutes"}
	plans := make([]Plan, 12)
	for i := range plans {
		p := Plan{ID: string(rune('a' + i)), Name: "plan", MonthlyPrice: 300 + rng.IntN(3000), Currency: "GBP",
			Available: rng.IntN(5) > 0, Allowances: map[string]Allowance{}}
		for _, m := range meters[:3+rng.IntN(3)] {
			if rng.IntN(6) == 0 {
				continue // not listed: usage of it is not covered
			}
			p.Allowances[m] = Allowance{Meter: m, Included: rng.IntN(4000), Unlimited: rng.IntN(4) == 0,
				OverageRate: RateMicros(int64(rng.IntN(3_000_000)))}
		}
		plans[i] = p
	}
	rater := NewRater(plans)
	rating := rater.NewRating()
	slotsUsed := 0
	for c := 0; c < 3000; c++ {
		f := Facts{Plans: plans, Currency: "GBP", Now: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)}
		if rng.IntN(10) > 0 {
			f.Plan = plans[rng.IntN(len(plans))]
		}
		for range rng.IntN(7) {
			m := UsageMonth{}
			for _, meter := range meters {
				if rng.IntN(3) > 0 {
					m[meter] = rng.IntN(5000) - 200
				}
			}
			if rng.IntN(20) == 0 {
				m["satellite_mb"] = rng.IntN(3) // a meter no plan lists
			}
			f.Usage = append(f.Usage, m)
			f.Months = append(f.Months, time.Date(2026, time.Month(1+len(f.Usage)), 1, 0, 0, 0, 0, time.UTC))
		}
		onMaps := f
		f.Rate(rating)
		if ratingOf(&f) == nil {
			t.Fatal("the facts have no rating")
		}
		for n := 1; n <= 4; n++ {
			check := func(name string, slots, maps any) {
				t.Helper()
				if !reflect.DeepEqual(slots, maps) {
					t.Fatalf("customer %d: %s(%d) on slots %+v, from maps %+v", c, name, n, slots, maps)
				}
			}
			check("cheapest_plan", CheapestPlan(&f, n), CheapestPlan(&onMaps, n))
			check("bigger_plan", BiggerPlan(&f, n), BiggerPlan(&onMaps, n))
			check("best_plan", BestPlan(&f, n), BestPlan(&onMaps, n))
			p := plans[rng.IntN(len(plans))]
			check("quote", NewQuote(&f, p, n), NewQuote(&onMaps, p, n))
			check("rerate", Rerate(&f, p, n), Rerate(&onMaps, p, n))
		}
		slotsUsed += rating.loaded
	}
	if slotsUsed == 0 {
		t.Fatal("no month was ever re-rated on slots")
	}
}
