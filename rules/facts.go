// Package rules is goodturn's rule language: the facts a rule sees, the
// helpers it may call, compiling a ruleset's expressions once against those
// facts, and evaluating them for one customer at a time. It knows nothing of
// databases; the engine assembles Facts and hands them over by value.
package rules

import (
	"strings"
	"time"
)

// Facts is everything a rule sees about one customer, already assembled.
// It is the expression environment: every field is readable in `values`,
// `when`, `value` and `offer` under its snake_case name.
//
// Facts is passed to the expression VM by value, so it must stay a plain
// struct of values, slices and maps (and the pointers to the Limiter that
// bounds its evaluations and to the worker's Rating of its usage, which
// expressions cannot see).
type Facts struct {
	// Customer is the customer being evaluated.
	Customer Customer `expr:"customer"`
	// Subscription is the customer's current subscription. Its PlanID is
	// empty when the customer has none.
	Subscription Subscription `expr:"subscription"`
	// Plan is the customer's current plan, copied from the catalogue.
	Plan Plan `expr:"plan"`
	// Addons are the add-ons the customer pays for.
	Addons []Addon `expr:"addons"`
	// Usage holds one entry per month of metered usage, newest first,
	// keyed by meter name: usage[0].data_mb.
	Usage []UsageMonth `expr:"usage"`
	// Months holds the first day of the month of each Usage entry.
	Months []time.Time `expr:"months"`
	// Charges are the customer's charges, newest first.
	Charges []Charge `expr:"charges"`
	// Events are the things that happened to the customer, newest first.
	Events []Event `expr:"events"`
	// Plans is the whole plan catalogue, ordered by id.
	Plans []Plan `expr:"plans"`
	// Currency is the ISO 4217 code of every amount in these facts.
	Currency string `expr:"currency"`
	// Now is the run's clock.
	Now time.Time `expr:"now"`
	// Today is the run's date: Now truncated to midnight UTC.
	Today time.Time `expr:"today"`

	// limiter bounds the evaluations of rules on these facts; see Limit.
	limiter *Limiter
	// rating re-rates the usage on slots for the helpers; see Rate.
	rating *Rating
}

// Customer is one row of the customers relation.
type Customer struct {
	ID             int64          `expr:"id" json:"id"`
	Name           string         `expr:"name" json:"name"`
	Email          string         `expr:"email" json:"email,omitempty"`
	Phone          string         `expr:"phone" json:"phone,omitempty"`
	Locale         string         `expr:"locale" json:"locale,omitempty"`
	Timezone       string         `expr:"timezone" json:"timezone,omitempty"`
	JoinedOn       time.Time      `expr:"joined_on" json:"joined_on"`
	Segment        string         `expr:"segment" json:"segment,omitempty"`
	MarketingOptIn bool           `expr:"marketing_opt_in" json:"marketing_opt_in"`
	ContactOptOut  bool           `expr:"contact_opt_out" json:"contact_opt_out"`
	Attrs          map[string]any `expr:"attrs" json:"attrs,omitempty"`
	// AccountNo is the business's own account number (customers.account_no,
	// an optional column); "" when the business has none.
	AccountNo string `expr:"account_no" json:"account_no,omitempty"`
}

// Plan is one plan of the catalogue with its allowances.
type Plan struct {
	ID           string `expr:"id" json:"id"`
	Name         string `expr:"name" json:"name"`
	MonthlyPrice int    `expr:"monthly_price" json:"monthly_price" money:"true"`
	Currency     string `expr:"currency" json:"currency"`
	// Available reports whether existing customers may move to the plan.
	Available bool `expr:"available" json:"available"`
	// Allowances is keyed by meter name. A meter a plan does not list is
	// not covered by it: any usage of it makes the plan unsuitable.
	Allowances map[string]Allowance `expr:"allowances" json:"allowances,omitempty"`
	Attrs      map[string]any       `expr:"attrs" json:"attrs,omitempty"`
}

// Allowance is what a plan includes of one meter and what it charges beyond.
type Allowance struct {
	Meter string `expr:"meter" json:"meter"`
	// Included is the quantity included each month; ignored when Unlimited.
	Included int `expr:"included" json:"included"`
	// Unlimited reports an allowance with no limit (included is NULL).
	Unlimited bool `expr:"unlimited" json:"unlimited,omitempty"`
	// OverageRate is the price of each unit beyond Included, in minor units.
	OverageRate Rate `expr:"overage_rate" json:"overage_rate"`
}

// Subscription is the customer's current plan and handset instalment.
type Subscription struct {
	PlanID    string    `expr:"plan_id" json:"plan_id"`
	StartedOn time.Time `expr:"started_on" json:"started_on"`
	// ContractEndsOn is the end of the minimum term; zero when there is none.
	ContractEndsOn time.Time `expr:"contract_ends_on" json:"contract_ends_on"`
	// DeviceMonthly is the handset instalment charged each month, or 0.
	DeviceMonthly int `expr:"device_monthly" json:"device_monthly" money:"true"`
	// DevicePaidOffOn is when the handset was paid off; zero if never.
	DevicePaidOffOn time.Time `expr:"device_paid_off_on" json:"device_paid_off_on"`
}

// Addon is an add-on the customer pays for.
type Addon struct {
	ID           string    `expr:"id" json:"id"`
	Name         string    `expr:"name" json:"name"`
	MonthlyPrice int       `expr:"monthly_price" json:"monthly_price" money:"true"`
	StartedOn    time.Time `expr:"started_on" json:"started_on"`
	// LastUsedOn is zero when the add-on was never used.
	LastUsedOn time.Time `expr:"last_used_on" json:"last_used_on"`
}

// UsageMonth is one month of metered usage, keyed by meter name. A meter
// with no row reads as 0.
type UsageMonth map[string]int

// Charge is one line of a bill.
type Charge struct {
	ID        int64     `expr:"id" json:"id"`
	ChargedOn time.Time `expr:"charged_on" json:"charged_on"`
	Kind      string    `expr:"kind" json:"kind"`
	Amount    int       `expr:"amount" json:"amount" money:"true"`
	Waived    bool      `expr:"waived" json:"waived"`
}

// Event is something that happened to the customer.
type Event struct {
	ID         int64          `expr:"id" json:"id"`
	OccurredAt time.Time      `expr:"occurred_at" json:"occurred_at"`
	Kind       string         `expr:"kind" json:"kind"`
	Attrs      map[string]any `expr:"attrs" json:"attrs,omitempty"`
}

// PlanByID returns the catalogue plan with the given id.
func (f *Facts) PlanByID(id string) (Plan, bool) {
	for _, p := range f.Plans {
		if p.ID == id {
			return p, true
		}
	}
	return Plan{}, false
}

// Reachable returns the channels, of those given, on which the customer can
// be reached: email needs an email address, sms a phone number; a webhook
// goes to the business's own systems and always reaches.
func (c Customer) Reachable(channels []string) []string {
	var out []string
	for _, ch := range channels {
		switch ch {
		case "email":
			if strings.TrimSpace(c.Email) == "" {
				continue
			}
		case "sms":
			if strings.TrimSpace(c.Phone) == "" {
				continue
			}
		}
		out = append(out, ch)
	}
	return out
}
