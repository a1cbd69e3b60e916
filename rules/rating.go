package rules

// Re-rating on slots. A run's catalogue is turned once into a Rater: every
// meter any plan lists gets a small integer, its slot, and every plan its
// allowances as a slice by slot. A worker then keeps one Rating, which for
// each customer it evaluates holds their usage months as slices by slot and
// remembers, the first time any helper of any rule asks, whether a month
// fits a plan and what it costs on it. The helpers give exactly what the
// map-based functions (Fits, OverageMicros, Cost) give: the same integers,
// summed in another order.

// Rater re-rates usage months on the plans of one catalogue.
type Rater struct {
	plans []Plan
	// slots numbers the meters the plans list.
	slots map[string]int
	// allow holds each plan's allowances by slot, plan by plan.
	allow [][]slotAllowance
	// index finds a plan of the catalogue by id.
	index map[string]int
}

// slotAllowance is a plan's allowance of one meter.
type slotAllowance struct {
	listed, unlimited bool
	included          int
	micros            int64
}

// NewRater numbers the meters of a catalogue and lays out each plan's
// allowances by them. The catalogue must not change while the Rater is in
// use.
func NewRater(plans []Plan) *Rater {
	r := &Rater{plans: plans, slots: map[string]int{}, index: make(map[string]int, len(plans))}
	for _, p := range plans {
		for meter := range p.Allowances {
			if _, ok := r.slots[meter]; !ok {
				r.slots[meter] = len(r.slots)
			}
		}
	}
	r.allow = make([][]slotAllowance, len(plans))
	for i, p := range plans {
		r.index[p.ID] = i
		r.allow[i] = make([]slotAllowance, len(r.slots))
		for meter, a := range p.Allowances {
			r.allow[i][r.slots[meter]] = slotAllowance{listed: true, unlimited: a.Unlimited, included: a.Included, micros: a.OverageRate.micros}
		}
	}
	return r
}

// Rating is one customer's usage months on slots and what is known so far
// of each month on each plan. A worker reuses one for every customer it
// evaluates (see Facts.Rate); it must not be shared between goroutines.
type Rating struct {
	rater *Rater
	// usage is the customer's usage months the rating is for.
	usage []UsageMonth
	// loaded is how many of the newest months are laid out in qty.
	loaded int
	// qty holds month i's quantity of slot k at i*len(slots)+k.
	qty []int
	// unknown[i] reports month i using a meter no plan lists.
	unknown []bool
	// memo holds month i on plan j at i*len(plans)+j.
	memo []monthOnPlan
	// current is the index of the customer's plan, or -1.
	current int
}

// monthOnPlan is one usage month re-rated on one plan.
type monthOnPlan struct {
	done, fits, covered bool
	micros              int64
}

// NewRating returns a Rating for the customers of a run.
func (r *Rater) NewRating() *Rating { return &Rating{rater: r} }

// Rate makes the helpers that re-rate usage use rt, cleared for these
// facts, instead of re-rating from the plans' maps. It does nothing when
// the facts' catalogue is not the one rt's Rater was made from.
func (f *Facts) Rate(rt *Rating) {
	f.rating = nil
	if rt == nil || rt.rater == nil || len(f.Plans) != len(rt.rater.plans) || (len(f.Plans) > 0 && &f.Plans[0] != &rt.rater.plans[0]) {
		return
	}
	rt.usage, rt.loaded, rt.current = f.Usage, 0, -1
	if i, ok := rt.rater.index[f.Plan.ID]; ok && f.Plan.ID != "" {
		rt.current = i
	}
	clear(rt.memo)
	if need := len(f.Usage) * len(rt.rater.plans); cap(rt.memo) < need {
		rt.memo = make([]monthOnPlan, need)
	} else {
		rt.memo = rt.memo[:need]
	}
	f.rating = rt
}

// ratingOf returns the facts' rating when it was made for these facts.
func ratingOf(f *Facts) *Rating {
	rt := f.rating
	if rt == nil || len(rt.usage) != len(f.Usage) || (len(f.Usage) > 0 && &rt.usage[0] != &f.Usage[0]) {
		return nil
	}
	return rt
}

// load lays out the newest n usage months on slots.
func (rt *Rating) load(n int) {
	if n <= rt.loaded {
		return
	}
	width := len(rt.rater.slots)
	if need := n * width; cap(rt.qty) < need {
		rt.qty = append(rt.qty[:rt.loaded*width], make([]int, need-rt.loaded*width)...)
		rt.unknown = append(rt.unknown[:rt.loaded], make([]bool, n-rt.loaded)...)
	} else {
		rt.qty = rt.qty[:need]
		rt.unknown = rt.unknown[:n]
	}
	for i := rt.loaded; i < n; i++ {
		row := rt.qty[i*width : (i+1)*width]
		clear(row)
		rt.unknown[i] = false
		for meter, q := range rt.usage[i] {
			if q <= 0 {
				continue
			}
			if k, ok := rt.rater.slots[meter]; ok {
				row[k] = q
			} else {
				rt.unknown[i] = true
			}
		}
	}
	rt.loaded = n
}

// month returns usage month i re-rated on catalogue plan j.
func (rt *Rating) month(i, j int) monthOnPlan {
	m := &rt.memo[i*len(rt.rater.plans)+j]
	if m.done {
		return *m
	}
	rt.load(i + 1)
	width := len(rt.rater.slots)
	allow := rt.rater.allow[j]
	*m = monthOnPlan{done: true, fits: !rt.unknown[i], covered: !rt.unknown[i]}
	for k, q := range rt.qty[i*width : (i+1)*width] {
		if q <= 0 {
			continue
		}
		a := &allow[k]
		switch {
		case !a.listed:
			m.fits, m.covered = false, false
		case a.unlimited || q <= a.included:
		default:
			m.fits = false
			m.micros += int64(q-a.included) * a.micros
		}
	}
	return *m
}

// cost is usage month i re-rated on catalogue plan j, in minor units.
func (rt *Rating) cost(i, j int) int {
	return rt.rater.plans[j].MonthlyPrice + roundMicros(rt.month(i, j).micros)
}

// fitsAll reports whether each of the newest n months fits plan j.
func (rt *Rating) fitsAll(j, n int) bool {
	for i := range n {
		if !rt.month(i, j).fits {
			return false
		}
	}
	return true
}

// coversAll reports whether plan j lists every meter used in the newest n
// months.
func (rt *Rating) coversAll(j, n int) bool {
	for i := range n {
		if !rt.month(i, j).covered {
			return false
		}
	}
	return true
}

// planIndex returns the catalogue index of a plan the facts hold, or -1.
func (rt *Rating) planIndex(p *Plan) int {
	if i, ok := rt.rater.index[p.ID]; ok {
		return i
	}
	return -1
}
