package sample

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/rules"
)

// testNow is the clock of every test: usage covers May to October 2025.
var testNow = time.Date(2025, 11, 20, 10, 30, 0, 0, time.UTC)

func generate(t *testing.T, db *database.DB, opts Options) Stats {
	t.Helper()
	ctx := context.Background()
	if err := billing.CreateSchema(ctx, db); err != nil {
		t.Fatal(err)
	}
	st, err := Generate(ctx, db, opts)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return st
}

func count(t *testing.T, db *database.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), db.Rebind(query), args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// checkGenerated checks the rows of a generated database against its Stats
// and the catalogue, and that every overage charge is the re-rated overage
// of the month before.
func checkGenerated(t *testing.T, db *database.DB, st Stats, opts Options) {
	t.Helper()
	for _, c := range []struct {
		table string
		want  int
	}{
		{"customers", st.Customers},
		{"plans", st.Plans},
		{"subscriptions", st.Subscriptions},
		{"addons", st.Addons},
		{"usage", st.UsageRows},
		{"charges", st.Charges},
		{"events", st.Events},
	} {
		if got := count(t, db, "SELECT COUNT(*) FROM "+c.table); got != c.want {
			t.Errorf("%s has %d rows, Stats says %d", c.table, got, c.want)
		}
	}
	if st.Customers != opts.Customers || st.Subscriptions != opts.Customers {
		t.Errorf("Stats %+v for %d customers", st, opts.Customers)
	}
	if got := count(t, db, "SELECT COUNT(*) FROM customers WHERE id BETWEEN 1 AND ?", opts.Customers); got != opts.Customers {
		t.Errorf("%d customers with ids 1..%d", got, opts.Customers)
	}
	// Ids are sequential.
	if got := count(t, db, "SELECT COALESCE(MAX(id), 0) FROM charges"); got != st.Charges {
		t.Errorf("max charge id %d, %d charges", got, st.Charges)
	}
	if got := count(t, db, "SELECT COALESCE(MAX(id), 0) FROM events"); got != st.Events {
		t.Errorf("max event id %d, %d events", got, st.Events)
	}
	// Nothing after the clock.
	if got := count(t, db, "SELECT COUNT(*) FROM charges WHERE charged_on > ?", testNow.Format(time.DateOnly)); got != 0 {
		t.Errorf("%d charges after now", got)
	}

	ctx := context.Background()
	rd := &billing.Reader{DB: db}
	cat, err := rd.Catalogue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !equalJSON(cat, Catalogue()) {
		t.Errorf("catalogue read back differs:\n got %s\nwant %s", mustJSON(cat), mustJSON(Catalogue()))
	}

	// Usage months are the Months complete months before now's month.
	months := map[string]bool{}
	rows, err := db.QueryContext(ctx, "SELECT DISTINCT month FROM usage")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var m time.Time
		if err := rows.Scan(database.Time(&m)); err != nil {
			t.Fatal(err)
		}
		months[m.Format(time.DateOnly)] = true
	}
	rows.Close()
	var want []string
	for i := opts.Months; i >= 1; i-- {
		want = append(want, time.Date(testNow.Year(), testNow.Month()-time.Month(i), 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly))
	}
	var got []string
	for m := range months {
		got = append(got, m)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("usage months %v, want %v", got, want)
	}

	// Each overage charge is rules.Overage of the month before on the
	// customer's plan, and every positive overage is charged.
	overages, plans, customers := 0, 0, 0
	_, err = rd.Read(ctx, billing.Range{}, testNow, cat, func(f rules.Facts) error {
		customers++
		if f.Plan.ID == "" {
			t.Errorf("customer %d has no plan", f.Customer.ID)
			return nil
		}
		charged := map[string]int{}
		for _, c := range f.Charges {
			switch c.Kind {
			case "overage":
				charged[c.ChargedOn.AddDate(0, -1, 0).Format(time.DateOnly)] += c.Amount
			case "plan":
				plans++
				if c.Amount != f.Plan.MonthlyPrice || c.ChargedOn.Day() != 1 {
					t.Errorf("customer %d: plan charge %+v on plan %s", f.Customer.ID, c, f.Plan.ID)
				}
			}
		}
		for i, m := range f.Usage {
			month := f.Months[i].Format(time.DateOnly)
			if want := rules.Overage(f.Plan, m); charged[month] != want {
				t.Errorf("customer %d, %s on %s: overage charged %d, re-rated %d", f.Customer.ID, month, f.Plan.ID, charged[month], want)
			}
			if charged[month] > 0 {
				overages++
			}
			delete(charged, month)
			for meter := range m {
				if _, ok := f.Plan.Allowances[meter]; !ok {
					t.Errorf("customer %d uses %s, not covered by %s", f.Customer.ID, meter, f.Plan.ID)
				}
			}
		}
		for month, amount := range charged {
			t.Errorf("customer %d: overage %d charged for %s, a month with no usage", f.Customer.ID, amount, month)
		}
		if f.Customer.JoinedOn.After(f.Subscription.StartedOn) {
			t.Errorf("customer %d joined %s after their subscription started %s", f.Customer.ID, f.Customer.JoinedOn, f.Subscription.StartedOn)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if customers != opts.Customers || overages == 0 || plans == 0 {
		t.Errorf("read %d customers, %d plan charges, %d overage charges", customers, plans, overages)
	}
}

func TestGenerateSQLite(t *testing.T) {
	opts := Options{Customers: 300, Seed: 7, Now: testNow, Months: 6}
	db := dbtest.MustOpenSQLite(t)
	st := generate(t, db, opts)
	checkGenerated(t, db, st, opts)
	t.Logf("%+v", st)
}

func TestGeneratePostgres(t *testing.T) {
	opts := Options{Customers: 300, Seed: 7, Now: testNow, Months: 6}
	pg := dbtest.MustOpenPostgres(t)
	st := generate(t, pg, opts)
	checkGenerated(t, pg, st, opts)

	// The same rows as SQLite, value for value.
	lite := dbtest.MustOpenSQLite(t)
	if st2 := generate(t, lite, opts); st2 != st {
		t.Errorf("Stats differ: postgres %+v, sqlite %+v", st, st2)
	}
	sameRows(t, pg, lite)
}

func TestDeterministic(t *testing.T) {
	tests := []struct {
		name string
		a, b Options
		same bool
	}{
		{"same seed", Options{Customers: 200, Seed: 42, Now: testNow}, Options{Customers: 200, Seed: 42, Now: testNow, Months: DefaultMonths}, true},
		{"other seed", Options{Customers: 200, Seed: 42, Now: testNow}, Options{Customers: 200, Seed: 43, Now: testNow}, false},
		{"other clock", Options{Customers: 200, Seed: 42, Now: testNow}, Options{Customers: 200, Seed: 42, Now: testNow.AddDate(0, 0, 1)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := dbtest.MustOpenSQLite(t), dbtest.MustOpenSQLite(t)
			sa, sb := generate(t, a, tt.a), generate(t, b, tt.b)
			ca, cb := checksum(t, a), checksum(t, b)
			if same := ca == cb && sa == sb; same != tt.same {
				t.Errorf("checksums %s and %s (stats %+v, %+v): same = %v, want %v", ca, cb, sa, sb, same, tt.same)
			}
		})
	}
}

// TestCustomerIndependentOfN checks that a customer's rows do not depend on
// how many customers are generated.
func TestCustomerIndependentOfN(t *testing.T) {
	small, large := dbtest.MustOpenSQLite(t), dbtest.MustOpenSQLite(t)
	generate(t, small, Options{Customers: 50, Seed: 3, Now: testNow})
	generate(t, large, Options{Customers: 120, Seed: 3, Now: testNow})
	q := "SELECT customer_id, month, meter, quantity FROM usage WHERE customer_id <= 50 ORDER BY customer_id, month, meter"
	if a, b := dumpQuery(t, small, q, "idsi"), dumpQuery(t, large, q, "idsi"); a != b {
		t.Error("usage of customers 1..50 differs between 50 and 120 customers")
	}
}

func TestGenerateOptions(t *testing.T) {
	ctx := context.Background()
	db := dbtest.MustOpenSQLite(t)
	if err := billing.CreateSchema(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(ctx, db, Options{Customers: -1}); err == nil {
		t.Error("negative customers accepted")
	}
	st, err := Generate(ctx, db, Options{Customers: 0, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if st != (Stats{Plans: len(Catalogue())}) {
		t.Errorf("no customers: %+v", st)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Generate(cctx, dbtest.MustOpenSQLite(t), Options{Customers: 10, Now: testNow}); err == nil {
		t.Error("cancelled context: no error")
	}
}

func TestCatalogue(t *testing.T) {
	cat := Catalogue()
	if !slices.IsSortedFunc(cat, func(a, b rules.Plan) int { return strings.Compare(a.ID, b.ID) }) {
		t.Error("catalogue not ordered by id")
	}
	byID := map[string]rules.Plan{}
	available := 0
	for _, p := range cat {
		byID[p.ID] = p
		if p.Available {
			available++
		}
		if p.Currency != "GBP" || p.MonthlyPrice <= 0 || len(p.Allowances) == 0 {
			t.Errorf("plan %+v", p)
		}
	}
	if available != 6 {
		t.Errorf("%d available plans, want 6", available)
	}
	for _, id := range []string{"legacy-15", "legacy-20"} {
		if byID[id].Available {
			t.Errorf("%s is available", id)
		}
	}
	if _, ok := byID["sim-6"].Allowances[MeterRoaming]; ok {
		t.Error("sim-6 covers roaming")
	}
	if a := byID["sim-6"].Allowances[MeterMinutes]; a.Included != 300 || a.OverageRate.String() != "8.5" {
		t.Errorf("sim-6 minutes %+v", a)
	}
	if !byID["sim-25"].Allowances[MeterData].Unlimited {
		t.Error("sim-25 data is limited")
	}
	cat[0].Allowances["x"] = rules.Allowance{}
	if _, ok := Catalogue()[0].Allowances["x"]; ok {
		t.Error("Catalogue shares its maps")
	}
}

// TestDemoShape checks that the demo's 3,000 customers give the shipped
// rules work: overpaying customers, recent lost SIMs, first late fees of
// loyal customers. It evaluates the rules' conditions in Go.
func TestDemoShape(t *testing.T) {
	if testing.Short() {
		t.Skip("demo-sized data skipped in short mode")
	}
	opts := Options{Customers: 3000, Seed: 1, Now: testNow}
	db := dbtest.MustOpenSQLite(t)
	start := time.Now()
	st := generate(t, db, opts)
	t.Logf("generated %+v in %v", st, time.Since(start).Round(time.Millisecond))

	ctx := context.Background()
	rd := &billing.Reader{DB: db}
	cat, err := rd.Catalogue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	days := func(a, b time.Time) int { return int(b.Sub(a).Hours() / 24) }
	today := time.Date(testNow.Year(), testNow.Month(), testNow.Day(), 0, 0, 0, 0, time.UTC)
	var overpaying, cheaper, lostSIM, refunds, lateFees, waivers, paidOff, contractEnding int
	_, err = rd.Read(ctx, billing.Range{}, testNow, cat, func(f rules.Facts) error {
		if q := rules.CheapestPlan(&f, 3); q != nil && q.MonthlySaving >= 100 {
			overpaying++
			if f.Subscription.ContractEndsOn.IsZero() || !f.Subscription.ContractEndsOn.After(today) {
				cheaper++
			}
		}
		for _, e := range f.Events {
			if (e.Kind == "sim_lost" || e.Kind == "sim_damaged") && days(e.OccurredAt, testNow) <= 30 {
				lostSIM++
				for _, c := range f.Charges {
					if c.Kind == "replacement_fee" && days(c.ChargedOn, today) <= 30 {
						refunds++
					}
				}
				break
			}
		}
		var fee *rules.Charge
		late2y, failed := 0, 0
		for i, c := range f.Charges {
			if c.Kind == "late_fee" {
				late2y++
				if fee == nil && !c.Waived && days(c.ChargedOn, today) <= 60 {
					fee = &f.Charges[i]
				}
			}
		}
		for _, e := range f.Events {
			if e.Kind == "payment_failed" && days(e.OccurredAt, testNow) <= 365 {
				failed++
			}
		}
		if late2y > 0 {
			lateFees++
		}
		if fee != nil && rules.YearsBetween(f.Customer.JoinedOn, testNow) >= 3 && late2y == 1 && failed <= 1 {
			waivers++
		}
		if f.Subscription.DeviceMonthly > 0 && !f.Subscription.DevicePaidOffOn.IsZero() && f.Subscription.DevicePaidOffOn.Before(today) {
			paidOff++
		}
		if d := days(today, f.Subscription.ContractEndsOn); d >= 10 && d <= 60 {
			contractEnding++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("overpaying %d (%.1f%%), cheaper-plan proposals %d, recent lost/damaged SIMs %d (replacement fees %d), customers with late fees %d, late-fee waivers %d, paid-off handsets still charged %d, contracts ending in 10-60 days %d",
		overpaying, 100*float64(overpaying)/float64(opts.Customers), cheaper, lostSIM, refunds, lateFees, waivers, paidOff, contractEnding)
	for _, c := range []struct {
		what    string
		got, lo int
		hi      int
	}{
		{"overpaying customers", overpaying, opts.Customers * 15 / 100, opts.Customers * 25 / 100},
		{"cheaper-plan proposals", cheaper, 200, 750},
		{"recent lost or damaged SIMs", lostSIM, 30, 100},
		{"replacement fees to refund", refunds, 10, 60},
		{"late-fee waivers", waivers, 20, 100},
		{"paid-off handsets still charged", paidOff, 10, 100},
		{"contracts ending soon", contractEnding, 20, 150},
	} {
		if c.got < c.lo || c.got > c.hi {
			t.Errorf("%s: %d, want %d..%d", c.what, c.got, c.lo, c.hi)
		}
	}
}

// dumpQueries select every billing relation's rows in a canonical order,
// with the kinds of their columns (see dump).
var dumpQueries = []struct{ table, query, kinds string }{
	{"customers", "SELECT id, name, email, phone, locale, timezone, joined_on, segment, marketing_opt_in, contact_opt_out, attrs FROM customers ORDER BY id", "isssssdsbbj"},
	{"plans", "SELECT id, name, monthly_price, currency, available, attrs FROM plans ORDER BY id", "ssisbj"},
	{"plan_allowances", "SELECT plan_id, meter, included, overage_rate FROM plan_allowances ORDER BY plan_id, meter", "ssir"},
	{"subscriptions", "SELECT customer_id, plan_id, started_on, contract_ends_on, device_monthly, device_paid_off_on FROM subscriptions ORDER BY customer_id", "isddid"},
	{"addons", "SELECT customer_id, addon_id, name, monthly_price, started_on, last_used_on FROM addons ORDER BY customer_id, addon_id", "issidd"},
	{"usage", "SELECT customer_id, month, meter, quantity FROM usage ORDER BY customer_id, month, meter", "idsi"},
	{"charges", "SELECT id, customer_id, charged_on, kind, amount, waived FROM charges ORDER BY id", "iidsib"},
	{"events", "SELECT id, customer_id, occurred_at, kind, attrs FROM events ORDER BY id", "iidsj"},
}

// checksum hashes every billing relation's rows in a canonical form that
// is the same for SQLite and PostgreSQL.
func checksum(t *testing.T, db *database.DB) string {
	t.Helper()
	h := sha256.New()
	for _, q := range dumpQueries {
		for _, line := range dump(t, db, q.query, q.kinds) {
			fmt.Fprintln(h, line)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// sameRows reports the first difference between the relations of two
// databases.
func sameRows(t *testing.T, a, b *database.DB) {
	t.Helper()
	for _, q := range dumpQueries {
		la, lb := dump(t, a, q.query, q.kinds), dump(t, b, q.query, q.kinds)
		for i := range max(len(la), len(lb)) {
			if i >= len(la) || i >= len(lb) || la[i] != lb[i] {
				t.Errorf("%s differ at row %d:\n %s: %s\n %s: %s", q.table, i, a.Dialect, at(la, i), b.Dialect, at(lb, i))
				break
			}
		}
	}
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(none)"
}

func dumpQuery(t *testing.T, db *database.DB, query, kinds string) string {
	t.Helper()
	return strings.Join(dump(t, db, query, kinds), "\n")
}

// dump returns the rows of a query, one line each, every value made
// canonical by its kind: i integer, s text, b boolean, d date or time,
// j JSON, r rate.
func dump(t *testing.T, db *database.DB, query, kinds string) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var lines []string
	vals := make([]any, len(kinds))
	times := make([]time.Time, len(kinds))
	ptrs := make([]any, len(kinds))
	for i, k := range kinds {
		if k == 'd' {
			ptrs[i] = database.Time(&times[i])
		} else {
			ptrs[i] = &vals[i]
		}
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		var line []string
		for i, k := range kinds {
			line = append(line, canonical(t, k, vals[i], times[i]))
		}
		lines = append(lines, strings.Join(line, "\t"))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return lines
}

func canonical(t *testing.T, kind rune, v any, tm time.Time) string {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	if v == nil && kind != 'd' {
		return "NULL"
	}
	switch kind {
	case 'd':
		if tm.IsZero() {
			return "NULL"
		}
		return tm.Format(time.DateTime)
	case 'b':
		switch x := v.(type) {
		case bool:
			return fmt.Sprint(x)
		case int64:
			return fmt.Sprint(x != 0)
		}
	case 'j':
		var m any
		if err := json.Unmarshal([]byte(v.(string)), &m); err != nil {
			t.Fatalf("attrs %q: %v", v, err)
		}
		return mustJSON(m)
	case 'r':
		r, err := rules.ParseRate(fmt.Sprint(v))
		if err != nil {
			t.Fatalf("rate %q: %v", v, err)
		}
		return r.String()
	}
	return fmt.Sprint(v)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func equalJSON(a, b any) bool { return mustJSON(a) == mustJSON(b) }
