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

// Diff returns the difference of two proportions, a − b, with a 95%
// interval by Newcombe's hybrid score method: the normal approximation of
// the difference, with each group's spread taken from its Wilson interval
// rather than from p(1−p)/n. Unlike the plain Wald interval it does not
// shrink to nothing when a group has none or all of its customers (0 of 25
// is not certainly 0%). With either group empty the interval is [−1, 1].
func Diff(a, b Proportion) Difference {
	d := a.P - b.P
	if a.N == 0 || b.N == 0 {
		return Difference{D: d, Lo: -1, Hi: 1}
	}
	lo := d - math.Sqrt((a.P-a.Lo)*(a.P-a.Lo)+(b.Hi-b.P)*(b.Hi-b.P))
	hi := d + math.Sqrt((a.Hi-a.P)*(a.Hi-a.P)+(b.P-b.Lo)*(b.P-b.Lo))
	return Difference{D: d, Lo: math.Max(-1, lo), Hi: math.Min(1, hi)}
}

// Covers reports whether the interval holds x.
func (d Difference) Covers(x float64) bool { return d.Lo <= x && x <= d.Hi }
