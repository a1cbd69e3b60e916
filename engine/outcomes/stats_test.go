package outcomes

import (
	"math"
	"testing"
)

func TestWilson(t *testing.T) {
	// Reference values from the Wilson score formula (z = 1.96).
	tests := []struct {
		k, n   int
		lo, hi float64
	}{
		{0, 10, 0, 0.2775},
		{5, 10, 0.2366, 0.7634},
		{10, 10, 0.7225, 1},
		{81, 263, 0.2553, 0.3662},
		{0, 0, 0, 1},
	}
	for _, tt := range tests {
		got := Wilson(tt.k, tt.n)
		if math.Abs(got.Lo-tt.lo) > 0.0005 || math.Abs(got.Hi-tt.hi) > 0.0005 {
			t.Errorf("Wilson(%d, %d) = [%.4f, %.4f], want [%.4f, %.4f]", tt.k, tt.n, got.Lo, got.Hi, tt.lo, tt.hi)
		}
	}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		a, b       Proportion
		d, lo, hi  float64
		coversZero bool
	}{
		// Newcombe (1998), method 10: 0.5 − 0.3 with n = 100 each, from
		// the Wilson intervals [0.4038, 0.5962] and [0.2189, 0.3958].
		{Wilson(50, 100), Wilson(30, 100), 0.2, 0.0642, 0.3258, false},
		// Newcombe's example: 56/70 − 48/80 = 0.2, interval [0.0524, 0.3339].
		{Wilson(56, 70), Wilson(48, 80), 0.2, 0.0524, 0.3339, false},
		{Wilson(30, 100), Wilson(30, 100), 0, -0.1255, 0.1255, true},
		// None of either: the interval still has width.
		{Wilson(0, 25), Wilson(0, 25), 0, -0.1332, 0.1332, true},
		{Wilson(3, 10), Proportion{}, 0.3, -1, 1, true},
	}
	for _, tt := range tests {
		got := Diff(tt.a, tt.b)
		if math.Abs(got.D-tt.d) > 1e-9 || math.Abs(got.Lo-tt.lo) > 0.0005 || math.Abs(got.Hi-tt.hi) > 0.0005 {
			t.Errorf("Diff(%v, %v) = %+v, want %.4f [%.4f, %.4f]", tt.a, tt.b, got, tt.d, tt.lo, tt.hi)
		}
		if got.Covers(0) != tt.coversZero {
			t.Errorf("Diff(%v, %v).Covers(0) = %v", tt.a, tt.b, got.Covers(0))
		}
	}
}

func TestTQuantile(t *testing.T) {
	// Reference values from published t tables.
	tests := []struct{ df, want float64 }{
		{1, 12.7062}, {2, 4.3027}, {3, 3.1824}, {5, 2.5706}, {10, 2.2281},
		{19, 2.0930}, {30, 2.0423}, {100, 1.9840}, {1e9, 1.9600},
	}
	for _, tt := range tests {
		if got := TQuantile975(tt.df); math.Abs(got-tt.want) > 0.0005 {
			t.Errorf("TQuantile975(%v) = %.4f, want %.4f", tt.df, got, tt.want)
		}
	}
}

func TestWelch(t *testing.T) {
	// Worked by hand: means 22 and 15, variances 24.5 and 18, so se² =
	// 24.5/5 + 18/4 = 9.4 and df = 9.4² / (4.9²/4 + 4.5²/3) = 6.9288,
	// whose t lies between t(7) = 2.3646 and t(6) = 2.4469.
	a := []int64{19, 22, 16, 29, 24}
	b := []int64{20, 11, 17, 12}
	sa, sb := Summarize(a), Summarize(b)
	if math.Abs(sa.Mean-22) > 1e-9 || math.Abs(sa.Variance-24.5) > 1e-9 || math.Abs(sb.Mean-15) > 1e-9 || math.Abs(sb.Variance-18) > 1e-9 {
		t.Fatalf("Summarize: %+v %+v", sa, sb)
	}
	d, lo, hi, df := Welch(sa, sb)
	if math.Abs(d-7) > 1e-9 || math.Abs(df-6.9288) > 0.0005 {
		t.Errorf("Welch: d %v df %v, want 7 and 6.9288", d, df)
	}
	se := math.Sqrt(9.4)
	if lo > 7-2.3646*se || lo < 7-2.4469*se || math.Abs((hi-7)-(7-lo)) > 1e-9 {
		t.Errorf("Welch: [%v, %v], want 7 ± t·%.4f with t between 2.3646 and 2.4469", lo, hi, se)
	}
	if _, lo, hi, _ := Welch(Summarize([]int64{5}), sb); !math.IsInf(lo, -1) || !math.IsInf(hi, 1) {
		t.Errorf("Welch of one customer: [%v, %v], want infinite", lo, hi)
	}
	if _, lo, hi, _ := Welch(Summarize([]int64{5, 5, 5}), Summarize([]int64{3, 3})); lo != 2 || hi != 2 {
		t.Errorf("Welch without spread: [%v, %v], want [2, 2]", lo, hi)
	}
}
