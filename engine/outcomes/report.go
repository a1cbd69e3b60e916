package outcomes

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/goodturn/goodturn/engine/sample"
	"github.com/goodturn/goodturn/engine/store"
)

// UptakeDays are the windows uptake is measured over; ChurnDays is churn's.
var UptakeDays = []int{30, 60, 90}

// ChurnDays is the window churn is measured over.
const ChurnDays = 90

// MinGroup is the fewest customers a group (treated or control) must have
// in a window before a verdict is given.
const MinGroup = 20

// Treated bases: what counts as contacted.
const (
	// BasisSent counts the approved proposals with a message sent: the
	// batch's messages went through the outbox.
	BasisSent = "sent"
	// BasisApproved counts every approved proposal: nothing of the batch
	// has been through the outbox (goodturn does not send, or not yet).
	BasisApproved = "approved"
	// BasisMixed is a rule whose batches have both bases.
	BasisMixed = "mixed"
)

// Report is the outcomes of every rule and batch with approved or control
// proposals.
type Report struct {
	// AsOf is the day outcomes are read up to: a window that ends after
	// it is not complete yet and counts nobody.
	AsOf time.Time `json:"as_of"`
	// PlanChanges and LeftOn report whether the billing data supplies the
	// relations uptake and churn need.
	PlanChanges bool    `json:"plan_changes"`
	LeftOn      bool    `json:"left_on"`
	Rules       []Group `json:"rules"`
	Batches     []Group `json:"batches"`
}

// Group is the outcomes of one rule over all its batches, or of one batch.
type Group struct {
	Ruleset string `json:"ruleset"`
	RuleID  string `json:"rule"`
	Kind    string `json:"kind"`
	// Batch is RUN/RULE for a batch, "" for a rule.
	Batch string    `json:"batch,omitempty"`
	AsOf  time.Time `json:"as_of"`
	// Basis says what counts as treated: sent, approved or mixed.
	Basis string `json:"basis"`
	// Treated and Control count the group's customers, whatever the window.
	Treated int       `json:"treated"`
	Control int       `json:"control"`
	Uptake  []Measure `json:"uptake"`
	Churn   Measure   `json:"churn"`
	Revenue Revenue   `json:"revenue"`
	// Curves follow uptake and churn week by week after the run, for a
	// rule (a batch has none).
	Curves []Curve `json:"curves,omitempty"`
}

// Measure is one figure over one window: treated against control.
type Measure struct {
	Name string `json:"name"`
	Days int    `json:"days"`
	// Available is false when the billing data lacks the relation the
	// figure needs.
	Available bool       `json:"available"`
	Treated   Proportion `json:"treated"`
	Control   Proportion `json:"control"`
	// Diff is treated minus control.
	Diff    Difference `json:"diff"`
	Verdict string     `json:"verdict"`
}

// Build measures the units against the facts as of a day. Units are
// approved and control proposals (store.OutcomeUnits).
func Build(units []store.OutcomeUnit, facts *Facts, asOf time.Time) *Report {
	rep := &Report{AsOf: asOf, PlanChanges: facts.HasPlanChanges, LeftOn: facts.HasLeftOn}
	type key struct {
		ruleset, rule string
		run           int64
	}
	// Batches and groups point at the units: a million units are not
	// copied for each.
	batches := map[key][]*store.OutcomeUnit{}
	var keys []key
	for i := range units {
		u := &units[i]
		k := key{u.Ruleset, u.RuleID, u.RunID}
		if _, ok := batches[k]; !ok {
			keys = append(keys, k)
		}
		batches[k] = append(batches[k], u)
	}
	sort.Slice(keys, func(a, b int) bool {
		x, y := keys[a], keys[b]
		if x.ruleset != y.ruleset {
			return x.ruleset < y.ruleset
		}
		if x.rule != y.rule {
			return x.rule < y.rule
		}
		return x.run > y.run
	})
	type ruleKey struct{ ruleset, rule string }
	var ruleOrder []ruleKey
	ruleUnits := map[ruleKey][]classified{}
	ruleBases := map[ruleKey]map[string]bool{}
	for _, k := range keys {
		us := batches[k]
		basis, cs := classify(us)
		g := measure(cs, facts, asOf)
		g.Ruleset, g.RuleID, g.Kind, g.AsOf, g.Basis = k.ruleset, k.rule, us[0].Kind, us[0].AsOf, basis
		g.Batch = store.BatchKey(k.run, k.rule)
		rep.Batches = append(rep.Batches, g)
		rk := ruleKey{k.ruleset, k.rule}
		if _, ok := ruleUnits[rk]; !ok {
			ruleOrder = append(ruleOrder, rk)
			ruleBases[rk] = map[string]bool{}
		}
		ruleUnits[rk] = append(ruleUnits[rk], cs...)
		ruleBases[rk][basis] = true
	}
	for _, rk := range ruleOrder {
		cs := ruleUnits[rk]
		g := measure(cs, facts, asOf)
		g.Ruleset, g.RuleID, g.Kind = rk.ruleset, rk.rule, cs[0].Kind
		for _, c := range cs {
			if c.AsOf.After(g.AsOf) {
				g.AsOf = c.AsOf
			}
		}
		g.Curves = curves(cs, facts, asOf)
		g.Basis = BasisMixed
		if len(ruleBases[rk]) == 1 {
			for b := range ruleBases[rk] {
				g.Basis = b
			}
		}
		rep.Rules = append(rep.Rules, g)
	}
	return rep
}

// classified is a unit that is either treated or control; units that are
// neither (approved but never sent, in a batch that was sent) are dropped.
type classified struct {
	*store.OutcomeUnit
	treated bool
}

// classify decides the batch's basis and which of its units are treated.
func classify(us []*store.OutcomeUnit) (string, []classified) {
	basis := BasisApproved
	for _, u := range us {
		if u.Queued {
			basis = BasisSent
			break
		}
	}
	out := make([]classified, 0, len(us))
	for _, u := range us {
		c := classified{OutcomeUnit: u, treated: u.Status == store.ProposalApproved}
		if c.treated && basis == BasisSent && !u.Sent {
			continue
		}
		out = append(out, c)
	}
	return basis, out
}

// measure computes a group's figures.
func measure(cs []classified, facts *Facts, asOf time.Time) Group {
	var g Group
	for _, c := range cs {
		if c.treated {
			g.Treated++
		} else {
			g.Control++
		}
	}
	for _, days := range UptakeDays {
		m := window(cs, asOf, days, uptakeHit(facts))
		m.Name, m.Available = "uptake", facts.HasPlanChanges
		m.Verdict = verdict(m, "took the offer")
		g.Uptake = append(g.Uptake, m)
	}
	g.Churn = window(cs, asOf, ChurnDays, churnHit(facts))
	g.Churn.Name, g.Churn.Available = "churn", facts.HasLeftOn
	g.Churn.Verdict = verdict(g.Churn, "left")
	g.Revenue = measureRevenue(cs, facts, asOf)
	return g
}

// uptakeHit reports whether a unit's customer took the offer by end.
func uptakeHit(facts *Facts) func(c classified, end time.Time) bool {
	return func(c classified, end time.Time) bool { return tookUp(c, facts, end) }
}

// churnHit reports whether a unit's customer left after the proposal and
// by end.
func churnHit(facts *Facts) func(c classified, end time.Time) bool {
	return func(c classified, end time.Time) bool {
		on, ok := facts.LeftOn[c.CustomerID]
		return ok && on.After(c.AsOf) && !on.After(end)
	}
}

// CurveWeeks is how many weeks after the run the curves follow: the 90
// days of uptake and churn, and a day.
const CurveWeeks = 13

// Curve is one figure week by week after the run: for each week, the
// share of each group that had taken the offer (or left) by its end,
// among the customers whose run is that many weeks old.
type Curve struct {
	Name string `json:"name"`
	// Available is false when the billing data lacks the relation.
	Available bool    `json:"available"`
	Points    []Point `json:"points"`
}

// Point is a curve's value at the end of a week after the run.
type Point struct {
	Week    int        `json:"week"`
	Treated Proportion `json:"treated"`
	Control Proportion `json:"control"`
}

// curves follows uptake and churn week by week, up to the last week some
// unit has reached by asOf.
func curves(cs []classified, facts *Facts, asOf time.Time) []Curve {
	out := []Curve{{Name: "uptake", Available: facts.HasPlanChanges}, {Name: "churn", Available: facts.HasLeftOn}}
	hits := []func(c classified, end time.Time) bool{uptakeHit(facts), churnHit(facts)}
	for i := range out {
		if !out[i].Available {
			continue
		}
		for w := 1; w <= CurveWeeks; w++ {
			m := window(cs, asOf, 7*w, hits[i])
			if m.Treated.N+m.Control.N == 0 {
				break
			}
			out[i].Points = append(out[i].Points, Point{Week: w, Treated: m.Treated, Control: m.Control})
		}
	}
	return out
}

// window counts, among the units whose window of days has ended by asOf,
// those for whom hit holds, treated and control apart.
func window(cs []classified, asOf time.Time, days int, hit func(c classified, end time.Time) bool) Measure {
	var kt, nt, kc, nc int
	for _, c := range cs {
		end := c.AsOf.AddDate(0, 0, days)
		if end.After(asOf) {
			continue // the window is not over yet
		}
		h := hit(c, end)
		if c.treated {
			nt++
			if h {
				kt++
			}
		} else {
			nc++
			if h {
				kc++
			}
		}
	}
	m := Measure{Days: days, Treated: Wilson(kt, nt), Control: Wilson(kc, nc)}
	m.Diff = Diff(m.Treated, m.Control)
	return m
}

// tookUp reports whether the customer took the offer after the proposal and
// by end: moved to the offered plan, or, for an offer without a plan, made
// any plan change.
func tookUp(c classified, facts *Facts, end time.Time) bool {
	for _, ch := range facts.Changes[c.CustomerID] {
		if !ch.ChangedOn.After(c.AsOf) || ch.ChangedOn.After(end) {
			continue
		}
		if c.Plan == "" || ch.ToPlan == c.Plan {
			return true
		}
	}
	return false
}

// verdict says in plain words what a measure shows.
func verdict(m Measure, what string) string {
	switch {
	case !m.Available:
		return "no outcome data"
	case m.Treated.N == 0 && m.Control.N == 0:
		return fmt.Sprintf("not yet: no batch is %d days old", m.Days)
	case m.Control.N == 0:
		return "no control group: give the rule a control share"
	case m.Treated.N < MinGroup || m.Control.N < MinGroup:
		return "too few customers yet to tell"
	case m.Diff.Covers(0):
		return fmt.Sprintf("too few customers yet to tell: the difference could be anything from %s to %s", Points(m.Diff.Lo), Points(m.Diff.Hi))
	case m.Diff.D > 0:
		return fmt.Sprintf("more contacted customers %s: %s (%s to %s)", what, Points(m.Diff.D), Points(m.Diff.Lo), Points(m.Diff.Hi))
	default:
		return fmt.Sprintf("fewer contacted customers %s: %s (%s to %s)", what, Points(m.Diff.D), Points(m.Diff.Lo), Points(m.Diff.Hi))
	}
}

// Points writes a difference of proportions in percentage points: "+4.2
// points".
func Points(d float64) string {
	v := math.Round(d*1000) / 10
	if v == 0 {
		v = 0 // no "-0.0"
	}
	return fmt.Sprintf("%+.1f points", v)
}

// Percent writes a proportion as a percentage: "31.4%".
func Percent(p float64) string { return fmt.Sprintf("%.1f%%", math.Round(p*1000)/10) }

// Contacts turns outcome units into the sample generator's contacts: an
// approved proposal is a contacted customer.
func Contacts(units []store.OutcomeUnit) []sample.Contact {
	out := make([]sample.Contact, 0, len(units))
	for _, u := range units {
		out = append(out, sample.Contact{CustomerID: u.CustomerID, Rule: u.Ruleset + "/" + u.RuleID, AsOf: u.AsOf,
			PlanID: u.Plan, Contacted: u.Status == store.ProposalApproved})
	}
	return out
}

// PercentWhole writes a proportion as a whole percentage: "30%".
func PercentWhole(p float64) string { return fmt.Sprintf("%.0f%%", math.Round(p*100)) }
