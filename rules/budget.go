package rules

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
	"github.com/expr-lang/expr/vm/runtime"
)

// Budget bounds the evaluation of one rule for one customer, so that no
// expression can hang or exhaust the process that runs it.
type Budget struct {
	// Steps is how many steps of loops (the closures of sum, map, filter,
	// reduce and the other builtins, the only place an expression can
	// spend long) one evaluation may take. It is the budget that decides,
	// so that whether a rule fits its budget does not depend on how busy
	// the machine is.
	Steps uint
	// Time is the wall-clock time one evaluation may take: a safety net
	// behind Steps, checked on the same steps, generous so that a loaded
	// machine does not fail a rule that fits its steps. It is counted from
	// the evaluation's first loop step, so that the many evaluations
	// without a loop (which cannot run long) never read the clock.
	Time time.Duration
	// Memory is the expression VM's memory budget: roughly the number of
	// elements of the ranges, arrays and maps, and the bytes of repeat(),
	// that one evaluation may build.
	Memory uint
	// MaxLen is the longest string, in bytes, that the + operator may
	// build.
	MaxLen int
}

// DefaultBudget is the budget of every evaluation unless the engine is
// given another.
var DefaultBudget = Budget{Steps: 1_000_000, Time: time.Second, Memory: 1_000_000, MaxLen: 1 << 20}

// Breaker: once a rule has gone over its budget for breakerMin customers
// and for more than breakerShare of the customers it was evaluated for, a
// Limiter fails it at once for the rest of the customers it sees. Such a
// rule is unhealthy anyway (the engine holds back the proposals of a rule
// that fails on more than 1% of customers); evaluating it to the end
// would only spend its whole time budget on every customer.
const (
	breakerMin   = 10
	breakerShare = 0.01
)

// ErrBudget is wrapped by the error of every evaluation stopped by its
// budget or by the cancellation of its run.
var ErrBudget = errors.New("over budget")

// Limiter holds the budget of the evaluations made on one goroutine and the
// context of the run they belong to: once the context is done, every
// evaluation stops at its next step. A Limiter must not be shared between
// goroutines.
type Limiter struct {
	budget Budget
	done   <-chan struct{}
	ctx    context.Context

	// deadline is when the evaluation under way runs out of time; zero
	// until its first loop step reads the clock.
	deadline time.Time
	ticks    uint
	// stop is why the evaluation under way must stop; set by a step.
	stop error
	// overruns counts, per rule, its evaluations and how many went over
	// budget, for the breaker.
	overruns map[*Rule]*overrun
}

type overrun struct {
	evals, over int
}

// NewLimiter returns a Limiter for the evaluations of a run that ends when
// ctx is done. Zero fields of b take DefaultBudget's.
func NewLimiter(ctx context.Context, b Budget) *Limiter {
	if b.Steps == 0 {
		b.Steps = DefaultBudget.Steps
	}
	if b.Time <= 0 {
		b.Time = DefaultBudget.Time
	}
	if b.Memory == 0 {
		b.Memory = DefaultBudget.Memory
	}
	if b.MaxLen <= 0 {
		b.MaxLen = DefaultBudget.MaxLen
	}
	return &Limiter{budget: b, done: ctx.Done(), ctx: ctx}
}

// Budget returns the limiter's budget.
func (l *Limiter) Budget() Budget { return l.budget }

// Limit makes every evaluation of these facts run under l.
func (f *Facts) Limit(l *Limiter) { f.limiter = l }

// limiterOf returns the limiter of env, which holds a Facts, and env itself;
// facts without one get a fresh limiter with the default budget.
func limiterOf(env any) (*Limiter, any) {
	if l := envLimiter(env); l != nil {
		return l, env
	}
	f, ok := env.(Facts)
	if !ok {
		return nil, env
	}
	f.limiter = NewLimiter(context.Background(), DefaultBudget)
	return f.limiter, f
}

// start begins one evaluation: it fails at once when the run is over.
func (l *Limiter) start() error {
	select {
	case <-l.done:
		return l.cancelled()
	default:
	}
	l.stop = nil
	l.ticks = 0
	l.deadline = time.Time{}
	return nil
}

func (l *Limiter) cancelled() error {
	return fmt.Errorf("%w: run cancelled (%v)", ErrBudget, context.Cause(l.ctx))
}

// step is called by every step of every loop of an expression.
func (l *Limiter) step() error {
	if l.stop != nil {
		return l.stop
	}
	select {
	case <-l.done:
		l.stop = l.cancelled()
		return l.stop
	default:
	}
	l.ticks++
	if l.ticks > l.budget.Steps {
		l.stop = fmt.Errorf("%w: exceeded its budget of %d loop steps", ErrBudget, l.budget.Steps)
		return l.stop
	}
	if l.ticks%8 == 1 { // the clock is read on the first step and every eighth
		now := time.Now()
		if l.deadline.IsZero() {
			l.deadline = now.Add(l.budget.Time)
		} else if now.After(l.deadline) {
			l.stop = fmt.Errorf("%w: exceeded its time budget of %v", ErrBudget, l.budget.Time)
			return l.stop
		}
	}
	return nil
}

// run runs program on env under its limiter.
func run(machine *vm.VM, program *vm.Program, env any) (any, error) {
	l, env := limiterOf(env)
	if l == nil {
		out, err := machine.Run(program, env)
		return out, runtimeErr(err)
	}
	if err := l.start(); err != nil {
		return nil, err
	}
	machine.MemoryBudget = l.budget.Memory
	out, err := machine.Run(program, env)
	switch {
	case err == nil:
		return out, nil
	case l.stop != nil:
		return nil, l.stop
	case errors.Is(err, ErrBudget):
		return nil, err
	case strings.Contains(err.Error(), "memory budget exceeded"):
		return nil, fmt.Errorf("%w: exceeded its memory budget of %d elements", ErrBudget, l.budget.Memory)
	}
	return nil, runtimeErr(err)
}

// evalBounded is run for a rule's own program, with the breaker: a rule
// that keeps going over budget is failed at once.
func (r *Rule) evalBounded(machine *vm.VM, program *vm.Program, env any) (any, error) {
	l, env := limiterOf(env)
	if l == nil {
		return run(machine, program, env)
	}
	if l.overruns == nil {
		l.overruns = map[*Rule]*overrun{}
	}
	o := l.overruns[r]
	if o == nil {
		o = &overrun{}
		l.overruns[r] = o
	}
	if o.over >= breakerMin && float64(o.over) > breakerShare*float64(o.evals) {
		o.evals++
		o.over++
		return nil, fmt.Errorf("%w: skipped after going over its budget for %d customers", ErrBudget, o.over-1)
	}
	o.evals++
	out, err := run(machine, program, env)
	if errors.Is(err, ErrBudget) {
		select {
		case <-l.done:
			// Cancelled: not the rule's fault.
		default:
			o.over++
		}
	}
	return out, err
}

func runtimeErr(err error) error {
	if err == nil {
		return nil
	}
	return runtimeError(err)
}

// budgetPatcher bounds an expression's loops and concatenations: every
// closure body becomes `__step($env); body`, and every + that may join
// strings a call of __cat or __add, which check the length of what they
// build.
type budgetPatcher struct{}

func (budgetPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.PredicateNode:
		if seq, ok := n.Node.(*ast.SequenceNode); ok && len(seq.Nodes) == 2 && isCall(seq.Nodes[0], "__step") {
			return
		}
		step := envCall("__step", n)
		seq := &ast.SequenceNode{Nodes: []ast.Node{step, n.Node}}
		seq.SetLocation(n.Node.Location())
		n.Node = seq
	case *ast.BinaryNode:
		if n.Operator != "+" {
			return
		}
		l, r := n.Left.Type(), n.Right.Type()
		name := ""
		switch {
		case isKind(l, reflect.String) && isKind(r, reflect.String):
			name = "__cat"
		case mayGrow(l, r):
			name = "__add"
		default:
			return
		}
		call := envCall(name, n, n.Left, n.Right)
		ast.Patch(node, call)
	}
}

func envCall(name string, loc ast.Node, args ...ast.Node) *ast.CallNode {
	env := &ast.IdentifierNode{Value: "$env"}
	env.SetLocation(loc.Location())
	call := &ast.CallNode{Callee: &ast.IdentifierNode{Value: name}, Arguments: append([]ast.Node{env}, args...)}
	call.Callee.SetLocation(loc.Location())
	call.SetLocation(loc.Location())
	return call
}

func isCall(n ast.Node, name string) bool {
	c, ok := n.(*ast.CallNode)
	if !ok {
		return false
	}
	id, ok := c.Callee.(*ast.IdentifierNode)
	return ok && id.Value == name
}

func isKind(t reflect.Type, k reflect.Kind) bool { return t != nil && t.Kind() == k }

// mayGrow reports whether a + of operands of types a and b may join
// strings: both are strings, or one is of a type known only at run time.
// Other mixtures are left to the type checker to refuse.
func mayGrow(a, b reflect.Type) bool {
	ok := func(t reflect.Type) bool {
		return t == nil || t.Kind() == reflect.Interface || t.Kind() == reflect.String
	}
	return ok(a) && ok(b)
}

// budgetOptions are the compile options that bound loops and concatenation.
func budgetOptions() []expr.Option {
	return []expr.Option{
		expr.Patch(budgetPatcher{}),
		expr.Function("__step", func(p ...any) (any, error) {
			if l := envLimiter(p[0]); l != nil {
				if err := l.step(); err != nil {
					return nil, err
				}
			}
			return nil, nil
		}, new(func(Facts) any)),
		expr.Function("__cat", func(p ...any) (any, error) {
			a, b := p[1].(string), p[2].(string)
			if err := checkLen(p[0], len(a)+len(b)); err != nil {
				return nil, err
			}
			return a + b, nil
		}, new(func(Facts, string, string) string)),
		expr.Function("__add", func(p ...any) (any, error) {
			if a, ok := p[1].(string); ok {
				if b, ok := p[2].(string); ok {
					if err := checkLen(p[0], len(a)+len(b)); err != nil {
						return nil, err
					}
				}
			}
			return runtime.Add(p[1], p[2]), nil
		}, new(func(Facts, any, any) any)),
	}
}

// envLimiter returns the limiter of env, which holds a Facts, or nil. Every
// loop step asks, so it asks through an interface method: asserting
// env.(Facts) would copy the whole facts each time.
func envLimiter(env any) *Limiter {
	if l, ok := env.(limited); ok {
		return l.factsLimiter()
	}
	return nil
}

// limited is what Facts in an interface value answers envLimiter through.
type limited interface{ factsLimiter() *Limiter }

// factsLimiter returns the facts' limiter. Its body is inlined into the
// method the interface calls, which reads the one field in place.
func (f Facts) factsLimiter() *Limiter { return f.limiter }

// checkLen fails when a string of n bytes is longer than the limit.
func checkLen(env any, n int) error {
	l := envLimiter(env)
	max := DefaultBudget.MaxLen
	if l != nil {
		max = l.budget.MaxLen
	}
	if n <= max {
		return nil
	}
	err := fmt.Errorf("%w: built a string longer than the limit of %d bytes", ErrBudget, max)
	if l != nil {
		l.stop = err
	}
	return err
}
