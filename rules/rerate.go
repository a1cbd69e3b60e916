package rules

import (
	"encoding/json"
	"sort"
	"time"
)

// Quote is what a customer's recent usage would have cost on one plan,
// compared with their current plan over the same months.
type Quote struct {
	// Plan is the plan quoted.
	Plan Plan `expr:"plan" json:"plan"`
	// Months is the number of usage months the quote covers.
	Months int `expr:"months" json:"months"`
	// Costs holds the re-rated cost of each month on Plan, newest first.
	Costs []int `expr:"costs" json:"costs" money:"true"`
	// Total is the sum of Costs.
	Total int `expr:"total" json:"total" money:"true"`
	// CurrentCosts holds the re-rated cost of the same months on the
	// customer's current plan.
	CurrentCosts []int `expr:"current_costs" json:"current_costs" money:"true"`
	// CurrentTotal is the sum of CurrentCosts.
	CurrentTotal int `expr:"current_total" json:"current_total" money:"true"`
	// Saving is CurrentTotal minus Total: positive when Plan is cheaper.
	Saving int `expr:"saving" json:"saving" money:"true"`
	// MonthlySaving is Saving divided by Months, truncated toward zero: an
	// average, which one expensive month can inflate. Quote what a customer
	// will save with MinMonthlySaving and YearlySaving instead.
	MonthlySaving int `expr:"monthly_saving" json:"monthly_saving" money:"true"`
	// ByMonth compares the two plans month by month, newest first: the
	// evidence behind every figure of the quote.
	ByMonth []QuoteMonth `expr:"by_month" json:"by_month"`
	// MinMonthlySaving is the smallest saving of any single month of the
	// quote (negative when some month costs more on Plan).
	MinMonthlySaving int `expr:"min_monthly_saving" json:"min_monthly_saving" money:"true"`
	// SavesEveryMonth reports whether Plan costs less than the current plan
	// in every month of the quote.
	SavesEveryMonth bool `expr:"saves_every_month" json:"saves_every_month"`
	// YearlySaving is the conservative yearly value of moving to Plan:
	// MinMonthlySaving × 12 when every month saves (never a spike month
	// annualised), otherwise the quote's total Saving when it is positive
	// (what those months alone would have saved, not annualised), else 0.
	YearlySaving int `expr:"yearly_saving" json:"yearly_saving" money:"true"`
}

// QuoteMonth is one usage month of a quote: what it cost on the current
// plan and what it would have cost on the quoted one.
type QuoteMonth struct {
	// Month is the first day of the usage month; zero when the facts do not
	// say which month it was.
	Month time.Time `expr:"month" json:"month"`
	// CurrentCost is the month re-rated on the current plan, overage
	// included.
	CurrentCost int `expr:"current_cost" json:"current_cost" money:"true"`
	// NewCost is the month re-rated on the quoted plan.
	NewCost int `expr:"new_cost" json:"new_cost" money:"true"`
	// Saving is CurrentCost minus NewCost.
	Saving int `expr:"saving" json:"saving" money:"true"`
	// CurrentOverage is the part of CurrentCost beyond the current plan's
	// price: what going over the allowances cost that month.
	CurrentOverage int `expr:"current_overage" json:"current_overage" money:"true"`
	// NewOverage is the part of NewCost beyond the quoted plan's price.
	NewOverage int `expr:"new_overage" json:"new_overage" money:"true"`
}

// MarshalJSON writes the month as a date.
func (m QuoteMonth) MarshalJSON() ([]byte, error) {
	type month struct {
		Month          string `json:"month,omitempty"`
		CurrentCost    int    `json:"current_cost"`
		NewCost        int    `json:"new_cost"`
		Saving         int    `json:"saving"`
		CurrentOverage int    `json:"current_overage"`
		NewOverage     int    `json:"new_overage"`
	}
	out := month{CurrentCost: m.CurrentCost, NewCost: m.NewCost, Saving: m.Saving, CurrentOverage: m.CurrentOverage, NewOverage: m.NewOverage}
	if !m.Month.IsZero() {
		out.Month = m.Month.Format(time.DateOnly)
	}
	return json.Marshal(out)
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
		Plan             plan         `json:"plan"`
		Months           int          `json:"months"`
		Costs            []int        `json:"costs"`
		Total            int          `json:"total"`
		CurrentCosts     []int        `json:"current_costs"`
		CurrentTotal     int          `json:"current_total"`
		Saving           int          `json:"saving"`
		MonthlySaving    int          `json:"monthly_saving"`
		ByMonth          []QuoteMonth `json:"by_month"`
		MinMonthlySaving int          `json:"min_monthly_saving"`
		SavesEveryMonth  bool         `json:"saves_every_month"`
		YearlySaving     int          `json:"yearly_saving"`
	}
	return json.Marshal(quote{plan{q.Plan.ID, q.Plan.Name, q.Plan.MonthlyPrice}, q.Months, q.Costs, q.Total,
		q.CurrentCosts, q.CurrentTotal, q.Saving, q.MonthlySaving, q.ByMonth, q.MinMonthlySaving, q.SavesEveryMonth, q.YearlySaving})
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
	if rt := ratingOf(f); rt != nil {
		if j := rt.planIndex(&p); j >= 0 {
			for i := range lastMonths(f, n) {
				total += rt.cost(i, j)
			}
			return total
		}
	}
	for _, m := range lastMonths(f, n) {
		total += Cost(p, m)
	}
	return total
}

// CheapestPlan returns a quote for the cheapest available plan, in the
// customer's currency, whose monthly price is below the current plan's and
// on which each of the last n usage months fits within the allowances: a
// plan that costs less every month while serving the customer exactly as
// they use their phone. Ties go to the plan with the lower id. It returns
// nil when the customer has no current plan or fewer than n months of
// usage, or when no cheaper plan fits.
func CheapestPlan(f *Facts, n int) *Quote {
	return cheapestFitting(f, n, func(p *Plan) bool { return p.MonthlyPrice < f.Plan.MonthlyPrice })
}

// BiggerPlan returns a quote for the plan that would have spared the
// customer their overage: among the available plans in the customer's
// currency priced at or above the current plan, those on which each of the
// last n usage months fits within the allowances, the one with the lowest
// re-rated total over those months, provided that total is below what the
// months cost on the current plan. Every month fits, so the lowest total
// is the lowest price; ties go to the lower id. It returns nil when there
// is no such plan.
func BiggerPlan(f *Facts, n int) *Quote {
	q := cheapestFitting(f, n, func(p *Plan) bool { return p.MonthlyPrice >= f.Plan.MonthlyPrice })
	if q == nil || q.Saving <= 0 {
		return nil
	}
	return q
}

// cheapestFitting returns a quote for the cheapest plan the customer could
// move to, among those priced as priced accepts, on which each of the last
// n usage months fits; ties go to the lower id. It returns nil when the
// customer has no plan or fewer than n months, or no plan qualifies.
func cheapestFitting(f *Facts, n int, priced func(*Plan) bool) *Quote {
	if n <= 0 || len(f.Usage) < n || f.Plan.ID == "" {
		return nil
	}
	months := f.Usage[:n]
	rt := ratingOf(f)
	var best *Plan
	for i := range f.Plans {
		p := &f.Plans[i]
		if !movable(f, p) || !priced(p) {
			continue
		}
		if rt != nil && !rt.fitsAll(i, n) || rt == nil && !fitsAll(p, months) {
			continue
		}
		if best == nil || p.MonthlyPrice < best.MonthlyPrice || (p.MonthlyPrice == best.MonthlyPrice && p.ID < best.ID) {
			best = p
		}
	}
	if best == nil {
		return nil
	}
	return NewQuote(f, *best, n)
}

// BestPlan returns a quote for the plan, among the available plans in the
// customer's currency that cover every meter the customer used and the
// customer's current plan, with the lowest re-rated total over the last n
// usage months, overage included: the best tariff for the way the
// customer uses their phone. Ties go to the current
// plan, then the lower price, then the lower id. It returns nil when the
// customer has no current plan or fewer than n months of usage; a quote
// for the current plan (Saving 0) when no plan would have cost less.
func BestPlan(f *Facts, n int) *Quote {
	if n <= 0 || len(f.Usage) < n || f.Plan.ID == "" {
		return nil
	}
	best := NewQuote(f, f.Plan, n)
	rt := ratingOf(f)
	for i := range f.Plans {
		p := &f.Plans[i]
		if !movable(f, p) {
			continue
		}
		if rt != nil && !rt.coversAll(i, n) || rt == nil && !coversAll(p, f.Usage[:n]) {
			continue
		}
		total := Rerate(f, *p, n)
		if total < best.Total || (total == best.Total && best.Plan.ID != f.Plan.ID &&
			(p.MonthlyPrice < best.Plan.MonthlyPrice || (p.MonthlyPrice == best.Plan.MonthlyPrice && p.ID < best.Plan.ID))) {
			best = NewQuote(f, *p, n)
		}
	}
	return best
}

// movable reports whether the customer could move to a plan: it is on sale,
// it is not their current plan, and it is priced in their currency.
func movable(f *Facts, p *Plan) bool {
	return p.Available && p.ID != f.Plan.ID && (f.Currency == "" || p.Currency == f.Currency)
}

// coversAll reports whether the plan lists every meter used in the months.
func coversAll(p *Plan, months []UsageMonth) bool {
	for _, m := range months {
		if _, covered := OverageMicros(*p, m); !covered {
			return false
		}
	}
	return true
}

// fitsAll reports whether every month fits the plan's allowances.
func fitsAll(p *Plan, months []UsageMonth) bool {
	for _, m := range months {
		if !Fits(*p, m) {
			return false
		}
	}
	return true
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
		ByMonth:      make([]QuoteMonth, len(months)),
	}
	q.SavesEveryMonth = len(months) > 0
	rt, j := ratingOf(f), -1
	if rt != nil && rt.current >= 0 {
		j = rt.planIndex(&p)
	}
	for i, m := range months {
		if j >= 0 {
			q.Costs[i], q.CurrentCosts[i] = rt.cost(i, j), rt.cost(i, rt.current)
		} else {
			q.Costs[i], q.CurrentCosts[i] = Cost(p, m), Cost(f.Plan, m)
		}
		q.Total += q.Costs[i]
		q.CurrentTotal += q.CurrentCosts[i]
		qm := QuoteMonth{CurrentCost: q.CurrentCosts[i], NewCost: q.Costs[i], Saving: q.CurrentCosts[i] - q.Costs[i],
			CurrentOverage: q.CurrentCosts[i] - f.Plan.MonthlyPrice, NewOverage: q.Costs[i] - p.MonthlyPrice}
		if i < len(f.Months) {
			qm.Month = f.Months[i]
		}
		q.ByMonth[i] = qm
		if i == 0 || qm.Saving < q.MinMonthlySaving {
			q.MinMonthlySaving = qm.Saving
		}
		if qm.Saving <= 0 {
			q.SavesEveryMonth = false
		}
	}
	q.Saving = q.CurrentTotal - q.Total
	if q.Months > 0 {
		q.MonthlySaving = q.Saving / q.Months
	}
	switch {
	case q.SavesEveryMonth:
		q.YearlySaving = q.MinMonthlySaving * 12
	case q.Saving > 0:
		q.YearlySaving = q.Saving
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
