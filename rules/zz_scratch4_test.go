package rules

import (
	"fmt"
	"math"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/vm"
)

func TestScratchInt(t *testing.T) {
	orig := builtin.Builtins[builtin.Index["int"]]
	opt := func(c *conf.Config) {
		c.Functions["int"] = &builtin.Function{Name: "int", Validate: orig.Validate, Func: func(p ...any) (any, error) {
			if f, ok := p[0].(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
				return nil, fmt.Errorf("int(%v)", f)
			}
			return orig.Fast(p[0]), nil
		}}
	}
	for _, src := range []string{"int(plan.monthly_price / 0)", "int(customer.attrs.x)", "int(plan)", "int(1.5)", "int('12')", "int(2) + 'a'", "int(plans)", "int(nil)", "int(1,2)", "int(1/0)"} {
		prog, err := expr.Compile(src, append(options(), opt)...)
		if err != nil {
			t.Logf("%s: compile: %v", src, err)
			continue
		}
		var m vm.VM
		out, err := m.Run(prog, Facts{Plan: Plan{MonthlyPrice: 3}, Customer: Customer{Attrs: map[string]any{"x": 2.5}}})
		t.Logf("%s: type %v -> %#v, %v", src, prog.Node().Type(), out, err)
	}
}
