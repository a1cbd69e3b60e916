package rules

import (
	"slices"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// Reads is what a set of rules can read of a customer's facts, worked out
// from their expressions when they are compiled, so that a run reads only
// that from the billing data. The customer, the subscription, the plan
// catalogue and the clock are always read; Reads says which of the other
// relations are read at all, and how much of each.
//
// It is conservative: wherever a rule's access cannot be bounded (a
// relation passed whole to a function, an index that is not a constant, a
// kind compared with a variable, $env read by name), it reads everything of
// that relation, so that the rules see exactly the facts they would see
// had everything been read.
type Reads struct {
	// CustomerAttrs reports whether the customers' attrs are read.
	CustomerAttrs bool
	// Addons reports whether the addons relation is read.
	Addons bool
	// Usage reports whether usage months (usage and months) are read.
	Usage bool
	// UsageMonths is how many of the newest usage months are read; 0
	// means every month of the run's window.
	UsageMonths int
	// Charges reports whether the charges relation is read.
	Charges bool
	// ChargeKinds lists, sorted, the only kinds of charge read; nil means
	// every kind.
	ChargeKinds []string
	// Events reports whether the events relation is read.
	Events bool
	// EventKinds lists, sorted, the only kinds of event read; nil means
	// every kind.
	EventKinds []string
}

// ReadEverything reads every relation whole: what a run without rules to
// bound it, an explanation or a message reads.
var ReadEverything = Reads{CustomerAttrs: true, Addons: true, Usage: true, Charges: true, Events: true}

// ReadsOf returns what any of the rules can read: the union of their Reads.
func ReadsOf(rs []*Rule) Reads {
	var out Reads
	for _, r := range rs {
		out = out.Union(r.reads)
	}
	return out
}

// Union returns what either r or o reads.
func (r Reads) Union(o Reads) Reads {
	out := Reads{CustomerAttrs: r.CustomerAttrs || o.CustomerAttrs, Addons: r.Addons || o.Addons, Usage: r.Usage || o.Usage,
		Charges: r.Charges || o.Charges, Events: r.Events || o.Events}
	switch {
	case !r.Usage:
		out.UsageMonths = o.UsageMonths
	case !o.Usage:
		out.UsageMonths = r.UsageMonths
	case r.UsageMonths == 0 || o.UsageMonths == 0:
		out.UsageMonths = 0
	default:
		out.UsageMonths = max(r.UsageMonths, o.UsageMonths)
	}
	out.ChargeKinds = unionKinds(r.Charges, r.ChargeKinds, o.Charges, o.ChargeKinds)
	out.EventKinds = unionKinds(r.Events, r.EventKinds, o.Events, o.EventKinds)
	return out
}

// unionKinds is the union of two kind lists, of which a nil list read is
// every kind and a list not read is none.
func unionKinds(readA bool, a []string, readB bool, b []string) []string {
	switch {
	case !readA:
		return b
	case !readB:
		return a
	case a == nil || b == nil:
		return nil
	}
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// helperMonths are the helpers that re-rate usage months, with the index
// of the argument (as the rule writes the call) that says how many of the
// newest months they read: cheapest_plan(3) reads three. Every other
// helper reads only its arguments, the clock and the currency.
var helperMonths = map[string]int{
	"cheapest_plan": 0, "bigger_plan": 0, "best_plan": 0, "quote": 1, "rerate": 1,
}

// kindFilters are the builtins whose result depends only on the elements
// their predicate accepts: an element the predicate rejects may as well not
// be there. (all, findIndex and the like depend on the others too.)
var kindFilters = map[string]bool{"filter": true, "find": true, "findLast": true, "count": true, "any": true, "none": true, "one": true}

// access accumulates what expressions read.
type access struct {
	everything    bool
	customerAttrs bool
	addons        bool
	usage         bool
	// months is the most usage months read; -1 when every month is.
	months          int
	charges, events relationAccess
}

// relationAccess is what is read of a relation with kinds.
type relationAccess struct {
	read, allKinds bool
	kinds          map[string]bool
}

func (ra *relationAccess) add(kinds []string, bounded bool) {
	ra.read = true
	if !bounded {
		ra.allKinds = true
		return
	}
	if ra.kinds == nil {
		ra.kinds = map[string]bool{}
	}
	for _, k := range kinds {
		ra.kinds[k] = true
	}
}

func (ra *relationAccess) list() []string {
	if !ra.read || ra.allKinds {
		return nil
	}
	out := make([]string, 0, len(ra.kinds))
	for k := range ra.kinds {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// readsOf works out what expressions, as written, can read. An expression
// that does not parse reads everything.
func readsOf(sources []string) Reads {
	a := &access{}
	for _, src := range sources {
		if src == "" {
			continue
		}
		tree, err := parser.Parse(src)
		if err != nil {
			return ReadEverything
		}
		a.walk(tree.Node, nil)
	}
	if a.everything {
		return ReadEverything
	}
	out := Reads{CustomerAttrs: a.customerAttrs, Addons: a.addons, Usage: a.usage, Charges: a.charges.read, Events: a.events.read,
		ChargeKinds: a.charges.list(), EventKinds: a.events.list()}
	if a.usage && a.months > 0 {
		out.UsageMonths = a.months
	}
	return out
}

// walk visits n, whose parent is parent, and everything below it.
func (a *access) walk(n, parent ast.Node) {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		a.identifier(n, parent)
	case *ast.VariableDeclaratorNode:
		if _, fact := factFields[n.Name]; fact || n.Name == "$env" {
			a.everything = true // a fact's name bound to something else
		}
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok {
			if i, ok := helperMonths[id.Value]; ok {
				a.readMonths(constArg(n.Arguments, i))
			}
		}
	}
	kids, known := children(n)
	if !known {
		a.everything = true // a node this code does not know may read anything
		return
	}
	for _, c := range kids {
		a.walk(c, n)
	}
}

// identifier records what reading a fact by its name reads, given the node
// around it.
func (a *access) identifier(n *ast.IdentifierNode, parent ast.Node) {
	switch n.Value {
	case "$env":
		a.everything = true // any fact, by a name known only when run
	case "customer":
		// customer.name reads no attrs; customer.attrs, or the customer
		// whole, does.
		m, ok := parent.(*ast.MemberNode)
		if p, named := propertyName(m); !ok || m.Node != n || !named || p == "attrs" {
			a.customerAttrs = true
		}
	case "addons":
		a.addons = true
	case "usage", "months":
		a.readMonths(monthsRead(n, parent))
	case "charges":
		a.charges.add(kindsRead(n, parent))
	case "events":
		a.events.add(kindsRead(n, parent))
	}
}

// propertyName returns the constant name a member access reads.
func propertyName(m *ast.MemberNode) (string, bool) {
	if m == nil || m.Method {
		return "", false
	}
	s, ok := m.Property.(*ast.StringNode)
	if !ok {
		return "", false
	}
	return s.Value, true
}

// readMonths records reading the newest n usage months; n <= 0 is every
// month.
func (a *access) readMonths(n int) {
	if !a.usage {
		a.usage, a.months = true, n
	}
	if n <= 0 || a.months <= 0 {
		a.months = -1
		return
	}
	a.months = max(a.months, n)
}

// monthsRead returns how many of the newest usage months an expression
// reading usage (or months) through n, inside parent, can see: usage[2]
// sees three, usage[:3] three, first(usage) one; anything else, every
// month (0).
func monthsRead(n ast.Node, parent ast.Node) int {
	switch p := parent.(type) {
	case *ast.MemberNode:
		if i, ok := p.Property.(*ast.IntegerNode); ok && p.Node == n && !p.Method && i.Value >= 0 {
			return i.Value + 1
		}
	case *ast.SliceNode:
		to, ok := p.To.(*ast.IntegerNode)
		if !ok || p.Node != n || to.Value < 0 {
			return 0
		}
		if p.From != nil {
			if from, ok := p.From.(*ast.IntegerNode); !ok || from.Value < 0 {
				return 0
			}
		}
		return to.Value
	case *ast.BuiltinNode:
		if p.Name == "first" && len(p.Arguments) == 1 {
			return 1
		}
	}
	return 0
}

// constArg returns the i-th argument when it is a positive integer
// constant, else 0 (every month).
func constArg(args []ast.Node, i int) int {
	if i < len(args) {
		if n, ok := args[i].(*ast.IntegerNode); ok && n.Value > 0 {
			return n.Value
		}
	}
	return 0
}

// kindsRead returns the kinds of element an expression reading a relation
// through n, inside parent, can see, when they are bounded: the relation
// is the first argument of a builtin that keeps only what its predicate
// accepts, and the predicate rejects, without failing, every element of
// another kind.
func kindsRead(n ast.Node, parent ast.Node) ([]string, bool) {
	b, ok := parent.(*ast.BuiltinNode)
	if !ok || !kindFilters[b.Name] || len(b.Arguments) != 2 || b.Arguments[0] != n {
		return nil, false
	}
	pred, ok := b.Arguments[1].(*ast.PredicateNode)
	if !ok || usesNamedPointer(pred.Node) {
		return nil, false
	}
	return kindBound(pred.Node)
}

// usesNamedPointer reports whether a predicate reads #index or another
// named pointer, whose value depends on the elements around the one at
// hand.
func usesNamedPointer(n ast.Node) bool {
	return ast.Find(n, func(n ast.Node) bool {
		p, ok := n.(*ast.PointerNode)
		return ok && p.Name != ""
	}) != nil
}

// kindBound returns the kinds outside which a predicate is false without
// evaluating anything that could fail: .kind == "late_fee", .kind in
// ["a", "b"], and the conjunctions (bounded on the left, which guards the
// right) and disjunctions (bounded on both sides) of such tests.
func kindBound(n ast.Node) ([]string, bool) {
	b, ok := n.(*ast.BinaryNode)
	if !ok {
		return nil, false
	}
	switch b.Operator {
	case "&&", "and":
		left, ok := kindBound(b.Left)
		if !ok {
			return nil, false
		}
		if right, ok := kindBound(b.Right); ok {
			return intersect(left, right), true
		}
		return left, true
	case "||", "or":
		left, okL := kindBound(b.Left)
		right, okR := kindBound(b.Right)
		if !okL || !okR {
			return nil, false
		}
		return slices.Concat(left, right), true
	case "==":
		if s, ok := b.Right.(*ast.StringNode); ok && isElementKind(b.Left) {
			return []string{s.Value}, true
		}
		if s, ok := b.Left.(*ast.StringNode); ok && isElementKind(b.Right) {
			return []string{s.Value}, true
		}
	case "in":
		arr, ok := b.Right.(*ast.ArrayNode)
		if !ok || !isElementKind(b.Left) {
			return nil, false
		}
		kinds := make([]string, 0, len(arr.Nodes))
		for _, e := range arr.Nodes {
			s, ok := e.(*ast.StringNode)
			if !ok {
				return nil, false
			}
			kinds = append(kinds, s.Value)
		}
		return kinds, true
	}
	return nil, false
}

// isElementKind reports whether n is .kind (or #.kind) of the element a
// predicate is called with.
func isElementKind(n ast.Node) bool {
	m, ok := n.(*ast.MemberNode)
	if !ok || m.Optional || m.Method {
		return false
	}
	p, ok := m.Node.(*ast.PointerNode)
	s, isStr := m.Property.(*ast.StringNode)
	return ok && p.Name == "" && isStr && s.Value == "kind"
}

func intersect(a, b []string) []string {
	out := []string{}
	for _, k := range a {
		if slices.Contains(b, k) {
			out = append(out, k)
		}
	}
	return out
}

// children returns the nodes directly below n, and false for a kind of
// node it does not know (one a later expr adds), whose reads cannot be
// bounded.
func children(n ast.Node) ([]ast.Node, bool) {
	switch n := n.(type) {
	case *ast.UnaryNode:
		return []ast.Node{n.Node}, true
	case *ast.BinaryNode:
		return []ast.Node{n.Left, n.Right}, true
	case *ast.ChainNode:
		return []ast.Node{n.Node}, true
	case *ast.MemberNode:
		return []ast.Node{n.Node, n.Property}, true
	case *ast.SliceNode:
		return nonNil(n.Node, n.From, n.To), true
	case *ast.CallNode:
		return append([]ast.Node{n.Callee}, n.Arguments...), true
	case *ast.BuiltinNode:
		return nonNil(append(slices.Clone(n.Arguments), n.Map)...), true
	case *ast.PredicateNode:
		return []ast.Node{n.Node}, true
	case *ast.ConditionalNode:
		return []ast.Node{n.Cond, n.Exp1, n.Exp2}, true
	case *ast.VariableDeclaratorNode:
		return []ast.Node{n.Value, n.Expr}, true
	case *ast.SequenceNode:
		return n.Nodes, true
	case *ast.ArrayNode:
		return n.Nodes, true
	case *ast.MapNode:
		return n.Pairs, true
	case *ast.PairNode:
		return []ast.Node{n.Key, n.Value}, true
	case *ast.NilNode, *ast.IdentifierNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.StringNode,
		*ast.BytesNode, *ast.ConstantNode, *ast.PointerNode:
		return nil, true
	}
	return nil, false
}

func nonNil(ns ...ast.Node) []ast.Node {
	out := ns[:0]
	for _, n := range ns {
		if n != nil {
			out = append(out, n)
		}
	}
	return out
}
