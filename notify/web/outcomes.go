package web

import (
	"fmt"
	"html/template"
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

// outcomeRule is one rule's figures with its chart.
type outcomeRule struct {
	outcomes.Group
	Measures []outcomes.Measure
	Chart    template.HTML
}

// outcomesPage serves GET /outcomes: per rule and per batch, treated
// against control, the same figures as `goodturn outcomes`.
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
	since := now
	for _, un := range units {
		if un.AsOf.Before(since) {
			since = un.AsOf
		}
	}
	facts, err := outcomes.ReadFacts(ctx, s.cfg.Billing.DB, since)
	if err != nil {
		s.failErr(w, r, u, err)
		return
	}
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	d := outcomesData{Report: outcomes.Build(units, facts, today)}
	for _, g := range d.Report.Rules {
		ms := append(append([]outcomes.Measure{}, g.Uptake...), g.Churn)
		d.Rules = append(d.Rules, outcomeRule{Group: g, Measures: ms, Chart: outcomeChart(g.Ruleset+"/"+g.RuleID, ms)})
	}
	s.render(w, r, http.StatusOK, "outcomes", page{Title: "Outcomes", Nav: "outcomes", User: u, Data: d})
}

// outcomeChart draws each figure's treated and control shares as bars with
// their 95% intervals as whiskers, or nothing when no figure has data.
func outcomeChart(name string, ms []outcomes.Measure) template.HTML {
	const (
		width, height = 360, 160
		top, bottom   = 10, 30
		groupW        = width / 4
		barW          = 22
	)
	var b strings.Builder
	plotH := float64(height - top - bottom)
	y := func(p float64) float64 { return float64(top) + plotH*(1-p) }
	drawn := false
	for i, m := range ms {
		if !m.Available {
			continue
		}
		x0 := i*groupW + groupW/2 - barW - 2
		for j, p := range []outcomes.Proportion{m.Treated, m.Control} {
			if p.N == 0 {
				continue
			}
			drawn = true
			x := x0 + j*(barW+4)
			class, fill := []string{"treated", "control"}[j], []string{"#2a6f4e", "#9aa5b1"}[j]
			fmt.Fprintf(&b, `<rect class="%s" fill="%s" x="%d" y="%.1f" width="%d" height="%.1f"><title>%s %s: %s of %d (%s to %s)</title></rect>`,
				class, fill, x, y(p.P), barW, plotH*p.P, class, measureLabel(m), outcomes.Percent(p.P), p.N, outcomes.Percent(p.Lo), outcomes.Percent(p.Hi))
			cx := x + barW/2
			fmt.Fprintf(&b, `<line class="whisker" stroke="#222" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, cx, cx, y(p.Lo), y(p.Hi))
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-size="11">%s</text>`, i*groupW+groupW/2, height-10, measureLabel(m))
	}
	if !drawn {
		return ""
	}
	return template.HTML(fmt.Sprintf(`<svg class="chart" viewBox="0 0 %d %d" width="100%%" role="img" aria-label="%s: treated against control">`+
		`<line class="axis" stroke="#888" x1="0" x2="%d" y1="%.1f" y2="%.1f"/>%s</svg>`,
		width, height, template.HTMLEscapeString(name), width, y(0), y(0), b.String()))
}

// measureLabel names a figure: "uptake 30d".
func measureLabel(m outcomes.Measure) string { return fmt.Sprintf("%s %dd", m.Name, m.Days) }

func init() {
	funcs["pct"] = outcomes.Percent
	funcs["points"] = func(d float64) string { return strings.TrimSuffix(outcomes.Points(d), " points") }
}
