package rules

import (
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/goodturn/goodturn/rules/rulefmt"
)

// Lint returns warnings about a compiled rule: named values nothing uses
// (usedElsewhere reports names used outside the rule's expressions, such as
// in its message template), and a `when` that can never be true because a
// clause is a false constant.
func (r *Rule) Lint(usedElsewhere func(name string) bool) []*rulefmt.Error {
	var warns []*rulefmt.Error
	warn := func(pos rulefmt.Pos, format string, args ...any) {
		warns = append(warns, &rulefmt.Error{Path: r.Path, Pos: pos, Rule: r.ID, Msg: fmt.Sprintf(format, args...)})
	}

	// Named values: each must be used by a later value, when, value, an
	// offer field or elsewhere.
	uses := map[string]bool{}
	count := func(src string) {
		tree, err := parser.Parse(src)
		if err != nil {
			return
		}
		ast.Find(tree.Node, func(n ast.Node) bool {
			if id, ok := n.(*ast.IdentifierNode); ok {
				uses[id.Value] = true
			}
			return false
		})
	}
	count(r.When.Source)
	count(r.Value.Source)
	for _, o := range r.Offer {
		count(o.Expr.Source)
	}
	for i := len(r.Values) - 1; i >= 0; i-- {
		v := r.Values[i]
		if !uses[v.Name] && (usedElsewhere == nil || !usedElsewhere(v.Name)) {
			warn(v.NamePos, "named value %q is never used", v.Name)
		}
		count(v.Expr.Source)
	}

	warns = append(warns, r.rangeWarnings()...)

	// A clause that is a constant false makes an `and` chain never true.
	op, clauses := r.Clauses()
	if op == "and" || op == "" {
		for _, c := range clauses {
			if v, ok := constant(c); ok && v == false {
				warn(r.When.Pos, "when can never be true: %s is always false", c)
				break
			}
		}
	}
	if op == "or" {
		all := true
		for _, c := range clauses {
			if v, ok := constant(c); !ok || v != false {
				all = false
			}
		}
		if all {
			warn(r.When.Pos, "when can never be true: every clause is always false")
		}
	}
	return warns
}

// constant evaluates an expression that reads no fact, value or function,
// reporting whether it is such a constant.
func constant(src string) (any, bool) {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, false
	}
	reads := false
	ast.Find(tree.Node, func(n ast.Node) bool {
		switch n.(type) {
		case *ast.IdentifierNode, *ast.CallNode, *ast.BuiltinNode, *ast.PointerNode, *ast.VariableDeclaratorNode:
			reads = true
		}
		return false
	})
	if reads {
		return nil, false
	}
	v, err := expr.Eval(src, nil)
	if err != nil {
		return nil, false
	}
	return v, true
}
