package rules

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
)

// envHelpers are the helpers that read the customer's facts as well as their
// arguments. A rule writes cheapest_plan(3); the compiler passes the facts
// in as a hidden first argument.
var envHelpers = map[string]bool{
	"rerate": true, "cheapest_plan": true, "bigger_plan": true, "best_plan": true, "quote": true,
	"days_since": true, "years_since": true, "days_until": true, "money": true,
}

// helperOptions are the typed helper functions every rule may call.
func helperOptions() []expr.Option {
	return []expr.Option{
		expr.Function("cost", func(p ...any) (any, error) {
			return Cost(p[0].(Plan), p[1].(UsageMonth)), nil
		}, new(func(Plan, UsageMonth) int)),
		expr.Function("overage", func(p ...any) (any, error) {
			return Overage(p[0].(Plan), p[1].(UsageMonth)), nil
		}, new(func(Plan, UsageMonth) int)),
		expr.Function("fits", func(p ...any) (any, error) {
			return Fits(p[0].(Plan), p[1].(UsageMonth)), nil
		}, new(func(Plan, UsageMonth) bool)),
		expr.Function("rerate", func(p ...any) (any, error) {
			f := p[0].(Facts)
			return Rerate(&f, p[1].(Plan), p[2].(int)), nil
		}, new(func(Facts, Plan, int) int)),
		expr.Function("cheapest_plan", func(p ...any) (any, error) {
			f := p[0].(Facts)
			return CheapestPlan(&f, p[1].(int)), nil
		}, new(func(Facts, int) *Quote)),
		expr.Function("bigger_plan", func(p ...any) (any, error) {
			f := p[0].(Facts)
			return BiggerPlan(&f, p[1].(int)), nil
		}, new(func(Facts, int) *Quote)),
		expr.Function("best_plan", func(p ...any) (any, error) {
			f := p[0].(Facts)
			return BestPlan(&f, p[1].(int)), nil
		}, new(func(Facts, int) *Quote)),
		expr.Function("quote", func(p ...any) (any, error) {
			f := p[0].(Facts)
			return NewQuote(&f, p[1].(Plan), p[2].(int)), nil
		}, new(func(Facts, Plan, int) *Quote)),
		expr.Function("days_since", func(p ...any) (any, error) {
			return daysBetween(p[1].(time.Time), p[0].(Facts).Now), nil
		}, new(func(Facts, time.Time) int)),
		expr.Function("days_until", func(p ...any) (any, error) {
			return daysBetween(p[0].(Facts).Now, p[1].(time.Time)), nil
		}, new(func(Facts, time.Time) int)),
		expr.Function("years_since", func(p ...any) (any, error) {
			return YearsBetween(p[1].(time.Time), p[0].(Facts).Now), nil
		}, new(func(Facts, time.Time) int)),
		expr.Function("days", func(p ...any) (any, error) {
			return time.Duration(p[0].(int)) * 24 * time.Hour, nil
		}, new(func(int) time.Duration)),
		expr.Function("div", func(p ...any) (any, error) {
			a, b := p[0].(int), p[1].(int)
			if b == 0 {
				return nil, errDivideByZero
			}
			return a / b, nil
		}, new(func(int, int) int)),
		expr.Function("money", func(p ...any) (any, error) {
			return FormatMoney(p[1].(int), p[0].(Facts).Currency), nil
		}, new(func(Facts, int) string)),
		checkedInt,
		// Last of all the patchers: see recheckCalls.
		expr.Patch(recheckCalls{}),
	}
}

// checkedInt replaces the builtin int() by one that fails on a float with no
// integer value — the ±Inf or NaN of a division by zero, or a float out of
// range — where Go's conversion would quietly give a meaningless number
// (math.MinInt64 on amd64), which a rule would then offer as a value.
func checkedInt(c *conf.Config) {
	orig := builtin.Builtins[builtin.Index["int"]]
	c.Functions["int"] = &builtin.Function{
		Name:     "int",
		Validate: orig.Validate,
		Func: func(args ...any) (any, error) {
			if f, ok := args[0].(float64); ok && (math.IsNaN(f) || f >= math.MaxInt64 || f < math.MinInt64) {
				return nil, fmt.Errorf("int(%v): not a whole number (a division by zero?)", f)
			}
			return orig.Fast(args[0]), nil
		},
	}
}

// errDivideByZero is div's error for a zero divisor.
var errDivideByZero = errors.New("integer divide by zero")

// daysBetween returns the whole days from a to b, counted on calendar dates
// in UTC; negative when b is before a.
func daysBetween(a, b time.Time) int {
	da := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	db := time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
	// Not db.Sub(da): a Duration holds only 292 years, and a zero date
	// (never) is 2,000 years ago.
	return int((db.Unix() - da.Unix()) / (24 * 60 * 60))
}

// YearsBetween returns the whole years from a to b: a customer who joined on
// 2020-03-01 has 5 years on 2025-03-01 and 4 the day before.
func YearsBetween(a, b time.Time) int {
	if a.IsZero() {
		return 0
	}
	y := b.Year() - a.Year()
	if b.Month() < a.Month() || (b.Month() == a.Month() && b.Day() < a.Day()) {
		y--
	}
	return y
}

// envArgPatcher gives every call of an env helper the facts as a hidden first
// argument.
type envArgPatcher struct{}

func (envArgPatcher) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok || !envHelpers[id.Value] {
		return
	}
	if len(call.Arguments) > 0 {
		if a, ok := call.Arguments[0].(*ast.IdentifierNode); ok && a.Value == "$env" {
			return
		}
	}
	env := &ast.IdentifierNode{Value: "$env"}
	env.SetLocation(call.Location())
	args := append([]ast.Node{env}, call.Arguments...)
	patched := &ast.CallNode{Callee: call.Callee, Arguments: args}
	ast.Patch(node, patched)
}

// reservedNames are the names a named value may not take: the facts and the
// helpers.
var reservedNames = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeOf(Facts{})
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("expr"); tag != "" {
			m[tag] = true
		}
	}
	for name := range envHelpers {
		m[name] = true
	}
	for _, name := range []string{"cost", "overage", "fits", "days", "div"} {
		m[name] = true
	}
	for _, name := range builtin.Names {
		m[name] = true
	}
	return m
}()

func typeName(t reflect.Type) string {
	if t == nil {
		return "nil"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "int"
	case reflect.Float64, reflect.Float32:
		return "float"
	case reflect.String:
		return "string"
	}
	return fmt.Sprint(t)
}
