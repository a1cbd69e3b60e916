package rules

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/goodturn/goodturn/rules/rulefmt"
)

// MoneyFields are the names of the facts' and quotes' fields that hold
// amounts of money, from their `money` struct tags: the one place that says
// which fields are money.
var MoneyFields = func() map[string]bool {
	m := map[string]bool{}
	for _, v := range []any{Facts{}, Customer{}, Plan{}, Allowance{}, Subscription{}, Addon{}, Charge{}, Event{}, Quote{}, QuoteMonth{}} {
		t := reflect.TypeOf(v)
		for i := 0; i < t.NumField(); i++ {
			if f := t.Field(i); f.Tag.Get("money") == "true" {
				m[f.Tag.Get("expr")] = true
			}
		}
	}
	return m
}()

// IsMoneyField reports whether a field of the facts, a quote or a quote's
// month holds money; a path such as plan.monthly_price or
// months[0].new_cost is read by its last name.
func IsMoneyField(path string) bool {
	name := path
	if i := strings.LastIndexAny(name, ".]"); i >= 0 {
		name = strings.TrimLeft(name[i+1:], ".")
	}
	return MoneyFields[name]
}

// inferMoney decides which of the rule's named values and offer fields are
// amounts of money, from their expressions: a money field of the facts, a
// helper that re-rates (cost, overage, rerate), or a named value that is
// money, through sums, differences, products, divisions, minimums and
// maximums, sums over lists, conditionals and ??. The rule's `money:`
// declares what the expressions do not show.
func (r *Rule) inferMoney() {
	r.money = map[string]bool{}
	for _, name := range r.Rule.Money {
		r.money[name] = true
	}
	for _, v := range r.Values {
		if tree, err := parser.Parse(v.Expr.Source); err == nil && r.isMoney(tree.Node) {
			r.money[v.Name] = true
		}
	}
	for _, o := range r.Offer {
		if tree, err := parser.Parse(o.Expr.Source); err == nil && r.isMoney(tree.Node) {
			r.money[o.Name] = true
		}
	}
}

// checkMoney reports a name in `money:` that is neither a named value nor
// an offer field of the rule.
func (r *Rule) checkMoney() rulefmt.Errors {
	var errs rulefmt.Errors
	for _, name := range r.Rule.Money {
		if !hasNamed(r.Values, name) && !hasNamed(r.Offer, name) {
			errs = append(errs, &rulefmt.Error{Path: r.Path, Pos: r.MoneyPos, Rule: r.ID,
				Msg: fmt.Sprintf("money: %q is neither a named value nor an offer field of the rule", name)})
		}
	}
	return errs
}

func hasNamed(named []rulefmt.Named, name string) bool {
	for _, n := range named {
		if n.Name == name {
			return true
		}
	}
	return false
}

// isMoney reports whether an expression's value is an amount of money.
func (r *Rule) isMoney(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		return r.money[n.Value]
	case *ast.MemberNode:
		if s, ok := n.Property.(*ast.StringNode); ok && !n.Method {
			return MoneyFields[s.Value]
		}
		return false
	case *ast.ChainNode:
		return r.isMoney(n.Node)
	case *ast.UnaryNode:
		return n.Operator == "-" && r.isMoney(n.Node)
	case *ast.BinaryNode:
		switch n.Operator {
		case "+", "-", "*", "??":
			return r.isMoney(n.Left) || r.isMoney(n.Right)
		case "/":
			return r.isMoney(n.Left)
		}
		return false
	case *ast.ConditionalNode:
		return r.isMoney(n.Exp1) || r.isMoney(n.Exp2)
	case *ast.PredicateNode:
		return r.isMoney(n.Node)
	case *ast.SequenceNode:
		return len(n.Nodes) > 0 && r.isMoney(n.Nodes[len(n.Nodes)-1])
	case *ast.VariableDeclaratorNode:
		return r.isMoney(n.Expr)
	case *ast.CallNode:
		name := ""
		if id, ok := n.Callee.(*ast.IdentifierNode); ok {
			name = id.Value
		}
		switch name {
		case "cost", "overage", "rerate":
			return true
		case "div", "int", "abs", "round", "floor", "ceil", "min", "max":
			for _, a := range n.Arguments {
				if r.isMoney(a) {
					return true
				}
			}
		}
		return false
	case *ast.BuiltinNode:
		switch n.Name {
		case "sum", "min", "max", "abs", "int", "round", "floor", "ceil", "first", "last":
			if len(n.Arguments) > 1 {
				return r.isMoney(n.Arguments[len(n.Arguments)-1])
			}
			for _, a := range n.Arguments {
				if r.isMoney(a) {
					return true
				}
			}
		}
		return false
	}
	return false
}

// Money returns the names of the rule's named values and offer fields that
// hold amounts of money, sorted: what a proposal's evidence records so that
// every reader shows them as money.
func (r *Rule) Money() []string {
	out := make([]string, 0, len(r.money))
	for name := range r.money {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// IsMoney reports whether a value of the rule of that name is an amount of
// money. A named value or offer field of the rule is money when Money lists
// it, whatever its name: a count called monthly_price is a count. Any other
// name is money when it is a money field of the facts (a fact path such as
// plan.monthly_price, or a quote's field).
func (r *Rule) IsMoney(name string) bool {
	if hasNamed(r.Values, name) || hasNamed(r.Offer, name) {
		return r.money[name]
	}
	return IsMoneyField(name)
}

// EvidenceMoney returns what a proposal's stored evidence and offer say of
// money, as Rule.IsMoney does for the rule: a named value (in the
// evidence's values) or offer field is money when the evidence lists it,
// and any other name when it is a money field of the facts.
func EvidenceMoney(evidence, offer []byte) func(name string) bool {
	var ev struct {
		Money  []string `json:"money"`
		Values []struct {
			Name string `json:"name"`
		} `json:"values"`
	}
	_ = json.Unmarshal(evidence, &ev) // unreadable evidence names no money
	money := make(map[string]bool, len(ev.Money))
	for _, n := range ev.Money {
		money[n] = true
	}
	own := make(map[string]bool, len(ev.Values))
	for _, v := range ev.Values {
		own[v.Name] = true
	}
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(offer, &fields) // an unreadable offer has no fields
	for name := range fields {
		own[name] = true
	}
	return func(name string) bool {
		if own[name] {
			return money[name]
		}
		return IsMoneyField(name)
	}
}
