package rules_test

import (
	"os"
	"strings"
	"testing"

	"github.com/expr-lang/expr/vm"

	"github.com/goodturn/goodturn/rules"
)

// TestKindsAreDocumented checks that docs/rules.md lists every well-known
// kind with its offer fields and every one of its built-in promises.
func TestKindsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/rules.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range rules.Kinds {
		row := ""
		for _, line := range strings.Split(string(doc), "\n") {
			if strings.HasPrefix(line, "| `"+k.Name+"` |") {
				row = line
			}
		}
		if row == "" {
			t.Errorf("docs/rules.md has no row for kind %s", k.Name)
			continue
		}
		for _, f := range k.Offer {
			if !strings.Contains(row, "`"+f.Name+"`") {
				t.Errorf("kind %s: the docs do not name offer field %s", k.Name, f.Name)
			}
		}
		for _, r := range k.Require {
			if !strings.Contains(row, "`"+strings.ReplaceAll(r, "|", `\|`)+"`") {
				t.Errorf("kind %s: the docs do not give the promise %s", k.Name, r)
			}
		}
	}
}

// TestPromises evaluates a rule's own and built-in promises on matches
// that keep and break them.
func TestPromises(t *testing.T) {
	rs, err := rules.Compile("test", "testdata", map[string][]byte{"tip.yaml": []byte(`rules:
  - id: tip
    name: Tip
    description: A plan tip.
    owner: tests
    kind: cheaper_plan
    values:
      best: best_plan(3)
    when: best != nil && best.plan.id != plan.id
    value: best.yearly_saving
    offer:
      plan_id: best.plan.id
      new_price: best.plan.monthly_price
      current_price: plan.monthly_price
      months: best.by_month
    require:
      - len(offer.months) == 3
      - customer.marketing_opt_in
    message: {template: tip}
`)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rs.Rule("tip")
	heavy := usage(3000, 50, 10) // £10 of overage a month on basic
	light := usage(500, 50, 10)
	optedOut := customer(maxPlan, light, light, light)
	optedOut.Customer.MarketingOptIn = false
	for _, tt := range []struct {
		name string
		f    rules.Facts
		want []string
	}{
		{"a cheaper plan keeps every promise", customer(maxPlan, light, light, light), nil},
		// best_plan offers alt at £10 to a customer on basic at £5 who
		// pays £10 of overage: cheaper every month, but dearer a month.
		{"a dearer plan breaks its kind's promise", customer(basic, heavy, heavy, heavy), []string{
			"offer.new_price < offer.current_price",
		}},
		// Twice with overage, once without: two months save £5, one costs
		// £5 more, so not every month saves, and a value of the £5 saved
		// in all is more than 12 × the smallest (negative) monthly saving.
		{"a dearer plan saving in two months only", customer(basic, heavy, heavy, light), []string{
			"offer.new_price < offer.current_price",
			"len(offer.months) > 0 && all(offer.months, .new_cost < .current_cost)",
			"value <= 12 * min(map(offer.months, .current_cost - .new_cost))",
		}},
		{"the rule's own promise", optedOut, []string{"customer.marketing_opt_in"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var machine vm.VM
			o, err := r.Eval(&machine, tt.f)
			if err != nil || !o.Matched {
				t.Fatalf("Eval = %+v, %v", o, err)
			}
			if strings.Join(o.Broken, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("broken = %q, want %q", o.Broken, tt.want)
			}
		})
	}
}

// TestMoney checks which named values and offer fields a rule's
// expressions show to be money, and what `money:` adds.
func TestMoney(t *testing.T) {
	rs, err := rules.Compile("test", "testdata", map[string][]byte{"m.yaml": []byte(`rules:
  - id: m
    name: M
    description: Money and not.
    owner: tests
    kind: plan_tip
    values:
      best: cheapest_plan(3)
      fees: filter(charges, .kind == "late_fee")
      paid: sum(fees, .amount)
      count_fees: len(fees)
      saving: 'best != nil ? plan.monthly_price - best.plan.monthly_price : 0'
      per_day: div(plan.monthly_price * 3, 30)
      rate: 7500
      declared: rate * 2
    when: best != nil
    value: saving * 12
    offer:
      price: best.plan.monthly_price
      months: len(usage)
      overage_paid: 'sum(usage[:3], overage(plan, #))'
    money: [declared]
    message: {template: m}
`)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(rs.Rule("m").Money(), ",")
	if want := "declared,overage_paid,paid,per_day,price,saving"; got != want {
		t.Errorf("Money() = %s, want %s", got, want)
	}
	r := rs.Rule("m")
	for name, want := range map[string]bool{"plan.monthly_price": true, "months[0].new_cost": true, "count_fees": false, "rate": false, "usage[0].data_mb": false} {
		if r.IsMoney(name) != want {
			t.Errorf("IsMoney(%s) = %v, want %v", name, !want, want)
		}
	}
}

// TestOwnNamesAreMoneyOnlyWhenTheRuleSaysSo checks that a rule's value
// named like a money field of the facts is not money for its name: a count
// called monthly_price is a count, in the rule and in a proposal's stored
// evidence alike.
func TestOwnNamesAreMoneyOnlyWhenTheRuleSaysSo(t *testing.T) {
	rs, err := rules.Compile("test", "testdata", map[string][]byte{"m.yaml": []byte(`rules:
  - id: m
    name: M
    description: Money named like facts.
    owner: tests
    kind: plan_tip
    when: customer.id > 0
    value: 0
    values:
      monthly_price: len(charges)
      amount: plan.monthly_price
    offer:
      value: plan.monthly_price
      fee: len(events)
    message: {template: m}
`)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rs.Rule("m")
	evidence := []byte(`{"values": [{"name": "monthly_price", "value": 3}, {"name": "amount", "value": 1000}], "money": ["amount", "value"]}`)
	offer := []byte(`{"value": 1000, "fee": 2}`)
	stored := rules.EvidenceMoney(evidence, offer)
	for name, want := range map[string]bool{"monthly_price": false, "amount": true, "value": true, "fee": false, "plan.monthly_price": true} {
		if got := r.IsMoney(name); got != want {
			t.Errorf("rule: IsMoney(%s) = %v, want %v", name, got, want)
		}
		if got := stored(name); got != want {
			t.Errorf("evidence: money(%s) = %v, want %v", name, got, want)
		}
	}
}
