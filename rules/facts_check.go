package rules

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/expr-lang/expr/ast"

	"github.com/goodturn/goodturn/rules/rulefmt"
)

// recheckCalls makes the expression checker check the arguments of helper
// calls. The checker types the tree once before the patchers run and
// ignores the errors of that pass; on its final pass it trusts a call's
// type when one is set and skips the call's arguments, so a typo inside a
// helper's arguments (years_since(customer.joind_on)) went unreported.
// Running last, this patcher clears those types so that every helper call
// is checked again, arguments and all. The calls goodturn's own patchers
// make (__step, __add, …) keep their types. It says it is repeatable only
// so that the checker runs it in its last round of patchers, after the last
// typing pass and just before the final check.
type recheckCalls struct{}

func (recheckCalls) Reset()             {}
func (recheckCalls) ShouldRepeat() bool { return false }

func (recheckCalls) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	if id, ok := call.Callee.(*ast.IdentifierNode); ok && !strings.HasPrefix(id.Value, "__") {
		call.SetType(nil)
	}
}

var (
	unknownName  = regexp.MustCompile(`^unknown name (\w+)`)
	unknownField = regexp.MustCompile(`^type (?:\[\])?rules\.(\w+) has no (?:field|method) (\w+)`)
)

// withSuggestion adds "did you mean …" to a compile error about an unknown
// name (a fact, helper or named value) or an unknown field of a fact.
func (r *Rule) withSuggestion(msg string) string {
	if m := unknownName.FindStringSubmatch(msg); m != nil {
		known := make([]string, 0, len(reservedNames)+len(r.Values))
		for n := range reservedNames {
			if !strings.HasPrefix(n, "__") {
				known = append(known, n)
			}
		}
		for _, v := range r.Values {
			known = append(known, v.Name)
		}
		if s := rulefmt.Suggest(m[1], known); s != "" {
			return fmt.Sprintf("%s; did you mean %s?", msg, s)
		}
		return msg
	}
	if m := unknownField.FindStringSubmatch(msg); m != nil {
		if t, ok := factTypes[m[1]]; ok {
			if s := rulefmt.Suggest(m[2], exprFields(t)); s != "" {
				return fmt.Sprintf("%s; did you mean %s?", msg, s)
			}
		}
	}
	return msg
}

// factTypes are the struct types of the facts, by Go name.
var factTypes = func() map[string]reflect.Type {
	m := map[string]reflect.Type{}
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Map || t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t.PkgPath() != reflect.TypeOf(Facts{}).PkgPath() {
			return
		}
		if _, seen := m[t.Name()]; seen {
			return
		}
		m[t.Name()] = t
		for i := 0; i < t.NumField(); i++ {
			add(t.Field(i).Type)
		}
	}
	add(reflect.TypeOf(Facts{}))
	return m
}()

// exprFields returns the names expressions use for a struct's fields.
func exprFields(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("expr"); tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	return out
}
