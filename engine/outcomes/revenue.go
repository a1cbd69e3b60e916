package outcomes

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/goodturn/goodturn/rules"
)

// RevenueMonths is how many months after a proposal its customer's bills
// are summed over.
const RevenueMonths = 3

// Revenue is what each customer was billed over the RevenueMonths after
// the proposal, treated against control: every charge not waived (credits
// subtract), a customer who left counting as billed nothing after leaving.
// A cheaper plan lowers it by design; fewer customers leaving raises it.
type Revenue struct {
	Name   string `json:"name"`
	Months int    `json:"months"`
	// Currency is the currency of every amount; "" when the group's
	// customers are billed in several, which are not added together.
	Currency string `json:"currency"`
	Treated  Amount `json:"treated"`
	Control  Amount `json:"control"`
	// Diff is treated minus control, per customer.
	Diff AmountDiff `json:"diff"`
	// Refused counts the customers left out because one of their charges
	// has a NULL amount or waived: what they were billed is not known.
	Refused int    `json:"refused,omitempty"`
	Verdict string `json:"verdict"`
}

// Amount is a group's mean billed per customer, in minor units, with its
// 95% interval (Student's t). Mean is rounded to the nearest minor unit and
// the interval outward, so that the printed range holds the computed one.
// A group of fewer than two customers has no interval: Lo and Hi are 0.
type Amount struct {
	N int `json:"n"`
	// Total is everything billed to the group in the window, exactly.
	Total int64 `json:"total"`
	Mean  int64 `json:"mean"`
	Lo    int64 `json:"lo"`
	Hi    int64 `json:"hi"`
}

// AmountDiff is the difference of two groups' means per customer, minor
// units, with its 95% interval by Welch's method and its degrees of
// freedom; rounded as Amount is. DF 0 means no interval (a group of fewer
// than two): Lo and Hi are 0.
type AmountDiff struct {
	D  int64   `json:"d"`
	Lo int64   `json:"lo"`
	Hi int64   `json:"hi"`
	DF float64 `json:"df"`
}

// Covers reports whether the interval holds x minor units.
func (d AmountDiff) Covers(x float64) bool { return float64(d.Lo) <= x && x <= float64(d.Hi) }

// RevenueEnd is the last day of the revenue window of a proposal made on
// asOf: the same day RevenueMonths later, or that month's last day when it
// is shorter (31 January gives 30 April).
func RevenueEnd(asOf time.Time) time.Time {
	day := time.Date(asOf.Year(), asOf.Month(), asOf.Day(), 0, 0, 0, 0, time.UTC)
	first := time.Date(day.Year(), day.Month()+RevenueMonths, 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return time.Date(first.Year(), first.Month(), min(day.Day(), last), 0, 0, 0, 0, time.UTC)
}

// billedWithin sums what a customer was billed after the day of asOf and
// up to end, and reports whether they had any bill in it and whether one
// of those bills is not known (Bill.Unknown).
func billedWithin(bills []Bill, asOf, end time.Time) (sum int64, any, unknown bool) {
	day := time.Date(asOf.Year(), asOf.Month(), asOf.Day(), 0, 0, 0, 0, time.UTC)
	for _, b := range bills {
		if b.On.After(day) && !b.On.After(end) {
			sum += b.Amount
			any = true
			unknown = unknown || b.Unknown
		}
	}
	return sum, any, unknown
}

// measureRevenue computes the revenue figure of the units whose window has
// ended by asOf.
func measureRevenue(cs []classified, facts *Facts, asOf time.Time) Revenue {
	r := Revenue{Name: "revenue", Months: RevenueMonths}
	var treated, control []int64
	currencies := map[string]bool{}
	billed := false
	for _, c := range cs {
		end := RevenueEnd(c.AsOf)
		if end.After(asOf) {
			continue // the window is not over yet
		}
		sum, any, unknown := billedWithin(facts.Billed[c.CustomerID], c.AsOf, end)
		if unknown {
			r.Refused++
			continue
		}
		billed = billed || any
		currencies[facts.currencyOf(c.CustomerID)] = true
		if c.treated {
			treated = append(treated, sum)
		} else {
			control = append(control, sum)
		}
	}
	if len(currencies) == 1 {
		for c := range currencies {
			r.Currency = c
		}
	}
	st, sc := Summarize(treated), Summarize(control)
	r.Treated, r.Control = amount(st, treated), amount(sc, control)
	d, lo, hi, df := Welch(st, sc)
	r.Diff = AmountDiff{D: roundMoney(d)}
	if st.N >= 2 && sc.N >= 2 {
		r.Diff.Lo, r.Diff.Hi, r.Diff.DF = floorMoney(lo), ceilMoney(hi), math.Round(df*10)/10
	}
	r.Verdict = revenueVerdict(r, billed, currencies)
	return r
}

// amount is a group's Amount from its sample and its values.
func amount(s Sample, xs []int64) Amount {
	a := Amount{N: s.N, Mean: roundMoney(s.Mean)}
	for _, x := range xs {
		a.Total += x
	}
	if s.N >= 2 {
		lo, hi := MeanInterval(s)
		a.Lo, a.Hi = floorMoney(lo), ceilMoney(hi)
	}
	return a
}

// The roundings of a mean (finite) to whole minor units.
func roundMoney(x float64) int64 { return int64(math.Round(x)) }
func floorMoney(x float64) int64 { return int64(math.Floor(x)) }
func ceilMoney(x float64) int64  { return int64(math.Ceil(x)) }

// revenueVerdict says in plain words what the revenue figure shows.
func revenueVerdict(r Revenue, billed bool, currencies map[string]bool) string {
	over := fmt.Sprintf("over %d months", r.Months)
	switch {
	case r.Treated.N == 0 && r.Control.N == 0:
		return fmt.Sprintf("not yet: no batch is %d months old", r.Months)
	case r.Control.N == 0:
		return "no control group: give the rule a control share"
	case len(currencies) > 1:
		var cs []string
		for c := range currencies {
			cs = append(cs, c)
		}
		sort.Strings(cs)
		return "customers are billed in several currencies (" + strings.Join(cs, ", ") + "): not added together"
	case !billed:
		return fmt.Sprintf("no bills in the %d months after the run: the billing data has none yet", r.Months)
	case r.Treated.N < MinGroup || r.Control.N < MinGroup:
		return "too few customers yet to tell"
	case r.Diff.Lo <= 0 && 0 <= r.Diff.Hi:
		return fmt.Sprintf("too few customers yet to tell: the difference could be anything from %s to %s a customer %s",
			SignedMoney(r.Diff.Lo, r.Currency), SignedMoney(r.Diff.Hi, r.Currency), over)
	case r.Diff.D < 0:
		return fmt.Sprintf("revenue given: contacted customers were billed %s less each %s (%s to %s less)",
			Money(-r.Diff.D, r.Currency), over, Money(-r.Diff.Hi, r.Currency), Money(-r.Diff.Lo, r.Currency))
	default:
		return fmt.Sprintf("revenue kept or gained: contacted customers were billed %s more each %s (%s to %s more)",
			Money(r.Diff.D, r.Currency), over, Money(r.Diff.Lo, r.Currency), Money(r.Diff.Hi, r.Currency))
	}
}

// Money writes an amount of minor units in its currency: "£4.10".
func Money(v int64, currency string) string { return rules.FormatMoney(int(v), currency) }

// SignedMoney writes an amount with its sign: "+£4.10", "-£0.80", "£0.00".
func SignedMoney(v int64, currency string) string {
	if v > 0 {
		return "+" + Money(v, currency)
	}
	return Money(v, currency)
}
