package rules

import (
	"reflect"
	"testing"

	"github.com/expr-lang/expr/ast"
)

func TestReadsOfExpressions(t *testing.T) {
	for _, tc := range []struct {
		src  []string
		want Reads
	}{
		{[]string{`plan.id != "" && days_since(customer.joined_on) > 3`}, Reads{}},
		{[]string{`cheapest_plan(3)`}, Reads{Usage: true, UsageMonths: 3}},
		{[]string{`cheapest_plan(3)`, `usage[4].data_mb`}, Reads{Usage: true, UsageMonths: 5}},
		{[]string{`sum(usage[:2], .data_mb)`, `first(months)`}, Reads{Usage: true, UsageMonths: 2}},
		{[]string{`cheapest_plan(3)`, `len(usage) > 2`}, Reads{Usage: true}},
		{[]string{`quote(plan, n)`}, Reads{Usage: true}},
		{[]string{`usage[1:]`}, Reads{Usage: true}},
		{[]string{`filter(charges, .kind == "late_fee" && not .waived)`}, Reads{Charges: true, ChargeKinds: []string{"late_fee"}}},
		{[]string{`find(events, .kind in ["b", "a"])`, `count(events, "c" == .kind || .kind == "a")`},
			Reads{Events: true, EventKinds: []string{"a", "b", "c"}}},
		{[]string{`any(charges, .kind == "x" && .kind in ["x", "y"])`}, Reads{Charges: true, ChargeKinds: []string{"x"}}},
		// The left of && guards the right, not the other way round.
		{[]string{`filter(charges, div(1, .amount) > 0 && .kind == "x")`}, Reads{Charges: true}},
		{[]string{`filter(charges, .kind == "x" || .amount > 0)`}, Reads{Charges: true}},
		{[]string{`filter(charges, .kind == k)`}, Reads{Charges: true}},
		{[]string{`all(charges, .kind == "x")`}, Reads{Charges: true}},
		{[]string{`findIndex(charges, .kind == "x")`}, Reads{Charges: true}},
		{[]string{`filter(charges, .kind == "x")`, `len(charges)`}, Reads{Charges: true}},
		{[]string{`len(addons)`}, Reads{Addons: true}},
		{[]string{`customer.name + customer.locale`}, Reads{}},
		{[]string{`customer.attrs.tier == "gold"`}, Reads{CustomerAttrs: true}},
		{[]string{`customer["attrs"]`}, Reads{CustomerAttrs: true}},
		{[]string{`customer[k]`}, Reads{CustomerAttrs: true}},
		{[]string{`toJSON(customer)`}, Reads{CustomerAttrs: true}},
		{[]string{`$env["charges"]`}, ReadEverything},
		{[]string{`let charges = 1; charges`}, ReadEverything},
		{[]string{`(`}, ReadEverything},
	} {
		if got := readsOf(tc.src); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("readsOf(%q) = %+v, want %+v", tc.src, got, tc.want)
		}
	}
}

func TestReadsUnion(t *testing.T) {
	a := Reads{Usage: true, UsageMonths: 3, Charges: true, ChargeKinds: []string{"b"}}
	b := Reads{Usage: true, UsageMonths: 5, Charges: true, ChargeKinds: []string{"a", "b"}, Events: true, EventKinds: []string{"x"}}
	want := Reads{Usage: true, UsageMonths: 5, Charges: true, ChargeKinds: []string{"a", "b"}, Events: true, EventKinds: []string{"x"}}
	if got := a.Union(b); !reflect.DeepEqual(got, want) {
		t.Errorf("union = %+v, want %+v", got, want)
	}
	if got := a.Union(Reads{Usage: true, Charges: true}); got.UsageMonths != 0 || got.ChargeKinds != nil {
		t.Errorf("union with an unbounded read = %+v, want every month and kind", got)
	}
	if got := (Reads{}).Union(a); !reflect.DeepEqual(got, a) {
		t.Errorf("union with nothing = %+v, want %+v", got, a)
	}
}

// laterNode stands for a kind of node a later expr might add.
type laterNode struct{ ast.StringNode }

// TestUnknownNodeReadsEverything: a node the reads analysis does not know
// may read anything, so the rule reads everything rather than too little.
func TestUnknownNodeReadsEverything(t *testing.T) {
	a := &access{}
	a.walk(&laterNode{}, nil)
	if !a.everything {
		t.Error("an unknown node did not make the rule read everything")
	}
	b := &access{}
	b.walk(&ast.StringNode{Value: "x"}, nil)
	if b.everything {
		t.Error("a string literal made the rule read everything")
	}
}
