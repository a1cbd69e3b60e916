package web

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/goodturn/goodturn/engine/outcomes"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

// outcomesData is what templates/outcomes.html shows.
type outcomesData struct {
	Report *outcomes.Report
	Rules  []outcomeRule
}

// outcomeRule is one rule's figures with its charts.
type outcomeRule struct {
	outcomes.Group
	Measures []outcomes.Measure
	Charts   []curveChart
}

// curveChart is a figure week by week after the run, treated against
// control, as a line chart and as the table that is its text alternative.
type curveChart struct {
	ID    string
	Name  string
	Chart *lineChart
	Rows  []outcomes.Point
	// Note says why there is no chart.
	Note string
}

// outcomesPage serves GET /outcomes: per rule and per batch, treated
// against control, the same figures as `goodturn outcomes`, with each
// rule's uptake and churn charted week by week.
func (s *Server) outcomesPage(w http.ResponseWriter, r *http.Request, u *reviewdb.User) {
	ctx := r.Context()
	units, err := store.OutcomeUnits(ctx, s.cfg.DB, "")
	if err != nil {
		s.failErr(w, r, u, err)
		return
	}
	now := time.Now()
	if s.cfg.Review.Now != nil {
		now = s.cfg.Review.Now()
	}
	rep, err := outcomes.Load(ctx, s.cfg.Billing.DB, units, now)
	if err != nil {
		s.failErr(w, r, u, err)
		return
	}
	d := outcomesData{Report: rep}
	for i, g := range rep.Rules {
		or := outcomeRule{Group: g, Measures: append(append([]outcomes.Measure{}, g.Uptake...), g.Churn)}
		for _, c := range g.Curves {
			or.Charts = append(or.Charts, newCurveChart(fmt.Sprintf("curve-%d-%s", i, c.Name), g.Ruleset+"/"+g.RuleID, c))
		}
		d.Rules = append(d.Rules, or)
	}
	s.render(w, r, http.StatusOK, "outcomes", page{Title: "Outcomes", Nav: "outcomes", User: u, Data: d})
}

// curveNames are the charts' titles.
var curveNames = map[string]string{"uptake": "Took the offer", "churn": "Left"}

// newCurveChart draws a curve: for each group a line through its shares at
// the end of each week (from 0 on the run's day), over a band of their 95%
// intervals, on a y axis up to the highest interval rounded up to a tidy
// step.
func newCurveChart(id, rule string, c outcomes.Curve) curveChart {
	name := curveNames[c.Name]
	cc := curveChart{ID: id, Name: name, Rows: c.Points}
	switch {
	case !c.Available:
		cc.Note = "No outcome data."
		return cc
	case len(c.Points) == 0:
		cc.Note = "Not yet: no batch is a week old."
		return cc
	}
	top := 0.0
	for _, p := range c.Points {
		top = max(top, p.Treated.Hi, p.Control.Hi)
	}
	// A tidy step that gives at most six lines above the axis.
	step := 0.05
	for _, st := range []float64{0.05, 0.1, 0.2, 0.25} {
		step = st
		if math.Ceil(top/st-1e-9) <= 6 {
			break
		}
	}
	top = math.Max(step, math.Ceil(top/step-1e-9)*step)
	const W, H, left, right, topPad, bottom = 360.0, 190.0, 34.0, 8.0, 10.0, 26.0
	x := func(week int) float64 { return left + (W-left-right)*float64(week)/outcomes.CurveWeeks }
	y := func(p float64) float64 { return topPad + (H-topPad-bottom)*(1-p/top) }
	lc := &lineChart{W: W, H: H, Axis: y(0), Left: left, Right: W - right,
		Title: fmt.Sprintf("%s: share of contacted and control customers who %s, by week after the run", rule, strings.ToLower(name))}
	for i := 0; i <= int(math.Round(top/step)); i++ {
		v := float64(i) * step
		lc.Ticks = append(lc.Ticks, tick{X: left - 4, Y: y(v) + 3, Text: outcomes.PercentWhole(v), Anchor: "end"})
		if i > 0 {
			lc.Grid = append(lc.Grid, y(v))
		}
	}
	for w := 0; w <= outcomes.CurveWeeks; w += 4 {
		lc.Ticks = append(lc.Ticks, tick{X: x(w), Y: H - 8, Text: fmt.Sprintf("week %d", w), Anchor: "middle"})
	}
	for _, group := range []string{"treated", "control"} {
		var line, upper, lower []string
		pt := func(w int, p float64) string { return fmt.Sprintf("%.1f,%.1f", x(w), y(p)) }
		line, upper, lower = append(line, pt(0, 0)), append(upper, pt(0, 0)), append(lower, pt(0, 0))
		for _, p := range c.Points {
			q := p.Treated
			if group == "control" {
				q = p.Control
			}
			if q.N == 0 {
				continue
			}
			line = append(line, pt(p.Week, q.P))
			upper = append(upper, pt(p.Week, q.Hi))
			lower = append([]string{pt(p.Week, q.Lo)}, lower...)
		}
		lc.Series = append(lc.Series, series{Class: group, Line: strings.Join(line, " "),
			Band: strings.Join(append(upper, lower...), " ")})
	}
	cc.Chart = lc
	return cc
}

func init() {
	funcs["pct"] = outcomes.Percent
	funcs["points"] = func(d float64) string { return strings.TrimSuffix(outcomes.Points(d), " points") }
	funcs["signedMoney"] = outcomes.SignedMoney
}
