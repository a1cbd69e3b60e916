package rules_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/goodturn/goodturn/rules"
)

// loadMobile loads the shipped mobile ruleset.
func loadMobile(t *testing.T) *rules.Ruleset {
	t.Helper()
	rs, err := rules.Load("../rulesets/mobile")
	if err != nil {
		t.Fatalf("load the mobile ruleset:\n%v", err)
	}
	if rs.Name != "mobile" {
		t.Errorf("ruleset name %q", rs.Name)
	}
	return rs
}

// shippedCase is one customer for one shipped rule: it fires with value
// and the offer fields given, or it does not fire (value 0).
type shippedCase struct {
	name  string
	f     rules.Facts
	value int
	offer map[string]any // the fields to check; nil checks none
}

func runShipped(t *testing.T, rs *rules.Ruleset, id string, cases []shippedCase) {
	t.Helper()
	r := rs.Rule(id)
	if r == nil {
		t.Fatalf("no rule %q in the mobile ruleset", id)
	}
	if !r.Enabled {
		t.Errorf("rule %q is not enabled", id)
	}
	var machine vm.VM
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := r.Eval(&machine, c.f)
			if err != nil {
				t.Fatalf("Eval: %v", err)
			}
			if fires := c.value != 0; o.Matched != fires {
				t.Fatalf("matched = %v, want %v (values %v)", o.Matched, fires, o.Values)
			}
			if o.Value != c.value {
				t.Errorf("value = %d, want %d", o.Value, c.value)
			}
			if len(o.Broken) > 0 {
				t.Errorf("the match breaks its promises: %v", o.Broken)
			}
			offer := valueMap(o.Offer)
			for k, want := range c.offer {
				if got, ok := offer[k]; !ok || !reflect.DeepEqual(got, want) {
					t.Errorf("offer.%s = %#v, want %#v", k, got, want)
				}
			}
		})
	}
}

func TestMobileCheaperPlan(t *testing.T) {
	rs := loadMobile(t)
	light := usage(500, 50, 10)
	overMinutes := usage(500, 150, 10) // more minutes than basic's 100
	pricey := plan("pricey", 599, maxPlan.Allowances["data_mb"], maxPlan.Allowances["minutes"], maxPlan.Allowances["texts"])
	pound := plan("pound", 600, maxPlan.Allowances["data_mb"], maxPlan.Allowances["minutes"], maxPlan.Allowances["texts"])
	seven := plan("seven", 700, maxPlan.Allowances["data_mb"], maxPlan.Allowances["minutes"], maxPlan.Allowances["texts"])
	with := func(f rules.Facts, change func(*rules.Facts)) rules.Facts { change(&f); return f }
	cases := []shippedCase{
		{"pays £20, fits the £5 plan", customer(maxPlan, light, light, light), 12 * 1500, map[string]any{
			"plan_id": "basic", "plan_name": "Plan basic", "new_price": 500,
			"current_price": 2000, "current_plan_name": "Plan max", "min_monthly_saving": 1500,
		}},
		{"saves exactly £1 a month", customer(pound, light, light, light), 12 * 100, map[string]any{"plan_id": "basic", "min_monthly_saving": 100}},
		{"saves 99p a month", customer(pricey, light, light, light), 0, nil},
		{"one month over the cheaper plan's allowance", customer(seven, light, overMinutes, light), 0, nil},
		{"three months within it", customer(seven, light, light, light), 12 * 200, map[string]any{"plan_id": "basic"}},
		// On basic, 200 minutes cost £5 + 100 × 8.5p = £13.50 a month:
		// alt's £10 with unlimited minutes costs less in all, but more a
		// month than basic: that is out-of-bundle's offer, not this rule's.
		{"a dearer plan is never a cheaper plan", customer(basic, usage(500, 200, 0), usage(500, 200, 0), usage(500, 200, 0)), 0, nil},
		{"still in contract", with(customer(maxPlan, light, light, light), func(f *rules.Facts) {
			f.Subscription.ContractEndsOn = testToday.AddDate(0, 0, 30)
		}), 0, nil},
		{"contract ends tomorrow", with(customer(maxPlan, light, light, light), func(f *rules.Facts) {
			f.Subscription.ContractEndsOn = testToday.AddDate(0, 0, 1)
		}), 0, nil},
		{"contract ends today", with(customer(maxPlan, light, light, light), func(f *rules.Facts) {
			f.Subscription.ContractEndsOn = testToday
		}), 12 * 1500, nil},
		{"contract ended last year", with(customer(maxPlan, light, light, light), func(f *rules.Facts) {
			f.Subscription.ContractEndsOn = date(2024, 6, 1)
		}), 12 * 1500, nil},
		{"only two months of usage", customer(maxPlan, light, light), 0, nil},
		{"no plan", with(customer(maxPlan, light, light, light), func(f *rules.Facts) {
			f.Plan, f.Subscription = rules.Plan{}, rules.Subscription{}
		}), 0, nil},
		{"roaming no cheaper plan covers", customer(maxPlan, rules.UsageMonth{"data_mb": 1, "roaming_mb": 10}, light, light), 0, nil},
	}
	runShipped(t, rs, "cheaper-plan", cases)
}

func TestMobileFreeSIMReplacement(t *testing.T) {
	rs := loadMobile(t)
	at := func(days int) time.Time { return testNow.Add(-time.Duration(days) * 24 * time.Hour) }
	lost := func(days int, kind string, charges ...rules.Charge) rules.Facts {
		f := customer(mid)
		f.Events = []rules.Event{{ID: 1, Kind: kind, OccurredAt: at(days)}}
		f.Charges = charges
		return f
	}
	fee := func(id int64, days, amount int, waived bool) rules.Charge {
		return rules.Charge{ID: id, Kind: "replacement_fee", ChargedOn: daysAgo(days), Amount: amount, Waived: waived}
	}
	cases := []shippedCase{
		{"lost 30 days ago and charged for a new one", lost(30, "sim_lost", fee(71, 29, 500, false),
			rules.Charge{ID: 70, Kind: "plan", ChargedOn: daysAgo(14), Amount: 1000}), 500, map[string]any{
			"action": "ship_replacement_sim", "reason": "sim_lost", "reported_on": at(30),
			"refund_charge_ids": []any{int64(71)}, "refund_amount": 500,
		}},
		{"damaged two days ago, no fee charged", lost(2, "sim_damaged"), 500, map[string]any{
			"reason": "sim_damaged", "refund_charge_ids": []any{}, "refund_amount": 0,
		}},
		{"a dearer fee is refunded in full", lost(3, "sim_lost", fee(8, 2, 1000, false)), 1000, map[string]any{"refund_amount": 1000}},
		{"two fees", lost(3, "sim_lost", fee(8, 2, 1000, false), fee(7, 3, 250, false)), 1250, map[string]any{
			"refund_charge_ids": []any{int64(8), int64(7)},
		}},
		{"a fee already waived is not refunded", lost(3, "sim_lost", fee(8, 2, 1000, true)), 500, map[string]any{
			"refund_charge_ids": []any{}, "refund_amount": 0,
		}},
		{"a fee from 31 days ago is not refunded", lost(3, "sim_lost", fee(8, 31, 1000, false)), 500, map[string]any{"refund_amount": 0}},
		{"reported 31 days ago", lost(31, "sim_lost", fee(71, 29, 500, false)), 0, nil},
		{"a device fault is not a SIM problem", lost(2, "device_fault"), 0, nil},
		{"no events", customer(mid), 0, nil},
	}
	runShipped(t, rs, "free-sim-replacement", cases)
}

func TestMobileLateFeeWaiver(t *testing.T) {
	rs := loadMobile(t)
	lateFee := func(id int64, days int, waived bool) rules.Charge {
		return rules.Charge{ID: id, Kind: "late_fee", ChargedOn: daysAgo(days), Amount: 1000, Waived: waived}
	}
	failed := func(days int) rules.Event {
		return rules.Event{Kind: "payment_failed", OccurredAt: testNow.Add(-time.Duration(days) * 24 * time.Hour)}
	}
	loyal := func(joined time.Time, charges []rules.Charge, events ...rules.Event) rules.Facts {
		f := customer(mid)
		f.Customer.JoinedOn = joined
		f.Charges = charges
		f.Events = events
		return f
	}
	fiveYears := date(2020, 1, 10)
	cases := []shippedCase{
		{"five years a customer, first late fee", loyal(fiveYears, []rules.Charge{lateFee(9, 20, false)}), 1000, map[string]any{
			"action": "waive_charge", "charge_id": int64(9), "amount": 1000, "charged_on": daysAgo(20),
		}},
		{"exactly three years", loyal(date(2022, 6, 15), []rules.Charge{lateFee(9, 20, false)}), 1000, nil},
		{"three years tomorrow", loyal(date(2022, 6, 16), []rules.Charge{lateFee(9, 20, false)}), 0, nil},
		{"two years a customer", loyal(date(2023, 1, 10), []rules.Charge{lateFee(9, 20, false)}), 0, nil},
		{"a second late fee in two years", loyal(fiveYears, []rules.Charge{lateFee(9, 20, false), lateFee(3, 400, true)}), 0, nil},
		{"a late fee over two years ago does not count", loyal(fiveYears, []rules.Charge{lateFee(9, 20, false), lateFee(3, 731, false)}), 1000, nil},
		{"already waived", loyal(fiveYears, []rules.Charge{lateFee(9, 20, true)}), 0, nil},
		{"charged 60 days ago", loyal(fiveYears, []rules.Charge{lateFee(9, 60, false)}), 1000, nil},
		{"charged 61 days ago", loyal(fiveYears, []rules.Charge{lateFee(9, 61, false)}), 0, nil},
		{"one failed payment this year", loyal(fiveYears, []rules.Charge{lateFee(9, 20, false)}, failed(25)), 1000, nil},
		{"two failed payments this year", loyal(fiveYears, []rules.Charge{lateFee(9, 20, false)}, failed(25), failed(200)), 0, nil},
		{"a failed payment over a year ago does not count", loyal(fiveYears, []rules.Charge{lateFee(9, 20, false)}, failed(25), failed(366)), 1000, nil},
		{"no late fee", loyal(fiveYears, []rules.Charge{{ID: 1, Kind: "plan", ChargedOn: daysAgo(14), Amount: 1000}}), 0, nil},
	}
	runShipped(t, rs, "late-fee-waiver", cases)
}
