package main

import (
	"testing"
	"time"
)

func TestMedianAndRatios(t *testing.T) {
	s := time.Second
	tests := []struct {
		name   string
		a, b   []time.Duration
		median time.Duration
		ratios string
	}{
		{"one", []time.Duration{3 * s}, []time.Duration{2 * s}, 3 * s, "1.50× [1.50 – 1.50]"},
		{"odd", []time.Duration{5 * s, 1 * s, 3 * s}, []time.Duration{1 * s, 1 * s, 1 * s}, 3 * s, "3.00× [1.00 – 5.00]"},
		{"even: the mean of the middle two", []time.Duration{4 * s, 1 * s, 2 * s, 8 * s}, []time.Duration{1 * s, 1 * s, 1 * s, 1 * s},
			3 * s, "3.00× [1.00 – 8.00]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := median(tt.a); got != tt.median {
				t.Errorf("median(%v) = %v, want %v", tt.a, got, tt.median)
			}
			if got := ratios(tt.a, tt.b); got != tt.ratios {
				t.Errorf("ratios(%v, %v) = %q, want %q", tt.a, tt.b, got, tt.ratios)
			}
		})
	}
}
