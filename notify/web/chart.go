package web

import (
	"fmt"
	"math"
	"strconv"

	"github.com/goodturn/goodturn/rules"
)

// Charts are drawn on the server as SVG: the handlers compute the
// geometry here and templates/parts.html writes the elements, so every
// label goes through html/template's escaping.

// barChart is a bar chart in a W×H view box.
type barChart struct {
	W, H  int
	Bars  []bar
	Ticks []tick
	// Lines are horizontal reference lines (a plan's allowance).
	Lines []refLine
	// Axis is the y of the baseline.
	Axis  float64
	Title string
}

type bar struct {
	X, Y, W, H float64
	Title      string
	// Count, when set, is written above the bar, shown on hover and on
	// focus (a counted bar can take the keyboard's focus).
	Count string
}

type tick struct {
	X, Y   float64
	Text   string
	Anchor string
}

type refLine struct {
	X1, X2, Y float64
	Class     string
	Text      string
}

// histogram charts the spread of values (minor units, sorted or not) in
// up to 12 equal bins between the smallest and the largest, with the
// values on the x axis (the least, the middle and the most) and the count
// of proposals on the y axis; each bar tells its count on hover or focus.
func histogram(values []int64, currency string) *barChart {
	if len(values) == 0 {
		return nil
	}
	lo, hi := values[0], values[0]
	for _, v := range values {
		lo, hi = min(lo, v), max(hi, v)
	}
	bins := 12
	if hi == lo {
		bins = 1
	}
	width := float64(hi-lo) / float64(bins)
	counts := make([]int, bins)
	for _, v := range values {
		i := 0
		if width > 0 {
			i = int(float64(v-lo) / width)
		}
		counts[min(i, bins-1)]++
	}
	most := 0
	for _, c := range counts {
		most = max(most, c)
	}
	// The y axis's labels sit left of the bars, the x axis's below them:
	// no label overlaps a bar.
	const W, H, top, bottom, left, right = 340, 140, 16.0, 22.0, 30.0, 8.0
	c := &barChart{W: W, H: H, Axis: H - bottom, Title: fmt.Sprintf("Yearly value of %d proposals", len(values))}
	slot := (W - left - right) / float64(bins)
	for i, n := range counts {
		h := (H - top - bottom) * float64(n) / float64(most)
		from := lo + int64(math.Round(width*float64(i)))
		to := lo + int64(math.Round(width*float64(i+1)))
		title := fmt.Sprintf("%d proposals worth %s to %s a year", n, rules.FormatMoney(int(from), currency), rules.FormatMoney(int(to), currency))
		if bins == 1 {
			title = fmt.Sprintf("%d proposals worth %s a year", n, rules.FormatMoney(int(lo), currency))
		}
		c.Bars = append(c.Bars, bar{X: left + slot*float64(i) + 1, Y: H - bottom - h, W: slot - 2, H: h, Title: title, Count: strconv.Itoa(n)})
	}
	// y: 0 at the axis, the tallest bar's count at its top.
	c.Ticks = append(c.Ticks,
		tick{X: left - 4, Y: H - bottom, Text: "0", Anchor: "end"},
		tick{X: left - 4, Y: top + 4, Text: strconv.Itoa(most), Anchor: "end"})
	c.Lines = append(c.Lines, refLine{X1: left, X2: W - right, Y: top, Class: "grid"})
	// x: the least value, the middle one and the most.
	c.Ticks = append(c.Ticks, tick{X: left, Y: H - 5, Text: rules.FormatMoney(int(lo), currency), Anchor: "start"})
	if hi != lo {
		mid := lo + (hi-lo)/2
		c.Ticks = append(c.Ticks,
			tick{X: left + (W-left-right)/2, Y: H - 5, Text: rules.FormatMoney(int(mid), currency), Anchor: "middle"},
			tick{X: W - right, Y: H - 5, Text: rules.FormatMoney(int(hi), currency), Anchor: "end"})
	}
	return c
}

// meterUnits says how each meter's usage is shown: data in GB, the rest
// as counted.
var meterUnits = map[string]struct {
	name string
	div  float64
	unit string
}{
	"data_mb":    {"Data", 1024, "GB"},
	"roaming_mb": {"Roaming data", 1024, "GB"},
	"minutes":    {"Minutes", 1, "min"},
	"texts":      {"Texts", 1, "texts"},
}

func meterLabel(meter string) (string, float64, string) {
	if u, ok := meterUnits[meter]; ok {
		return u.name, u.div, u.unit
	}
	return meter, 1, ""
}

func quantity(v, div float64, unit string) string {
	s := strconv.FormatFloat(v/div, 'f', -1, 64)
	if div != 1 {
		s = strconv.FormatFloat(v/div, 'f', 1, 64)
	}
	if unit != "" {
		s += " " + unit
	}
	return s
}

// usageChart is one meter's usage per month against two plans' allowances.
type usageChart struct {
	Meter string
	Chart *barChart
	// Notes say what a line cannot show: an unlimited allowance, a meter
	// a plan does not cover.
	Notes []string
	// Legend names the allowance lines.
	Legend []legendItem
}

type legendItem struct{ Class, Text string }

// usageCharts charts the customer's months of usage (facts.Usage, newest
// first) for each meter used and limited by either plan, against the
// current plan's and the proposed plan's allowances. A meter both plans
// include without limit, or that was never used, has no chart.
func usageCharts(f rules.Facts, proposed rules.Plan, hasProposed bool) []usageChart {
	meters := []string{"data_mb", "minutes", "texts", "roaming_mb"}
	seen := map[string]bool{}
	for _, m := range meters {
		seen[m] = true
	}
	for _, month := range f.Usage {
		for m := range month {
			if !seen[m] {
				seen[m] = true
				meters = append(meters, m)
			}
		}
	}
	var out []usageChart
	n := len(f.Usage)
	for _, meter := range meters {
		used := false
		peak := 0.0
		for _, month := range f.Usage {
			if month[meter] > 0 {
				used = true
			}
			peak = max(peak, float64(month[meter]))
		}
		cur, curOK := f.Plan.Allowances[meter]
		prop, propOK := proposed.Allowances[meter]
		limited := func(a rules.Allowance, ok bool) bool { return ok && !a.Unlimited }
		// A meter is worth a chart when it was used and some plan limits
		// it (or does not cover it at all).
		if !used || !(limited(cur, curOK) || !curOK || hasProposed && (limited(prop, propOK) || !propOK)) {
			continue
		}
		if limited(cur, curOK) {
			peak = max(peak, float64(cur.Included))
		}
		if hasProposed && limited(prop, propOK) {
			peak = max(peak, float64(prop.Included))
		}
		if peak == 0 || n == 0 {
			continue
		}
		name, div, unit := meterLabel(meter)
		const W, H, top, bottom, left, right = 420, 170, 20.0, 22.0, 6.0, 64.0
		scale := (H - top - bottom) / (peak * 1.08)
		c := &barChart{W: W, H: H, Axis: H - bottom, Title: name + " used each month"}
		uc := usageChart{Meter: name, Chart: c}
		slot := (W - left - right) / float64(n)
		for i := 0; i < n; i++ {
			month := f.Usage[n-1-i] // oldest first
			v := float64(month[meter])
			h := v * scale
			x := left + slot*float64(i)
			label := ""
			if n-1-i < len(f.Months) {
				label = f.Months[n-1-i].Format("Jan 06")
			}
			c.Bars = append(c.Bars, bar{X: x + 3, Y: H - bottom - h, W: slot - 6, H: h, Title: label + ": " + quantity(v, div, unit)})
			c.Ticks = append(c.Ticks, tick{X: x + slot/2, Y: H - 6, Text: label, Anchor: "middle"})
		}
		line := func(a rules.Allowance, ok bool, class, who string) {
			switch {
			case !ok:
				uc.Notes = append(uc.Notes, who+" does not include "+name+": any use is charged")
			case a.Unlimited:
				uc.Notes = append(uc.Notes, who+": unlimited "+name)
			default:
				y := H - bottom - float64(a.Included)*scale
				q := quantity(float64(a.Included), div, unit)
				c.Lines = append(c.Lines, refLine{X1: left, X2: W - right, Y: y, Class: class, Text: q})
				uc.Legend = append(uc.Legend, legendItem{Class: class, Text: who + ", " + q + " a month"})
			}
		}
		c.Ticks = append(c.Ticks, tick{X: left, Y: 12, Text: "scale to " + quantity(peak*1.08, div, unit), Anchor: "start"})
		line(cur, curOK, "current", "now: "+f.Plan.Name)
		if hasProposed {
			line(prop, propOK, "proposed", "offered: "+proposed.Name)
		}
		out = append(out, uc)
	}
	return out
}

// lineChart is a line chart in a W×H view box: each series a line over a
// band (its interval), horizontal grid lines at Grid, ticks on both axes.
type lineChart struct {
	W, H        float64
	Left, Right float64
	Axis        float64
	Grid        []float64
	Ticks       []tick
	Series      []series
	// Title is the chart's accessible name.
	Title string
}

// series is one line of a lineChart: Line and Band are SVG points lists.
type series struct {
	Class string
	Line  string
	Band  string
}
