package rules

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// compileLazy builds a program that computes each named value only when the
// next clause of an `and` chain needs it, so that a customer who fails a
// cheap first clause never pays for an expensive value:
//
//	let a = (…); (clause1) ? (let b = (…); (clause2) ? (let c = (…); [a, b, c, value, offer…]) : nil) : nil
//
// A match still computes every named value, for the evidence. It reports
// false when `when` is not an `and` chain or the program does not compile
// (the eager program is then used).
func (r *Rule) compileLazy() (*vm.Program, bool) {
	op, clauses := whenClauses(r.When.Source)
	if op != "and" || len(clauses) < 2 || len(r.Values) == 0 {
		return nil, false
	}
	index := map[string]int{}
	for i, v := range r.Values {
		index[v.Name] = i
	}
	// deps[i] lists the named values value i reads directly.
	deps := make([][]int, len(r.Values))
	for i, v := range r.Values {
		deps[i] = namesRead(v.Expr.Source, index)
	}
	emitted := make([]bool, len(r.Values))
	var b strings.Builder
	var emit func(i int)
	emit = func(i int) {
		if emitted[i] {
			return
		}
		for _, d := range deps[i] {
			emit(d)
		}
		emitted[i] = true
		fmt.Fprintf(&b, "let %s = (%s\n);\n", r.Values[i].Name, r.Values[i].Expr.Source)
	}
	for _, c := range clauses {
		for _, i := range namesRead(c, index) {
			emit(i)
		}
		fmt.Fprintf(&b, "(%s\n) ? (", c)
	}
	for i := range r.Values {
		emit(i)
	}
	b.WriteString("[")
	for _, v := range r.Values {
		fmt.Fprintf(&b, "%s, ", v.Name)
	}
	fmt.Fprintf(&b, "(%s\n)", r.Value.Source)
	for _, o := range r.Offer {
		fmt.Fprintf(&b, ", (%s\n)", o.Expr.Source)
	}
	b.WriteString("]")
	for range clauses {
		b.WriteString(") : nil")
	}
	prog, err := expr.Compile(b.String(), options()...)
	if err != nil {
		return nil, false
	}
	return prog, true
}

// namesRead returns, in declaration order, the named values an expression
// reads.
func namesRead(src string, index map[string]int) []int {
	tree, err := parser.Parse(src)
	if err != nil {
		// Read them all: safe, if not lazy.
		out := make([]int, 0, len(index))
		for _, i := range index {
			out = append(out, i)
		}
		return sortedInts(out)
	}
	seen := map[int]bool{}
	ast.Find(tree.Node, func(n ast.Node) bool {
		if id, ok := n.(*ast.IdentifierNode); ok {
			if i, ok := index[id.Value]; ok {
				seen[i] = true
			}
		}
		return false
	})
	out := make([]int, 0, len(seen))
	for i := range seen {
		out = append(out, i)
	}
	return sortedInts(out)
}

func sortedInts(xs []int) []int {
	for i := 1; i < len(xs); i++ {
		for j := i; j > 0 && xs[j] < xs[j-1]; j-- {
			xs[j], xs[j-1] = xs[j-1], xs[j]
		}
	}
	return xs
}
