package engine

import (
	"sort"

	"github.com/goodturn/goodturn/engine/store"
)

// RuleDiff is how one rule's proposals differ between two runs.
type RuleDiff struct {
	RuleID string
	// Before and After count the proposals of each run.
	Before, After int
	// BeforeValue and AfterValue are their total yearly values.
	BeforeValue, AfterValue int64
	// Added are proposals only the new run makes; Removed only the old.
	Added, Removed []store.Proposal
	// Changed are proposals both make with a different value.
	Changed []Change
}

// Change is a proposal whose value changed.
type Change struct {
	Before, After store.Proposal
}

// Diff compares two sets of proposals rule by rule and customer by
// customer. Rules appear in id order.
func Diff(before, after []store.Proposal) []RuleDiff {
	type key struct {
		rule     string
		customer int64
	}
	byRule := map[string]*RuleDiff{}
	get := func(rule string) *RuleDiff {
		d, ok := byRule[rule]
		if !ok {
			d = &RuleDiff{RuleID: rule}
			byRule[rule] = d
		}
		return d
	}
	old := make(map[key]store.Proposal, len(before))
	for _, p := range before {
		old[key{p.RuleID, p.CustomerID}] = p
		d := get(p.RuleID)
		d.Before++
		d.BeforeValue += p.Value
	}
	seen := make(map[key]bool, len(after))
	for _, p := range after {
		k := key{p.RuleID, p.CustomerID}
		seen[k] = true
		d := get(p.RuleID)
		d.After++
		d.AfterValue += p.Value
		o, ok := old[k]
		switch {
		case !ok:
			d.Added = append(d.Added, p)
		case o.Value != p.Value:
			d.Changed = append(d.Changed, Change{Before: o, After: p})
		}
	}
	for _, p := range before {
		if !seen[key{p.RuleID, p.CustomerID}] {
			d := get(p.RuleID)
			d.Removed = append(d.Removed, p)
		}
	}
	out := make([]RuleDiff, 0, len(byRule))
	for _, d := range byRule {
		byCustomer := func(ps []store.Proposal) {
			sort.Slice(ps, func(i, j int) bool { return ps[i].CustomerID < ps[j].CustomerID })
		}
		byCustomer(d.Added)
		byCustomer(d.Removed)
		sort.Slice(d.Changed, func(i, j int) bool { return d.Changed[i].After.CustomerID < d.Changed[j].After.CustomerID })
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RuleID < out[j].RuleID })
	return out
}
