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

// Sample is the mean of a sample of amounts (minor units) with what its
// spread needs: the count, the mean and the unbiased variance.
type Sample struct {
	N        int
	Mean     float64
	Variance float64
}

// Summarize returns the sample's count, mean and variance, by Welford's
// running update, which does not lose precision on large sums of squares.
func Summarize(xs []int64) Sample {
	var s Sample
	var m2 float64
	for _, x := range xs {
		s.N++
		d := float64(x) - s.Mean
		s.Mean += d / float64(s.N)
		m2 += d * (float64(x) - s.Mean)
	}
	if s.N > 1 {
		s.Variance = m2 / float64(s.N-1)
	}
	return s
}

// MeanInterval returns the 95% t interval of the sample's mean: mean ±
// t(n−1)·s/√n. A sample of fewer than two says nothing: the interval is
// infinite.
func MeanInterval(s Sample) (lo, hi float64) {
	if s.N < 2 {
		return math.Inf(-1), math.Inf(1)
	}
	half := TQuantile975(float64(s.N-1)) * math.Sqrt(s.Variance/float64(s.N))
	return s.Mean - half, s.Mean + half
}

// Welch returns the difference of two samples' means, a − b, with its 95%
// interval by Welch's t method, which does not assume the two groups have
// the same spread, and the Welch–Satterthwaite degrees of freedom. With
// either sample below two the interval is infinite.
func Welch(a, b Sample) (d, lo, hi, df float64) {
	d = a.Mean - b.Mean
	if a.N < 2 || b.N < 2 {
		return d, math.Inf(-1), math.Inf(1), 0
	}
	va, vb := a.Variance/float64(a.N), b.Variance/float64(b.N)
	se2 := va + vb
	if se2 == 0 {
		// Every customer of both groups was billed the same: no spread.
		return d, d, d, float64(a.N + b.N - 2)
	}
	df = se2 * se2 / (va*va/float64(a.N-1) + vb*vb/float64(b.N-1))
	half := TQuantile975(df) * math.Sqrt(se2)
	return d, d - half, d + half, df
}

// TQuantile975 returns the 97.5th percentile of Student's t distribution
// with df degrees of freedom (df > 0, not necessarily whole): the
// multiplier of a two-sided 95% interval. It inverts the distribution
// function by bisection.
func TQuantile975(df float64) float64 {
	if df > 1e7 {
		return z95
	}
	lo, hi := 0.0, 1.0
	for tCDF(hi, df) < 0.975 {
		lo, hi = hi, hi*2
	}
	for i := 0; i < 100 && hi-lo > 1e-12; i++ {
		mid := (lo + hi) / 2
		if tCDF(mid, df) < 0.975 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// tCDF is Student's t distribution function at t ≥ 0.
func tCDF(t, df float64) float64 {
	return 1 - 0.5*incompleteBeta(df/2, 0.5, df/(df+t*t))
}

// incompleteBeta is the regularized incomplete beta function I_x(a, b),
// by its continued fraction (Lentz's method), using the symmetry
// I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges slowly.
func incompleteBeta(a, b, x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	front := math.Exp(lab - la - lb + a*math.Log(x) + b*math.Log(1-x))
	if x > (a+1)/(a+b+2) {
		return 1 - front*betaFraction(b, a, 1-x)/b
	}
	return front * betaFraction(a, b, x) / a
}

// betaFraction evaluates the incomplete beta function's continued fraction.
func betaFraction(a, b, x float64) float64 {
	const tiny, eps = 1e-300, 1e-15
	c, d := 1.0, 1-(a+b)*x/(a+1)
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	f := d
	for m := 1; m <= 300; m++ {
		mf := float64(m)
		for _, num := range []float64{
			mf * (b - mf) * x / ((a + 2*mf - 1) * (a + 2*mf)),
			-(a + mf) * (a + b + mf) * x / ((a + 2*mf) * (a + 2*mf + 1)),
		} {
			d = 1 + num*d
			if math.Abs(d) < tiny {
				d = tiny
			}
			c = 1 + num/c
			if math.Abs(c) < tiny {
				c = tiny
			}
			d = 1 / d
			f *= d * c
		}
		if math.Abs(d*c-1) < eps {
			break
		}
	}
	return f
}
