package engine_test

import (
	"testing"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/store"
)

func TestDiff(t *testing.T) {
	p := func(rule string, customer, value int64) store.Proposal {
		return store.Proposal{RuleID: rule, CustomerID: customer, Value: value}
	}
	before := []store.Proposal{p("a", 1, 100), p("a", 2, 200), p("a", 3, 300), p("b", 9, 50)}
	after := []store.Proposal{p("a", 2, 200), p("a", 3, 350), p("a", 4, 400), p("c", 7, 70)}
	got := engine.Diff(before, after)
	tests := []struct {
		rule                    string
		before, after           int
		added, removed, changed []int64
	}{
		{"a", 3, 3, []int64{4}, []int64{1}, []int64{3}},
		{"b", 1, 0, nil, []int64{9}, nil},
		{"c", 0, 1, []int64{7}, nil, nil},
	}
	if len(got) != len(tests) {
		t.Fatalf("%d rule diffs, want %d: %+v", len(got), len(tests), got)
	}
	ids := func(ps []store.Proposal) (out []int64) {
		for _, p := range ps {
			out = append(out, p.CustomerID)
		}
		return out
	}
	same := func(a, b []int64) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	for i, tt := range tests {
		d := got[i]
		var changed []int64
		for _, c := range d.Changed {
			changed = append(changed, c.After.CustomerID)
		}
		if d.RuleID != tt.rule || d.Before != tt.before || d.After != tt.after ||
			!same(ids(d.Added), tt.added) || !same(ids(d.Removed), tt.removed) || !same(changed, tt.changed) {
			t.Errorf("diff %d = %+v, want %+v", i, d, tt)
		}
	}
}
