package rules

import "github.com/expr-lang/expr/vm"

// EvalEager evaluates a rule with its eager program, which computes every
// named value before `when`: what the lazy program must agree with.
func (r *Rule) EvalEager(machine *vm.VM, f Facts) (Outcome, error) {
	return r.eval(machine, r.eager, f)
}

// IsLazy reports whether the rule runs a lazy program.
func (r *Rule) IsLazy() bool { return r.program != r.eager }
