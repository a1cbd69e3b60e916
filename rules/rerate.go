package rules

import (
	"encoding/json"
	"sort"
)

// Quote is what a customer's recent usage would have cost on one plan,
// compared with their current plan over the same months.
type Quote struct {
	// Plan is the plan quoted.
	Plan Plan `expr:"plan" json:"plan"`
	// Months is the number of usage months the quote covers.
	Months int `expr:"months" json:"months"`
	// Costs holds the re-rated cost of each month on Plan, newest first.
	Costs []int `expr:"costs" json:"costs"`
	// Total is the sum of Costs.
	Total int `expr:"total" json:"total"`
	// CurrentCosts holds the re-rated cost of the same months on the
	// customer's current plan.
	CurrentCosts []int `expr:"current_costs" json:"current_costs"`
	// CurrentTotal is the sum of CurrentCosts.
	CurrentTotal int `expr:"current_total" json:"current_total"`
	// Saving is CurrentTotal minus Total: positive when Plan is cheaper.
	Saving int `expr:"saving" json:"saving"`
	// MonthlySaving is Saving divided by Months, truncated toward zero.
	MonthlySaving int `expr:"monthly_saving" json:"monthly_saving"`
}

// MarshalJSON writes the quote with the plan's id, name and price only: the
// evidence a reviewer reads, without the plan's allowances.
func (q *Quote) MarshalJSON() ([]byte, error) {
	type plan struct {
		ID           string `json:"id"`
		Name         string `json:"name"`
		MonthlyPrice int    `json:"monthly_price"`
	}
	type quote struct {
		Plan          plan  `json:"plan"`
		Months        int   `json:"months"`
		Costs         []int `json:"costs"`
		Total         int   `json:"total"`
		CurrentCosts  []int `json:"current_costs"`
		CurrentTotal  int   `json:"current_total"`
		Saving        int   `json:"saving"`
		MonthlySaving int   `json:"monthly_saving"`
	}
	return json.Marshal(quote{plan{q.Plan.ID, q.Plan.Name, q.Plan.MonthlyPrice}, q.Months, q.Costs, q.Total,
		q.CurrentCosts, q.CurrentTotal, q.Saving, q.MonthlySaving})
}

// OverageMicros returns the exact out-of-allowance charge of one usage month
// on a plan, in millionths of a minor unit, and whether every meter used is
// covered by the plan. A meter the plan does not list is not covered and
// adds nothing to the charge.
func OverageMicros(p Plan, m UsageMonth) (micros int64, covered bool) {
	covered = true
	for meter, qty := range m {
		if qty <= 0 {
			continue
		}
		a, ok := p.Allowances[meter]
		if !ok {
			covered = false
			continue
		}
		if a.Unlimited || qty <= a.Included {
			continue
		}
		micros += int64(qty-a.Included) * a.OverageRate.micros
	}
	return micros, covered
}

// Overage returns the out-of-allowance charge of one usage month on a plan in
// minor units, rounded once, half away from zero.
func Overage(p Plan, m UsageMonth) int {
	micros, _ := OverageMicros(p, m)
	return roundMicros(micros)
}

// Cost re-rates one usage month on a plan: the monthly price plus the
// overage on every meter, summed exactly and rounded once to minor units.
func Cost(p Plan, m UsageMonth) int {
	return p.MonthlyPrice + Overage(p, m)
}

// Fits reports whether a usage month stays within a plan's allowances on
// every meter: no overage and no meter the plan does not cover.
func Fits(p Plan, m UsageMonth) bool {
	for meter, qty := range m {
		if qty <= 0 {
			continue
		}
		a, ok := p.Allowances[meter]
		if !ok {
			return false
		}
		if !a.Unlimited && qty > a.Included {
			return false
		}
	}
	return true
}

// Rerate returns the total re-rated cost of the customer's last n usage
// months on a plan. It uses fewer months when fewer are known.
func Rerate(f *Facts, p Plan, n int) int {
	total := 0
	for _, m := range lastMonths(f, n) {
		total += Cost(p, m)
	}
	return total
}

// CheapestPlan returns a quote for the cheapest available plan, other than
// the customer's current one, on which each of the last n usage months fits
// within the allowances. Ties go to the plan with the lower id. It returns
// nil when the customer has fewer than n months of usage or no other plan
// fits.
func CheapestPlan(f *Facts, n int) *Quote {
	if n <= 0 || len(f.Usage) < n {
		return nil
	}
	months := f.Usage[:n]
	var best *Plan
	bestTotal := 0
	for i := range f.Plans {
		p := &f.Plans[i]
		if !p.Available || p.ID == f.Plan.ID || (f.Currency != "" && p.Currency != f.Currency) {
			continue
		}
		fits := true
		for _, m := range months {
			if !Fits(*p, m) {
				fits = false
				break
			}
		}
		if !fits {
			continue
		}
		// Every month fits, so each costs exactly the monthly price.
		total := p.MonthlyPrice * n
		if best == nil || total < bestTotal || (total == bestTotal && p.ID < best.ID) {
			best, bestTotal = p, total
		}
	}
	if best == nil {
		return nil
	}
	return NewQuote(f, *best, n)
}

// NewQuote re-rates the customer's last n usage months on a plan and on
// their current plan.
func NewQuote(f *Facts, p Plan, n int) *Quote {
	months := lastMonths(f, n)
	q := &Quote{
		Plan:         p,
		Months:       len(months),
		Costs:        make([]int, len(months)),
		CurrentCosts: make([]int, len(months)),
	}
	for i, m := range months {
		q.Costs[i] = Cost(p, m)
		q.CurrentCosts[i] = Cost(f.Plan, m)
		q.Total += q.Costs[i]
		q.CurrentTotal += q.CurrentCosts[i]
	}
	q.Saving = q.CurrentTotal - q.Total
	if q.Months > 0 {
		q.MonthlySaving = q.Saving / q.Months
	}
	return q
}

func lastMonths(f *Facts, n int) []UsageMonth {
	if n < 0 {
		n = 0
	}
	if n > len(f.Usage) {
		n = len(f.Usage)
	}
	return f.Usage[:n]
}

// Meters returns the sorted names of the meters in a usage month.
func (m UsageMonth) Meters() []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
