package rules_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/goodturn/goodturn/rules"
)

// compileRules compiles rules written in YAML under "rules:" into a
// ruleset whose every template exists.
func compileRules(t *testing.T, yaml string) *rules.Ruleset {
	t.Helper()
	rs, err := rules.Compile("test", "rulesets/test", map[string][]byte{
		"rulesets/test/test.yaml": []byte("rules:\n" + yaml),
	}, func(string) bool { return true })
	if err != nil {
		t.Fatalf("compile:\n%v", err)
	}
	return rs
}

// eval evaluates one rule of a ruleset for a customer.
func eval(t *testing.T, rs *rules.Ruleset, id string, f rules.Facts) (rules.Outcome, error) {
	t.Helper()
	r := rs.Rule(id)
	if r == nil {
		t.Fatalf("no rule %q", id)
	}
	var machine vm.VM
	return r.Eval(&machine, f)
}

// valueMap returns named values by name.
func valueMap(vs []rules.NamedValue) map[string]any {
	m := map[string]any{}
	for _, v := range vs {
		m[v.Name] = v.Value
	}
	return m
}

func names(vs []rules.NamedValue) string {
	var s []string
	for _, v := range vs {
		s = append(s, v.Name)
	}
	return strings.Join(s, ",")
}

const helpersRule = `
  - id: helpers
    name: Every helper
    description: Calls each helper from an expression.
    owner: tests
    kind: test
    values:
      best: cheapest_plan(3)
      best_id: best?.plan.id
      basic: first(filter(plans, .id == "basic"))
      cost0: cost(basic, usage[0])
      overage0: overage(basic, usage[0])
      fits0: fits(basic, usage[0])
      fits2: fits(basic, usage[2])
      rerated: rerate(basic, 3)
      quoted: quote(basic, 2)
      member_days: days_since(customer.joined_on)
      member_years: years_since(customer.joined_on)
      contract_days: days_until(subscription.contract_ends_on)
      since_never: days_since(subscription.device_paid_off_on)
      until_never: days_until(subscription.device_paid_off_on)
      price: money(plan.monthly_price)
      window: days(30)
      third: div(plan.monthly_price, 3)
    when: best != nil && best.monthly_saving > 0
    value: best.monthly_saving * 12
    offer:
      plan_id: best.plan.id
      saving: best.monthly_saving
      price: price
    message: {template: t}
`

// TestHelpers calls every helper from an expression, for a customer on
// max (£20, unlimited) whose newest month has 103 minutes: too many for
// basic, whose 100 minutes cost 8.5p each beyond.
func TestHelpers(t *testing.T) {
	rs := compileRules(t, helpersRule)
	f := customer(maxPlan, usage(800, 103, 0), usage(1001, 101, 0), usage(0, 100, 0))
	f.Subscription.ContractEndsOn = date(2025, 7, 15)
	o, err := eval(t, rs, "helpers", f)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Matched {
		t.Fatal("not matched")
	}
	want := "best,best_id,basic,cost0,overage0,fits0,fits2,rerated,quoted,member_days,member_years," +
		"contract_days,since_never,until_never,price,window,third"
	if got := names(o.Values); got != want {
		t.Errorf("values in order %s, want %s", got, want)
	}
	v := valueMap(o.Values)
	for _, tt := range []struct {
		name string
		want any
	}{
		// basic does not fit the 103 minutes, so the cheapest is alt (£10;
		// mid costs the same), saving £10 a month.
		{"best_id", "alt"},
		{"cost0", 526},    // £5 + 3 × 8.5p = 25.5p → 26p
		{"overage0", 26},  //
		{"fits0", false},  // 103 minutes > 100
		{"fits2", true},   // 100 minutes
		{"rerated", 1535}, // 526 + 509 + 500
		// 2 September 2019 to 15 June 2025.
		{"member_days", 2114},
		{"member_years", 5},
		{"contract_days", 30},
		// A zero date is "never": 1 January of year 1.
		{"since_never", 739416},
		{"until_never", -739416},
		{"price", "£20.00"},
		{"window", 30 * 24 * time.Hour},
		{"third", 666}, // 2000 / 3, truncated
	} {
		if got := v[tt.name]; got != tt.want {
			t.Errorf("%s = %#v, want %#v", tt.name, got, tt.want)
		}
	}
	if q, ok := v["quoted"].(*rules.Quote); !ok || q.Plan.ID != "basic" || q.Total != 526+509 ||
		q.CurrentTotal != 4000 || q.Saving != 4000-1035 || q.MonthlySaving != 1482 {
		t.Errorf("quoted = %+v", v["quoted"])
	}
	if o.Value != 12*1000 {
		t.Errorf("Value = %d, want %d", o.Value, 12*1000)
	}
	wantOffer := []rules.NamedValue{{Name: "plan_id", Value: "alt"}, {Name: "saving", Value: 1000}, {Name: "price", Value: "£20.00"}}
	if !reflect.DeepEqual(o.Offer, wantOffer) {
		t.Errorf("Offer = %v, want %v", o.Offer, wantOffer)
	}

	// A customer for whom the cheapest other plan costs more: no match,
	// and nothing else in the outcome.
	f = customer(basic, usage(500, 50, 10), usage(500, 50, 10), usage(500, 50, 10))
	o, err = eval(t, rs, "helpers", f)
	if err != nil || !reflect.DeepEqual(o, rules.Outcome{}) {
		t.Errorf("no match: outcome %+v, error %v", o, err)
	}
}

// TestHelperErrors checks that helpers are type-checked with the facts
// argument hidden from the rule's author.
func TestHelperErrors(t *testing.T) {
	for _, tt := range []struct{ expr, want string }{
		{`cheapest_plan("3") != nil`, `cannot use string as argument (type int) to call cheapest_plan`},
		{`days_since(customer.name) > 1`, `cannot use string as argument (type time.Time) to call days_since`},
		{`fits(plan) == true`, `not enough arguments to call fits`},
		{`now() != nil`, `time.Time is not callable`},
		{`rerate(plan, 3, 4) > 0`, `too many arguments to call rerate`},
	} {
		_, err := rules.Compile("t", "t", map[string][]byte{"t.yaml": []byte(`rules:
  - id: r
    name: R
    description: R.
    owner: o
    kind: k
    when: ` + tt.expr + `
    value: 1
    message: {template: t}
`)}, nil)
		if err == nil || !strings.Contains(err.Error(), `t.yaml:7:`) || !strings.HasSuffix(err.Error(), `: rule "r": when: `+tt.want) {
			t.Errorf("%s: error %v, want one ending in %q", tt.expr, err, tt.want)
		}
	}
}

const divisionRules = `
  - id: div-helper
    name: Whole-number division
    description: Divides by the handset instalment.
    owner: tests
    kind: test
    values:
      per_month: div(plan.monthly_price, subscription.device_monthly)
    when: "true"
    value: per_month * 12
    message: {template: t}
  - id: float-division
    name: Division then int()
    description: Divides by the handset instalment.
    owner: tests
    kind: test
    when: "true"
    value: int(plan.monthly_price / subscription.device_monthly) * 12
    message: {template: t}
  - id: modulo
    name: Remainder
    description: The remainder of the price by the handset instalment.
    owner: tests
    kind: test
    when: plan.monthly_price % subscription.device_monthly == 0
    value: "1"
    message: {template: t}
  - id: float-offer
    name: A float offer
    description: A division in an offer.
    owner: tests
    kind: test
    when: "true"
    value: "1"
    offer:
      ratio: plan.monthly_price / subscription.device_monthly
    message: {template: t}
`

// TestDivisionByZero checks that a rule which divides by zero for one
// customer returns an error for that customer, and a value for others.
func TestDivisionByZero(t *testing.T) {
	rs := compileRules(t, divisionRules)
	withDevice := customer(maxPlan)
	withDevice.Subscription.DeviceMonthly = 500
	noDevice := customer(maxPlan)
	for _, tt := range []struct {
		id    string
		value int
		err   string
	}{
		{"div-helper", 48, "integer divide by zero"},
		{"float-division", 48, "int(+Inf): not a whole number (a division by zero?)"},
		{"modulo", 1, "runtime error: integer divide by zero"},
	} {
		t.Run(tt.id, func(t *testing.T) {
			o, err := eval(t, rs, tt.id, withDevice)
			if err != nil || o.Value != tt.value {
				t.Errorf("with a device: value %d, error %v; want %d", o.Value, err, tt.value)
			}
			o, err = eval(t, rs, tt.id, noDevice)
			if err == nil || err.Error() != tt.err {
				t.Errorf("without a device: outcome %+v, error %v; want error %q", o, err, tt.err)
			}
			if o.Matched {
				t.Errorf("an outcome that failed matched")
			}
		})
	}
}

const evidenceRule = `
  - id: evidence
    name: Evidence
    description: Reads facts in several ways.
    owner: tests
    kind: test
    values:
      saving: "plan.monthly_price - (len(usage) > 0 ? cost(plans[0], usage[0]) : 0)"
      tier: customer.attrs["loyalty-tier"] ?? "none"
    when: |
      (len(usage) == 0 || usage[0].data_mb > 100)
      && customer.joined_on < today
      && currency == "GBP"
      && all(charges, {.amount > 0})
    value: saving
    offer:
      joined: customer.joined_on
    message: {template: t}
`

// TestEvidence checks that a match's evidence lists the named values and
// every fact the rule reads, sorted by name.
func TestEvidence(t *testing.T) {
	rs := compileRules(t, evidenceRule)
	r := rs.Rule("evidence")
	f := customer(maxPlan, usage(800, 103, 0))
	f.Customer.Attrs = map[string]any{"loyalty-tier": "gold"}
	var machine vm.VM
	o, err := r.Eval(&machine, f)
	if err != nil || !o.Matched {
		t.Fatalf("outcome %+v, error %v", o, err)
	}
	ev := r.Evidence(&machine, f, o)
	// plans[0] is mid: £10 with unlimited minutes.
	wantValues := []rules.NamedValue{{Name: "saving", Value: 1000}, {Name: "tier", Value: "gold"}}
	if !reflect.DeepEqual(ev.Values, wantValues) {
		t.Errorf("evidence values = %v, want %v", ev.Values, wantValues)
	}
	wantFacts := []rules.NamedValue{
		{Name: "currency", Value: "GBP"},
		{Name: `customer.attrs["loyalty-tier"]`, Value: "gold"},
		{Name: "customer.joined_on", Value: "2019-09-01"},
		{Name: "plan.monthly_price", Value: 2000},
		{Name: "plans[0]", Value: mid},
		{Name: "today", Value: "2025-06-15"},
		{Name: "usage[0].data_mb", Value: 800},
	}
	if !reflect.DeepEqual(ev.Facts, wantFacts) {
		t.Errorf("evidence facts =\n%v\nwant\n%v", ev.Facts, wantFacts)
	}

	// A fact that cannot be read for this customer is left out.
	f = customer(maxPlan)
	o, err = r.Eval(&machine, f)
	if err != nil || !o.Matched {
		t.Fatalf("no usage: outcome %+v, error %v", o, err)
	}
	var got []string
	for _, fact := range r.Evidence(&machine, f, o).Facts {
		got = append(got, fact.Name)
	}
	if want := `currency,customer.attrs["loyalty-tier"],customer.joined_on,plan.monthly_price,plans[0],today`; strings.Join(got, ",") != want {
		t.Errorf("evidence facts with no usage = %s, want %s", strings.Join(got, ","), want)
	}
}

// TestEvalOneVM evaluates several rules and customers on one VM, as the
// engine does.
func TestEvalOneVM(t *testing.T) {
	rs := compileRules(t, helpersRule+divisionRules)
	var machine vm.VM
	light := usage(500, 50, 10)
	customers := []struct {
		f      rules.Facts
		value  int // of helpers; 0 for no match
		device bool
	}{
		{customer(maxPlan, light, light, light), 12 * 1500, true},
		{customer(basic, light, light, light), 0, false},
		{customer(mid, light, light, light), 12 * 500, false},
	}
	customers[0].f.Subscription.DeviceMonthly = 1000
	for round := 0; round < 2; round++ {
		for i, c := range customers {
			o, err := rs.Rule("helpers").Eval(&machine, c.f)
			if err != nil || o.Matched != (c.value != 0) || o.Value != c.value {
				t.Errorf("round %d customer %d: %+v, %v", round, i, o, err)
			}
			o, err = rs.Rule("div-helper").Eval(&machine, c.f)
			if (err == nil) != c.device || (c.device && o.Value != 24) {
				t.Errorf("round %d customer %d: div-helper %+v, %v", round, i, o, err)
			}
		}
	}
}
