package outcomes

import "math"

// z95 is the standard normal quantile of a two-sided 95% interval.
const z95 = 1.959963984540054

// Proportion is k of n customers with a 95% Wilson score interval.
type Proportion struct {
	K  int     `json:"k"`
	N  int     `json:"n"`
	P  float64 `json:"p"`
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// Wilson returns k of n with its 95% Wilson score interval, which stays
// within [0, 1] and behaves at small n and at shares near 0 or 1, where the
// textbook p ± 1.96·√(p(1−p)/n) does not. An empty group has P 0 and the
// interval [0, 1]: it says nothing.
func Wilson(k, n int) Proportion {
	if n <= 0 {
		return Proportion{Hi: 1}
	}
	p := float64(k) / float64(n)
	nf := float64(n)
	z2 := z95 * z95
	centre := (p + z2/(2*nf)) / (1 + z2/nf)
	half := z95 / (1 + z2/nf) * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return Proportion{K: k, N: n, P: p, Lo: math.Max(0, centre-half), Hi: math.Min(1, centre+half)}
}

// Difference is treated minus control, in proportion points, with a 95%
// interval.
type Difference struct {
	D  float64 `json:"d"`
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// Diff returns the difference of two proportions, a − b, with the 95%
// normal-approximation (Wald) interval d ± 1.96·√(pa(1−pa)/na + pb(1−pb)/nb).
// With either group empty the interval is [−1, 1].
func Diff(a, b Proportion) Difference {
	d := a.P - b.P
	if a.N == 0 || b.N == 0 {
		return Difference{D: d, Lo: -1, Hi: 1}
	}
	se := math.Sqrt(a.P*(1-a.P)/float64(a.N) + b.P*(1-b.P)/float64(b.N))
	return Difference{D: d, Lo: math.Max(-1, d-z95*se), Hi: math.Min(1, d+z95*se)}
}

// Covers reports whether the interval holds x.
func (d Difference) Covers(x float64) bool { return d.Lo <= x && x <= d.Hi }
