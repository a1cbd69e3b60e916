package rules

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/goodturn/goodturn/rules/rulefmt"
)

// Ruleset is a folder of rule files and their message templates, compiled
// and ready to evaluate.
type Ruleset struct {
	// Name is the folder's base name: "mobile" for rulesets/mobile.
	Name string
	// Dir is the folder.
	Dir string
	// Rules are every rule of every file, enabled or not, in file order.
	Rules []*Rule
	// FS is the file system the ruleset was loaded from by LoadFS, with Dir
	// a path in it; nil for a folder on disk.
	FS fs.FS
}

// Enabled returns the rules that are enabled.
func (rs *Ruleset) Enabled() []*Rule {
	var out []*Rule
	for _, r := range rs.Rules {
		if r.Enabled {
			out = append(out, r)
		}
	}
	return out
}

// ValueDescription returns the description of the rule's named value of
// that name: the comment above it in the rule file; "" when none.
func (r *Rule) ValueDescription(name string) string { return describe(r.Values, name) }

// OfferDescription returns the description of the rule's offer field of
// that name.
func (r *Rule) OfferDescription(name string) string { return describe(r.Offer, name) }

func describe(named []rulefmt.Named, name string) string {
	for _, n := range named {
		if n.Name == name {
			return n.Description
		}
	}
	return ""
}

// Rule returns the rule with the given id, or nil.
func (rs *Ruleset) Rule(id string) *Rule {
	for _, r := range rs.Rules {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// Rule is one compiled rule.
type Rule struct {
	*rulefmt.Rule
	// Path is the rule file the rule came from.
	Path string
	// Version is the SHA-256 of the rule file's content.
	Version string
	// TemplatePath is the message template file, written in Language;
	// read it with ReadTemplate, as it may be in an embedded file system.
	TemplatePath string
	// Language is the language of TemplatePath, from the rule file: what a
	// customer gets whose language has no translation.
	Language string
	// Translations holds the template files in other languages by language
	// code: cheaper-plan.cy.tmpl beside cheaper-plan.tmpl is "cy".
	Translations map[string]string
	// fsys is the file system of LoadFS, or nil for files on disk.
	fsys fs.FS

	program *vm.Program
	// eager is the program that computes every named value before `when`;
	// program is the lazy one when the rule allows it (see compileLazy).
	eager  *vm.Program
	probes []probe
	// promises are the rule's own and its kind's built-in promises.
	promises []Promise
	// promiseFacts are the Facts fields, by index, the promises name.
	promiseFacts []int
	// money holds the names of the named values and offer fields that are
	// amounts of money (see inferMoney).
	money map[string]bool
	// explain evaluates named values and each clause of when; see
	// compileExplain.
	explain *vm.Program
	op      string
	clauses []string
	// reads is what the rule's expressions and promises can read of a
	// customer's facts; see Reads.
	reads Reads
}

// probe is one fact a rule reads, compiled on its own so that it can be shown
// as evidence when the rule matches.
type probe struct {
	path    string
	program *vm.Program
}

// Outcome is the result of evaluating one rule for one customer.
type Outcome struct {
	// Matched reports whether `when` was true.
	Matched bool
	// Values holds the named values in the order the rule declares them;
	// set only when Matched.
	Values []NamedValue
	// Value is the yearly value to the customer in minor units.
	Value int
	// Offer holds the offer fields in declared order.
	Offer []NamedValue
	// Broken lists the promises the match breaks (see Rule.Promises): a
	// match that breaks one is held back, never proposed.
	Broken []string
}

// NamedValue is a name and what it evaluated to.
type NamedValue struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// Evidence is what a proposal records of the decision: the named values,
// each clause of `when` with its value, and every fact the rule's
// expressions read, so a reviewer sees the arithmetic.
type Evidence struct {
	Values  []NamedValue   `json:"values"`
	Clauses []ClauseResult `json:"clauses"`
	Facts   []NamedValue   `json:"facts"`
	// Money names the values and offer fields that are amounts of money
	// (Rule.Money); a fact is money when IsMoneyField says so.
	Money []string `json:"money,omitempty"`
}

// TestFileSuffix marks rule test files, which are not rule files.
const TestFileSuffix = "_test.yaml"

// TemplateExt is the extension of message template files.
const TemplateExt = ".tmpl"

// langCode matches a language code in a template's file name.
var langCode = regexp.MustCompile(`^[a-z]{2,3}$`)

// Language returns the language part of a locale tag, lowercased: "cy" for
// "cy-GB".
func Language(locale string) string {
	lang, _, _ := strings.Cut(strings.ReplaceAll(locale, "_", "-"), "-")
	return strings.ToLower(strings.TrimSpace(lang))
}

// TemplateFor returns the template a customer with the given locale gets:
// the translation in their language, or the rule's own template, in which
// case covered is false when their language is another one (or unknown).
func (r *Rule) TemplateFor(locale string) (path, language string, covered bool) {
	lang := Language(locale)
	if p, ok := r.Translations[lang]; ok {
		return p, lang, true
	}
	return r.TemplatePath, r.Language, lang == r.Language
}

// Compile compiles the rule files of one ruleset, given as path → content.
// templateExists reports whether the named message template exists.
func Compile(name, dir string, files map[string][]byte, templateExists func(string) bool) (*Ruleset, error) {
	rs := &Ruleset{Name: name, Dir: dir}
	var errs rulefmt.Errors
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	seen := map[string]string{}
	for _, path := range paths {
		f, ferrs := rulefmt.Parse(path, files[path])
		errs = append(errs, ferrs...)
		for _, fr := range f.Rules {
			if fr.ID != "" {
				if other, dup := seen[fr.ID]; dup && other != path {
					errs = append(errs, &rulefmt.Error{Path: path, Pos: fr.IDPos, Rule: fr.ID,
						Msg: fmt.Sprintf("duplicate rule id (also defined in %s)", other)})
				}
				seen[fr.ID] = path
			}
			r := &Rule{Rule: fr, Path: path, Version: f.Hash, Language: f.Language}
			if fr.Message.Template != "" {
				r.TemplatePath = filepath.Join(dir, fr.Message.Template+TemplateExt)
				if templateExists != nil && !templateExists(fr.Message.Template) {
					errs = append(errs, &rulefmt.Error{Path: path, Pos: fr.Message.TemplatePos, Rule: fr.ID,
						Msg: fmt.Sprintf("unknown template %q: no file %s", fr.Message.Template, r.TemplatePath)})
				}
			}
			errs = append(errs, r.compile()...)
			rs.Rules = append(rs.Rules, r)
		}
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	return rs, nil
}

// options are the compile options of every expression.
func options() []expr.Option {
	opts := []expr.Option{
		expr.Env(Facts{}),
		expr.DisableBuiltin("now"),
		expr.Patch(envArgPatcher{}),
		expr.MaxNodes(10000),
	}
	opts = append(opts, budgetOptions()...)
	return append(opts, helperOptions()...)
}

// exprWords are the words of the expression language that read as names:
// a named value cannot take them.
var exprWords = map[string]bool{
	"let": true, "in": true, "not": true, "and": true, "or": true, "matches": true,
	"contains": true, "if": true, "else": true, "true": true, "false": true, "nil": true,
}

// piece is one expression of a rule placed into the rule's program.
type piece struct {
	label string
	e     rulefmt.Expr
}

// compile type-checks every expression of the rule, reporting errors at
// their place in the file, then builds the rule's single program:
//
//	let v1 = (values.v1); …; (when) ? [v1, …, (value), (offer.a), …] : nil
//
// so that named values are computed once per customer and value and offer
// only for customers who match.
func (r *Rule) compile() rulefmt.Errors {
	if errs := r.checkLimits(); len(errs) > 0 {
		return errs
	}
	var errs rulefmt.Errors
	fail := func(e rulefmt.Expr, offset int, label, msg string) {
		errs = append(errs, &rulefmt.Error{Path: r.Path, Pos: e.Position(offset), Rule: r.ID, Msg: label + ": " + msg})
	}
	// check compiles prefix+src and reports an error inside src.
	check := func(prefix string, p piece) (reflect.Type, bool) {
		prog, err := expr.Compile(prefix+p.e.Source, options()...)
		if err != nil {
			offset, msg := 0, err.Error()
			var fe *file.Error
			if errors.As(err, &fe) {
				offset = fe.From - len([]rune(prefix))
				msg = r.withSuggestion(strings.TrimSpace(fe.Message))
			}
			fail(p.e, offset, p.label, msg)
			return nil, false
		}
		if nt := prog.Node().Nature(); nt != nil && nt.Nil {
			return nil, true // nil has no type at all
		}
		return prog.Node().Type(), true
	}

	var prefix strings.Builder
	ok := true
	valueTypes := map[string]reflect.Type{}
	for _, v := range r.Values {
		if e := r.checkValueName(v); e != nil {
			errs = append(errs, e)
			ok = false
			continue
		}
		vt, good := check(prefix.String(), piece{"values." + v.Name, v.Expr})
		if !good {
			ok = false
			// Later expressions would only repeat this error.
			break
		}
		valueTypes[v.Name] = vt
		fmt.Fprintf(&prefix, "let %s = (%s\n);\n", v.Name, v.Expr.Source)
	}
	if !ok {
		return errs
	}
	pre := prefix.String()
	if r.When.Source != "" {
		if t, good := check(pre, piece{"when", r.When}); good {
			if t == nil || (t.Kind() != reflect.Bool && t.Kind() != reflect.Interface) {
				fail(r.When, 0, "when", fmt.Sprintf("must be a boolean expression, got %s", typeName(t)))
			}
		}
	}
	if r.Value.Source != "" {
		if t, good := check(pre, piece{"value", r.Value}); good {
			switch {
			case t == nil:
				fail(r.Value, 0, "value", "must be an integer amount in minor units, got nil")
			case t.Kind() == reflect.Int, t.Kind() == reflect.Int64, t.Kind() == reflect.Int32, t.Kind() == reflect.Interface:
			case t.Kind() == reflect.Float64, t.Kind() == reflect.Float32:
				fail(r.Value, 0, "value", "must be an integer amount in minor units, got float (use int(round(x)), or div(a, b) for whole-number division)")
			default:
				fail(r.Value, 0, "value", fmt.Sprintf("must be an integer amount in minor units, got %s", typeName(t)))
			}
		}
	}
	for _, o := range r.Offer {
		check(pre, piece{"offer." + o.Name, o.Expr})
	}
	if len(errs) > 0 || r.When.Source == "" || r.Value.Source == "" {
		return errs
	}
	if errs = r.checkMoney(); len(errs) > 0 {
		return errs
	}
	if errs = r.compilePromises(valueTypes); len(errs) > 0 {
		return errs
	}

	var src strings.Builder
	src.WriteString(pre)
	fmt.Fprintf(&src, "(%s\n) ? [", r.When.Source)
	for _, v := range r.Values {
		fmt.Fprintf(&src, "%s, ", v.Name)
	}
	fmt.Fprintf(&src, "(%s\n)", r.Value.Source)
	for _, o := range r.Offer {
		fmt.Fprintf(&src, ", (%s\n)", o.Expr.Source)
	}
	src.WriteString("] : nil")
	prog, err := expr.Compile(src.String(), options()...)
	if err != nil {
		// Every piece compiled on its own, so this is a bug in goodturn.
		errs = append(errs, &rulefmt.Error{Path: r.Path, Pos: r.Pos, Rule: r.ID, Msg: "internal error compiling rule: " + err.Error()})
		return errs
	}
	r.program, r.eager = prog, prog
	if lazy, ok := r.compileLazy(); ok {
		r.program = lazy
	}
	r.probes = factProbes(r)
	r.reads = readsOf(r.sources())
	r.inferMoney()
	if err := r.compileExplain(pre); err != nil {
		errs = append(errs, &rulefmt.Error{Path: r.Path, Pos: r.Pos, Rule: r.ID, Msg: "internal error compiling rule clauses: " + err.Error()})
		return errs
	}
	return nil
}

// sources returns the source of every expression of the rule: named
// values, when, value, offer and promises.
func (r *Rule) sources() []string {
	out := []string{r.When.Source, r.Value.Source}
	for _, v := range r.Values {
		out = append(out, v.Expr.Source)
	}
	for _, o := range r.Offer {
		out = append(out, o.Expr.Source)
	}
	for _, p := range r.promises {
		out = append(out, p.Source)
	}
	return out
}

// checkValueName reports a named value whose name is taken: by a fact, a
// helper or a builtin, by a word of the language, by the names compiling a
// rule reserves, or by require's offer and value.
func (r *Rule) checkValueName(v rulefmt.Named) *rulefmt.Error {
	msg := ""
	switch {
	case reservedNames[v.Name]:
		msg = fmt.Sprintf("named value %q hides the fact, helper or builtin function of that name; choose another name", v.Name)
	case v.Name == promiseOffer || v.Name == promiseValue:
		msg = fmt.Sprintf("named value %q: the name is reserved for the rule's %s in `require`; choose another name", v.Name, v.Name)
	case exprWords[v.Name]:
		msg = fmt.Sprintf("named value %q is a word of the expression language; choose another name", v.Name)
	case strings.HasPrefix(v.Name, "__"):
		// compileExplain binds __c0, __c1, … next to the named values.
		msg = fmt.Sprintf("named value %q: names starting with __ are reserved; choose another name", v.Name)
	default:
		return nil
	}
	return &rulefmt.Error{Path: r.Path, Pos: v.NamePos, Rule: r.ID, Msg: msg}
}

// factProbes finds the facts a rule reads — member chains such as
// plan.monthly_price or usage[0].data_mb, and the scalar facts now, today and
// currency — and compiles each on its own.
func factProbes(r *Rule) []probe {
	found := map[string]bool{}
	exprs := []rulefmt.Expr{r.When, r.Value}
	for _, v := range r.Values {
		exprs = append(exprs, v.Expr)
	}
	for _, o := range r.Offer {
		exprs = append(exprs, o.Expr)
	}
	for _, e := range exprs {
		// Pieces may use named values, so they are parsed, not checked.
		tree, err := parser.Parse(e.Source)
		if err != nil {
			continue
		}
		ast.Find(tree.Node, func(n ast.Node) bool {
			if s, ok := factPath(n); ok {
				found[s] = true
			}
			return false
		})
	}
	// Keep only the longest chains: usage[0].data_mb, not usage[0].
	var paths []string
	for p := range found {
		longer := false
		for q := range found {
			if q != p && strings.HasPrefix(q, p) && (q[len(p)] == '.' || q[len(p)] == '[') {
				longer = true
				break
			}
		}
		if !longer {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	var probes []probe
	for _, p := range paths {
		prog, err := expr.Compile(p, options()...)
		if err != nil {
			continue
		}
		probes = append(probes, probe{path: p, program: prog})
	}
	return probes
}

var scalarFacts = map[string]bool{"now": true, "today": true, "currency": true}

// identPattern matches a map key that can follow a dot in an expression.
var identPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// factPath returns the source of a member chain rooted at a fact, with
// constant indexes and names only.
func factPath(n ast.Node) (string, bool) {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		if scalarFacts[n.Value] {
			return n.Value, true
		}
		return "", false
	case *ast.MemberNode:
		if n.Optional {
			return "", false
		}
		base, ok := chain(n.Node)
		if !ok {
			return "", false
		}
		switch p := n.Property.(type) {
		case *ast.StringNode:
			if n.Method {
				return "", false
			}
			if !identPattern.MatchString(p.Value) {
				return fmt.Sprintf("%s[%q]", base, p.Value), true // attrs["loyalty-tier"]
			}
			return base + "." + p.Value, true
		case *ast.IntegerNode:
			return fmt.Sprintf("%s[%d]", base, p.Value), true
		}
	}
	return "", false
}

func chain(n ast.Node) (string, bool) {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		if reservedNames[n.Value] && !envHelpers[n.Value] {
			return n.Value, true
		}
		return "", false
	case *ast.MemberNode:
		return factPath(n)
	}
	return "", false
}

// Eval evaluates the rule for one customer on the given VM. A VM must not be
// shared between goroutines.
func (r *Rule) Eval(machine *vm.VM, f Facts) (Outcome, error) {
	return r.EvalEnv(machine, f)
}

// EvalEnv is Eval with the facts already in an interface value, so that a
// caller evaluating many rules for one customer boxes the facts only once.
// env must hold a Facts.
func (r *Rule) EvalEnv(machine *vm.VM, env any) (Outcome, error) {
	return r.eval(machine, r.program, env)
}

func (r *Rule) eval(machine *vm.VM, program *vm.Program, env any) (Outcome, error) {
	out, err := r.evalBounded(machine, program, env)
	if err != nil {
		return Outcome{}, err
	}
	if out == nil {
		return Outcome{}, nil
	}
	res := out.([]any)
	o := Outcome{Matched: true}
	n := len(r.Values)
	o.Values = make([]NamedValue, n)
	for i, v := range r.Values {
		o.Values[i] = NamedValue{Name: v.Name, Value: res[i]}
	}
	val, ok := toInt(res[n])
	if !ok {
		return Outcome{}, fmt.Errorf("value: want an integer amount in minor units, got %T", res[n])
	}
	o.Value = val
	if len(r.Offer) > 0 {
		o.Offer = make([]NamedValue, len(r.Offer))
		for i, of := range r.Offer {
			o.Offer[i] = NamedValue{Name: of.Name, Value: res[n+1+i]}
		}
	}
	o.Broken = r.broken(machine, env, o)
	return o, nil
}

// Evidence evaluates the clauses of `when` and the facts the rule reads, for
// a customer it matched.
func (r *Rule) Evidence(machine *vm.VM, f Facts, o Outcome) Evidence {
	var env any = f // boxed once for every program below
	ev := Evidence{Values: o.Values, Facts: r.facts(machine, env), Money: r.Money()}
	if r.op == "and" || r.op == "" {
		// The rule matched, so every clause of an `and` chain was true:
		// no need to evaluate them again.
		ev.Clauses = make([]ClauseResult, len(r.clauses))
		for i, c := range r.clauses {
			ev.Clauses[i] = ClauseResult{Clause: c, Value: true, Evaluated: true}
		}
		return ev
	}
	if out, err := run(machine, r.explain, env); err == nil {
		ev.Clauses = r.clauseResults(out.([]any)[len(r.Values):])
	}
	return ev
}

// facts evaluates the facts the rule reads; env holds a Facts.
func (r *Rule) facts(machine *vm.VM, env any) []NamedValue {
	out := make([]NamedValue, 0, len(r.probes))
	for _, p := range r.probes {
		v, err := machine.Run(p.program, env)
		if err != nil {
			// An index past the end of a short slice, say: leave it out.
			continue
		}
		if t, ok := v.(time.Time); ok {
			v = t.Format(time.DateOnly)
		}
		out = append(out, NamedValue{Name: p.path, Value: v})
	}
	return out
}

func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case int32:
		return int(n), true
	}
	return 0, false
}

// runtimeError strips the internal program source from an expression's
// runtime error, keeping its message.
func runtimeError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		return errors.New(fe.Message)
	}
	return err
}
