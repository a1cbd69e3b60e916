package rules_test

import (
	"testing"
	"time"
)

// TestZeroDateInEveryHelper pins what docs/rules.md says every date helper
// does with a zero date (never, none): the day-counting helpers count it as
// 1 January of year 1, years_since gives 0, and a difference of dates
// saturates at the longest duration, 106,751 days.
func TestZeroDateInEveryHelper(t *testing.T) {
	rs := compileRules(t, `  - id: never
    name: Never
    description: A zero date in every helper.
    owner: test
    kind: test
    values:
      since: days_since(subscription.device_paid_off_on)
      until: days_until(subscription.device_paid_off_on)
      years: years_since(subscription.device_paid_off_on)
      diff_days: div(int((now - subscription.device_paid_off_on).Hours()), 24)
      long_ago: now - subscription.device_paid_off_on > days(36500)
      unused_90: days_since(subscription.device_paid_off_on) > 90
      out_of_contract: days_until(subscription.contract_ends_on) <= 0
      tenure_3: years_since(subscription.device_paid_off_on) >= 3
    when: true
    value: 0
    message: {template: t}
`)
	f := customer(maxPlan) // the clock is 2025-06-15
	o, err := eval(t, rs, "never", f)
	if err != nil {
		t.Fatal(err)
	}
	zero := time.Time{}
	sinceYear1 := int(time.Date(2025, 6, 15, 0, 0, 0, 0, time.UTC).Sub(time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)).Hours()/24) +
		int(-zero.Unix()/86400)
	v := valueMap(o.Values)
	for _, tt := range []struct {
		name string
		want any
	}{
		{"since", sinceYear1},
		{"since", 739416},
		{"until", -739416},
		{"years", 0},
		{"diff_days", 106751},
		{"long_ago", true},
		{"unused_90", true},
		{"out_of_contract", true},
		{"tenure_3", false},
	} {
		if got := v[tt.name]; got != tt.want {
			t.Errorf("%s = %#v, want %#v", tt.name, got, tt.want)
		}
	}
}
