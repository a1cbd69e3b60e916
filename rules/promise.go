package rules

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/goodturn/goodturn/rules/rulefmt"
)

// Kind is a well-known kind of benefit: the offer fields every rule of the
// kind must set, the promises every proposal of the kind keeps, and how its
// yearly value is computed. docs/rules.md has the same table.
type Kind struct {
	// Name is the kind as a rule writes it: cheaper_plan.
	Name string
	// Offer lists the offer fields a rule of the kind must set.
	Offer []KindField
	// Require are the built-in promises, expressions over offer and value.
	Require []string
	// Value says how a rule of the kind computes its yearly value.
	Value string
}

// KindField is an offer field a kind needs, and what it must hold.
type KindField struct {
	Name, Meaning string
}

// commonPromises hold for every rule, of a well-known kind or not.
var commonPromises = []string{"value >= 0"}

// byMonth is what a plan kind's offer field `months` holds.
const byMonth = "the quote's month-by-month comparison (best.by_month): each month's current_cost and new_cost"

// Kinds are the well-known kinds of benefit.
var Kinds = []Kind{
	{
		Name: "cheaper_plan",
		Offer: []KindField{
			{"plan_id", "the plan to move to"},
			{"new_price", "its monthly price"},
			{"current_price", "the current plan's monthly price"},
			{"months", byMonth},
		},
		Require: []string{
			"offer.new_price < offer.current_price",
			"len(offer.months) > 0 && all(offer.months, .new_cost < .current_cost)",
			"value <= 12 * min(map(offer.months, .current_cost - .new_cost))",
		},
		Value: "the smallest saving of any month of the window × 12 (`best.yearly_saving` of `cheapest_plan`)",
	},
	{
		Name: "bigger_plan",
		Offer: []KindField{
			{"plan_id", "the plan to move to"},
			{"new_price", "its monthly price"},
			{"current_price", "the current plan's monthly price"},
			{"months", byMonth},
		},
		Require: []string{
			"offer.new_price >= offer.current_price",
			"sum(offer.months, .new_cost) < sum(offer.months, .current_cost)",
			"value <= (all(offer.months, .new_cost < .current_cost) ? 12 * min(map(offer.months, .current_cost - .new_cost)) : sum(offer.months, .current_cost - .new_cost))",
		},
		Value: "the smallest monthly saving × 12 when every month of the window saves, otherwise the window's total saving, not annualised (`best.yearly_saving` of `bigger_plan`)",
	},
	{
		Name: "best_tariff_notice",
		Offer: []KindField{
			{"has_better", "whether a plan would have cost less"},
			{"months", byMonth + "; empty when has_better is false"},
		},
		Require: []string{
			"offer.has_better || value == 0",
			"not offer.has_better || (len(offer.months) > 0 && sum(offer.months, .new_cost) < sum(offer.months, .current_cost))",
			"not offer.has_better || value <= (all(offer.months, .new_cost < .current_cost) ? 12 * min(map(offer.months, .current_cost - .new_cost)) : sum(offer.months, .current_cost - .new_cost))",
		},
		Value: "as for bigger_plan, of the best tariff (`best.yearly_saving` of `best_plan`); 0 when the current plan is already the best",
	},
	{
		Name:    "fee_waiver",
		Offer:   []KindField{{"charge_id", "the charge to waive"}, {"amount", "its amount"}},
		Require: []string{"offer.amount > 0", "value <= offer.amount"},
		Value:   "the amount waived, once",
	},
	{
		Name:    "goodwill_credit",
		Offer:   []KindField{{"amount", "the credit"}},
		Require: []string{"offer.amount > 0", "value <= offer.amount"},
		Value:   "the credit, once",
	},
	{
		Name:  "free_replacement",
		Offer: []KindField{{"action", "what billing or logistics must do, such as ship_replacement_sim"}},
		Value: "the fee refunded, or what the replacement would cost when it is not free",
	},
	{
		Name:    "addon_removal",
		Offer:   []KindField{{"addon_ids", "the add-ons to remove"}, {"monthly_total", "what they cost a month"}},
		Require: []string{"len(offer.addon_ids) > 0", "offer.monthly_total > 0", "value <= offer.monthly_total * 12"},
		Value:   "a year of what the unused add-ons cost",
	},
	{
		Name:    "device_refund",
		Offer:   []KindField{{"refund_amount", "the instalments refunded"}},
		Require: []string{"offer.refund_amount > 0"},
		Value:   "the refund plus the instalments no longer charged over the coming year",
	},
	{
		Name:    "roaming_bundle",
		Offer:   []KindField{{"addon_price", "the bundle's price"}, {"saving", "what the bundle would have saved on the month it is based on"}},
		Require: []string{"offer.saving > 0", "value <= offer.saving"},
		Value:   "the one month's saving, once: one trip a year, never annualised",
	},
}

// KindByName returns the well-known kind of that name.
func KindByName(name string) (Kind, bool) {
	for _, k := range Kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// Promise is one promise a rule keeps: a requirement from its `require:`
// list, or one its kind carries built in.
type Promise struct {
	// Source is the expression as written.
	Source string
	// BuiltIn reports a promise of the rule's kind (or of every rule).
	BuiltIn bool
	program *vm.Program
}

// Promises returns the promises the rule keeps, built-in ones first.
func (r *Rule) Promises() []Promise { return r.promises }

// promiseEnvNames are the names a promise sees besides the named values and
// the facts.
const (
	promiseOffer = "offer"
	promiseValue = "value"
)

// factFields are the Facts fields by expression name, for promise
// environments.
var factFields = func() map[string]int {
	m := map[string]int{}
	t := reflect.TypeOf(Facts{})
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.IsExported() && f.Tag.Get("expr") != "" {
			m[f.Tag.Get("expr")] = i
		}
	}
	return m
}()

// factNames are the facts' expression names by Facts field index.
var factNames = func() map[int]string {
	m := map[int]string{}
	for name, i := range factFields {
		m[i] = name
	}
	return m
}()

// compilePromises checks the offer fields the rule's kind needs and
// compiles its promises against an environment of the facts, the named
// values (with the types they were checked to have), `offer` and `value`.
func (r *Rule) compilePromises(valueTypes map[string]reflect.Type) rulefmt.Errors {
	var errs rulefmt.Errors
	var sources []Promise
	for _, s := range commonPromises {
		sources = append(sources, Promise{Source: s, BuiltIn: true})
	}
	if k, ok := KindByName(r.Kind); ok {
		have := map[string]bool{}
		for _, o := range r.Offer {
			have[o.Name] = true
		}
		var missing []string
		for _, f := range k.Offer {
			if !have[f.Name] {
				missing = append(missing, fmt.Sprintf("%s (%s)", f.Name, f.Meaning))
			}
		}
		if len(missing) > 0 {
			errs = append(errs, &rulefmt.Error{Path: r.Path, Pos: r.Pos, Rule: r.ID,
				Msg: fmt.Sprintf("kind %s: the offer must set %s; its built-in promises read them (see docs/rules.md)", k.Name, strings.Join(missing, ", "))})
			return errs
		}
		for _, s := range k.Require {
			sources = append(sources, Promise{Source: s, BuiltIn: true})
		}
	}
	sources = append(sources, r.userPromises()...)
	env := map[string]any{}
	t := reflect.TypeOf(Facts{})
	for name, i := range factFields {
		env[name] = reflect.Zero(t.Field(i).Type).Interface()
	}
	for name, vt := range valueTypes {
		if vt == nil || vt.Kind() == reflect.Interface {
			env[name] = nil
		} else {
			env[name] = reflect.Zero(vt).Interface()
		}
	}
	env[promiseOffer] = map[string]any{}
	env[promiseValue] = 0
	opts := []expr.Option{expr.Env(env), expr.DisableBuiltin("now"), expr.MaxNodes(10000), expr.AsBool()}
	for _, p := range sources {
		prog, err := expr.Compile(p.Source, opts...)
		if err != nil {
			if p.BuiltIn {
				errs = append(errs, &rulefmt.Error{Path: r.Path, Pos: r.Pos, Rule: r.ID,
					Msg: fmt.Sprintf("internal error compiling the built-in promise %q: %v", p.Source, err)})
				continue
			}
			offset, msg := 0, err.Error()
			var fe *file.Error
			if errors.As(err, &fe) {
				offset, msg = fe.From, strings.TrimSpace(fe.Message)
			}
			for _, e := range r.Require {
				if e.Source == p.Source {
					errs = append(errs, &rulefmt.Error{Path: r.Path, Pos: e.Position(offset), Rule: r.ID, Msg: "require: " + msg})
					break
				}
			}
			continue
		}
		p.program = prog
		r.promises = append(r.promises, p)
	}
	r.promiseFacts = factsNamed(r.promises)
	return errs
}

// factsNamed returns, in Facts field order, the facts the promises name:
// the only ones their environment needs. A promise that does not parse,
// or reads $env, needs them all.
func factsNamed(ps []Promise) []int {
	named := map[int]bool{}
	for _, p := range ps {
		tree, err := parser.Parse(p.Source)
		if err != nil {
			return allFacts()
		}
		all := false
		ast.Find(tree.Node, func(n ast.Node) bool {
			if id, ok := n.(*ast.IdentifierNode); ok {
				if i, fact := factFields[id.Value]; fact {
					named[i] = true
				}
				all = all || id.Value == "$env"
			}
			return false
		})
		if all {
			return allFacts()
		}
	}
	out := make([]int, 0, len(named))
	for i := range named {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

// allFacts returns the field index of every fact.
func allFacts() []int {
	out := make([]int, 0, len(factFields))
	for _, i := range factFields {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

// userPromises returns the rule's own `require:` entries as promises, to be
// compiled with the built-in ones.
func (r *Rule) userPromises() []Promise {
	out := make([]Promise, len(r.Require))
	for i, e := range r.Require {
		out[i] = Promise{Source: e.Source}
	}
	return out
}

// broken evaluates the rule's promises for a match and returns the source
// of each one that does not hold (with the error, when evaluating it
// failed).
func (r *Rule) broken(machine *vm.VM, env any, o Outcome) []string {
	if len(r.promises) == 0 {
		return nil
	}
	penv := make(map[string]any, len(r.promiseFacts)+len(o.Values)+2)
	if fv := reflect.ValueOf(env); fv.Kind() == reflect.Struct {
		for _, i := range r.promiseFacts {
			penv[factNames[i]] = fv.Field(i).Interface()
		}
	}
	for _, v := range o.Values {
		penv[v.Name] = v.Value
	}
	offer := make(map[string]any, len(o.Offer))
	for _, v := range o.Offer {
		offer[v.Name] = v.Value
	}
	penv[promiseOffer] = offer
	penv[promiseValue] = o.Value
	var out []string
	for _, p := range r.promises {
		res, err := machine.Run(p.program, penv)
		switch {
		case err != nil:
			out = append(out, fmt.Sprintf("%s (%v)", p.Source, runtimeError(err)))
		case res != true:
			out = append(out, p.Source)
		}
	}
	return out
}
