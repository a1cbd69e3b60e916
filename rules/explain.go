package rules

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// ClauseResult is one top-level clause of a rule's `when` and its value for
// one customer.
type ClauseResult struct {
	// Clause is the clause's source, as the expression printer writes it.
	Clause string `json:"clause"`
	// Value is what the clause evaluated to; nil when it was not evaluated.
	Value any `json:"value"`
	// Evaluated is false when an earlier clause already decided `when`
	// (a false clause in an `and` chain, a true one in an `or` chain).
	Evaluated bool `json:"evaluated"`
}

// Explanation is why a rule did or did not match one customer.
type Explanation struct {
	// Matched reports whether `when` was true.
	Matched bool
	// Values holds every named value, computed for every customer.
	Values []NamedValue
	// Op is "and" or "or" when `when` is a chain of clauses joined by it,
	// and "" when it is a single clause.
	Op string
	// Clauses are the top-level clauses of `when` in order.
	Clauses []ClauseResult
	// Value and Offer are set when Matched.
	Value int
	Offer []NamedValue
	// Broken lists the promises a match breaks: such a match is held back.
	Broken []string
	// Facts holds the facts the rule reads.
	Facts []NamedValue
}

// whenClauses splits a `when` expression into its top-level chain of `and`
// (or `or`) clauses.
func whenClauses(src string) (op string, clauses []string) {
	tree, err := parser.Parse(src)
	if err != nil {
		return "", []string{src}
	}
	var nodes []ast.Node
	var walk func(n ast.Node, want string)
	walk = func(n ast.Node, want string) {
		if b, ok := n.(*ast.BinaryNode); ok && normOp(b.Operator) == want {
			walk(b.Left, want)
			walk(b.Right, want)
			return
		}
		nodes = append(nodes, n)
	}
	if b, ok := tree.Node.(*ast.BinaryNode); ok && (normOp(b.Operator) == "and" || normOp(b.Operator) == "or") {
		op = normOp(b.Operator)
		walk(tree.Node, op)
	} else {
		nodes = []ast.Node{tree.Node}
	}
	for _, n := range nodes {
		clauses = append(clauses, n.String())
	}
	return op, clauses
}

func normOp(op string) string {
	switch op {
	case "&&", "and":
		return "and"
	case "||", "or":
		return "or"
	}
	return op
}

// compileExplain builds the program that evaluates a rule's named values
// and each clause of its `when` with the same short-circuiting as `when`:
//
//	let v1 = (…); …; let c1 = (clause1); let c2 = c1 == true ? (clause2) : nil; …; [v1, …, c1, c2, …]
func (r *Rule) compileExplain(prefix string) error {
	op, clauses := whenClauses(r.When.Source)
	var src strings.Builder
	src.WriteString(prefix)
	for i, c := range clauses {
		switch {
		case i == 0:
			fmt.Fprintf(&src, "let __c%d = (%s\n);\n", i, c)
		case op == "and":
			fmt.Fprintf(&src, "let __c%d = __c%d == true ? (%s\n) : nil;\n", i, i-1, c)
		default:
			fmt.Fprintf(&src, "let __c%d = __c%d == false ? (%s\n) : nil;\n", i, i-1, c)
		}
	}
	src.WriteString("[")
	for _, v := range r.Values {
		fmt.Fprintf(&src, "%s, ", v.Name)
	}
	for i := range clauses {
		if i > 0 {
			src.WriteString(", ")
		}
		fmt.Fprintf(&src, "__c%d", i)
	}
	src.WriteString("]")
	prog, err := expr.Compile(src.String(), options()...)
	if err != nil {
		return err
	}
	r.explain, r.op, r.clauses = prog, op, clauses
	return nil
}

// Explain evaluates the rule for one customer clause by clause. Its error is
// the rule's own runtime error, such as a division by zero in a named value.
func (r *Rule) Explain(machine *vm.VM, f Facts) (Explanation, error) {
	ex := Explanation{Op: r.op}
	out, err := run(machine, r.explain, f)
	if err != nil {
		return ex, err
	}
	res := out.([]any)
	for i, v := range r.Values {
		ex.Values = append(ex.Values, NamedValue{Name: v.Name, Value: res[i]})
	}
	ex.Clauses = r.clauseResults(res[len(r.Values):])
	o, err := r.Eval(machine, f)
	if err != nil {
		return ex, err
	}
	ex.Matched, ex.Value, ex.Offer, ex.Broken = o.Matched, o.Value, o.Offer, o.Broken
	ex.Facts = r.facts(machine, f)
	return ex, nil
}

func (r *Rule) clauseResults(vals []any) []ClauseResult {
	out := make([]ClauseResult, len(r.clauses))
	for i, c := range r.clauses {
		out[i] = ClauseResult{Clause: c, Value: vals[i], Evaluated: true}
		if i > 0 && vals[i] == nil {
			prev := vals[i-1]
			if (r.op == "and" && prev != true) || (r.op == "or" && prev != false) {
				out[i].Evaluated = false
			}
		}
	}
	return out
}

// Clauses returns the top-level clauses of the rule's `when` and the
// operator joining them ("and", "or", or "" for a single clause).
func (r *Rule) Clauses() (op string, clauses []string) { return r.op, r.clauses }
