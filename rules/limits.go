package rules

import (
	"fmt"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/parser/lexer"

	"github.com/goodturn/goodturn/rules/rulefmt"
)

// The limits on the size of one expression, checked before it is parsed:
// the parser recurses once per level of nesting, and a deep enough
// expression would overflow the stack of the process compiling it.
const (
	// MaxExprLen is the most characters an expression may have.
	MaxExprLen = 10_000
	// MaxExprDepth is the deepest an expression may nest: each open
	// bracket ( [ { and each prefix operator (! not - +) in a row is one
	// level.
	MaxExprDepth = 64
)

// labelled is one expression of a rule with what to call it in messages.
type labelled struct {
	label string
	e     rulefmt.Expr
}

// exprs returns every expression of the rule.
func (r *Rule) exprs() []labelled {
	var out []labelled
	for _, v := range r.Values {
		out = append(out, labelled{"values." + v.Name, v.Expr})
	}
	out = append(out, labelled{"when", r.When}, labelled{"value", r.Value})
	for _, o := range r.Offer {
		out = append(out, labelled{"offer." + o.Name, o.Expr})
	}
	return out
}

// checkLimits refuses expressions that are too long or nest too deeply to
// parse safely, and ranges of literal bounds larger than the memory budget
// (they always fail).
func (r *Rule) checkLimits() rulefmt.Errors {
	var errs rulefmt.Errors
	fail := func(p labelled, offset int, format string, args ...any) {
		errs = append(errs, &rulefmt.Error{Path: r.Path, Pos: p.e.Position(offset), Rule: r.ID,
			Msg: p.label + ": " + fmt.Sprintf(format, args...)})
	}
	for _, p := range r.exprs() {
		if p.e.Source == "" {
			continue
		}
		if n := len([]rune(p.e.Source)); n > MaxExprLen {
			fail(p, MaxExprLen, "expression of %d characters is longer than the limit of %d; split it into named values", n, MaxExprLen)
			continue
		}
		if offset, ok := tooDeep(p.e.Source); ok {
			fail(p, offset, "expression nests deeper than the limit of %d levels", MaxExprDepth)
			continue
		}
		tree, err := parser.Parse(p.e.Source)
		if err != nil {
			continue // compile reports it
		}
		ast.Find(tree.Node, func(n ast.Node) bool {
			b, ok := n.(*ast.BinaryNode)
			if !ok || b.Operator != ".." {
				return false
			}
			lo, okLo := intLiteral(b.Left)
			hi, okHi := intLiteral(b.Right)
			if okLo && okHi && hi-lo+1 >= int(DefaultBudget.Memory) {
				fail(p, b.Location().From, "range %d..%d of %d elements is over the memory budget of %d: it always fails",
					lo, hi, hi-lo+1, DefaultBudget.Memory)
			}
			return false
		})
	}
	return errs
}

// tooDeep reports the rune offset at which src nests deeper than
// MaxExprDepth, if it does.
func tooDeep(src string) (int, bool) {
	tokens, err := lexer.Lex(file.NewSource(src))
	if err != nil {
		return 0, false // compile reports it
	}
	depth, prefix := 0, 0
	var prev *lexer.Token
	for i := range tokens {
		t := &tokens[i]
		switch {
		case t.Kind == lexer.Bracket && (t.Value == "(" || t.Value == "[" || t.Value == "{"):
			depth++
			prefix = 0
		case t.Kind == lexer.Bracket:
			depth--
			prefix = 0
		case t.Kind == lexer.Operator && isPrefix(t.Value) && startsOperand(prev):
			prefix++
		default:
			prefix = 0
		}
		if depth+prefix > MaxExprDepth {
			return t.From, true
		}
		prev = t
	}
	return 0, false
}

func isPrefix(op string) bool {
	return op == "!" || op == "not" || op == "-" || op == "+"
}

// startsOperand reports whether the token after prev begins an operand, so
// that an operator there is a prefix one.
func startsOperand(prev *lexer.Token) bool {
	if prev == nil {
		return true
	}
	switch prev.Kind {
	case lexer.Operator:
		return true
	case lexer.Bracket:
		return prev.Value == "(" || prev.Value == "[" || prev.Value == "{"
	}
	return false
}

// intLiteral returns the value of an integer literal, negative or not.
func intLiteral(n ast.Node) (int, bool) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		return n.Value, true
	case *ast.UnaryNode:
		if v, ok := intLiteral(n.Node); ok && n.Operator == "-" {
			return -v, true
		}
	}
	return 0, false
}

// rangeWarnings warns of ranges whose bounds are not constants: they
// depend on the customer's data, and a large value fails the rule for that
// customer on its memory or time budget.
func (r *Rule) rangeWarnings() []*rulefmt.Error {
	var warns []*rulefmt.Error
	for _, p := range r.exprs() {
		tree, err := parser.Parse(p.e.Source)
		if err != nil {
			continue
		}
		ast.Find(tree.Node, func(n ast.Node) bool {
			b, ok := n.(*ast.BinaryNode)
			if !ok || b.Operator != ".." {
				return false
			}
			_, okLo := intLiteral(b.Left)
			_, okHi := intLiteral(b.Right)
			if !okLo || !okHi {
				warns = append(warns, &rulefmt.Error{Path: r.Path, Pos: p.e.Position(b.Location().From), Rule: r.ID,
					Msg: fmt.Sprintf("%s: range with a bound that is not a constant: a large value fails the rule for that customer on its budget (at most %d elements, %v)",
						p.label, DefaultBudget.Memory, DefaultBudget.Time)})
			}
			return false
		})
	}
	return warns
}
