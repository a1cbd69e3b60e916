package rules_test

import (
	"time"

	"github.com/goodturn/goodturn/rules"
)

// The fixed clock of every test: 15 June 2025, 10:30 UTC.
var (
	testNow   = time.Date(2025, 6, 15, 10, 30, 0, 0, time.UTC)
	testToday = time.Date(2025, 6, 15, 0, 0, 0, 0, time.UTC)
)

// date returns midnight UTC of a day.
func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// daysAgo returns midnight UTC n days before the test clock's date.
func daysAgo(n int) time.Time { return testToday.AddDate(0, 0, -n) }

// allowance returns an allowance of included units at a rate per unit
// beyond; included < 0 is unlimited.
func allowance(meter string, included int, rate string) rules.Allowance {
	if included < 0 {
		return rules.Allowance{Meter: meter, Unlimited: true, OverageRate: rules.MustParseRate(rate)}
	}
	return rules.Allowance{Meter: meter, Included: included, OverageRate: rules.MustParseRate(rate)}
}

// plan returns an available GBP plan with the given allowances.
func plan(id string, price int, as ...rules.Allowance) rules.Plan {
	p := rules.Plan{ID: id, Name: "Plan " + id, MonthlyPrice: price, Currency: "GBP", Available: true,
		Allowances: map[string]rules.Allowance{}}
	for _, a := range as {
		p.Allowances[a.Meter] = a
	}
	return p
}

// The catalogue of the re-rating tests, deliberately not ordered by id:
//
//	basic   £5   1,000 MB at 0.5p/MB, 100 minutes at 8.5p, unlimited texts
//	mid     £10  5,000 MB at 0.25p/MB, unlimited minutes and texts
//	alt     £10  as mid: ties with it
//	max     £20  everything unlimited
//	legacy  £3   everything unlimited, but not on sale
//	euro    €4   everything unlimited, but in euros
var (
	basic = plan("basic", 500,
		allowance("data_mb", 1000, "0.5"), allowance("minutes", 100, "8.5"), allowance("texts", -1, "0"))
	mid = plan("mid", 1000,
		allowance("data_mb", 5000, "0.25"), allowance("minutes", -1, "0"), allowance("texts", -1, "0"))
	alt = plan("alt", 1000,
		allowance("data_mb", 5000, "0.25"), allowance("minutes", -1, "0"), allowance("texts", -1, "0"))
	maxPlan = plan("max", 2000,
		allowance("data_mb", -1, "0"), allowance("minutes", -1, "0"), allowance("texts", -1, "0"))
	legacy = func() rules.Plan {
		p := plan("legacy", 300,
			allowance("data_mb", -1, "0"), allowance("minutes", -1, "0"), allowance("texts", -1, "0"))
		p.Available = false
		return p
	}()
	euro = func() rules.Plan {
		p := plan("euro", 400,
			allowance("data_mb", -1, "0"), allowance("minutes", -1, "0"), allowance("texts", -1, "0"))
		p.Currency = "EUR"
		return p
	}()
	catalogue = []rules.Plan{mid, maxPlan, legacy, euro, basic, alt}
)

// usage is one month of usage of data, minutes and texts.
func usage(dataMB, minutes, texts int) rules.UsageMonth {
	return rules.UsageMonth{"data_mb": dataMB, "minutes": minutes, "texts": texts}
}

// customer returns the facts of a customer on a plan of the catalogue with
// the given months of usage, newest first.
func customer(on rules.Plan, months ...rules.UsageMonth) rules.Facts {
	f := rules.Facts{
		Customer: rules.Customer{ID: 42, Name: "Ada Lovelace", Email: "ada@example.com",
			JoinedOn: date(2019, 9, 1), MarketingOptIn: true},
		Subscription: rules.Subscription{PlanID: on.ID, StartedOn: date(2022, 1, 1)},
		Plan:         on,
		Usage:        months,
		Plans:        catalogue,
		Currency:     "GBP",
		Now:          testNow,
		Today:        testToday,
	}
	for i := range months {
		f.Months = append(f.Months, date(2025, time.Month(5-i), 1))
	}
	return f
}
