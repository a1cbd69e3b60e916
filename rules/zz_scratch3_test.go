package rules

import (
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

func TestScratchRuntime(t *testing.T) {
	for _, src := range []string{"int(plan.monthly_price / 0)", "plan.monthly_price % subscription.device_monthly", "plan.monthly_price / subscription.device_monthly", "round(plan.monthly_price / subscription.device_monthly)", "nil ? 1 : 2", "(1; 2)", "cost(plan, nil)", "cost(plan, usage[0])", "days_since(subscription.contract_ends_on)", "months[0]", "now()", "$env.plan.id", "plans[0]", "customer.attrs.x"} {
		prog, err := expr.Compile(src, options()...)
		if err != nil {
			t.Logf("%s: compile: %v", src, err)
			continue
		}
		var m vm.VM
		out, err := m.Run(prog, Facts{})
		t.Logf("%s: type %v -> %#v, %v", src, prog.Node().Type(), out, err)
	}
}
