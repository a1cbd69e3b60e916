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
