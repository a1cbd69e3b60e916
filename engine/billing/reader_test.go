package billing_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/rules"
)

// now is the clock of the tests: usage covers May to October 2026.
var now = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// looseSchema is the billing DDL without the constraints that would keep
// bad rows out: a business's views enforce none of them.
func looseSchema(d database.Dialect) string {
	s := billing.SchemaSQL(d)
	s = regexp.MustCompile(`(?m)^\s*PRIMARY KEY \([^)]*\)\n`).ReplaceAllString(s, "")
	s = regexp.MustCompile(`,(\s*\n\);)`).ReplaceAllString(s, "$1")
	for _, c := range []string{" NOT NULL", " PRIMARY KEY", " REFERENCES plans (id)"} {
		s = strings.ReplaceAll(s, c, "")
	}
	return s
}

// fixture is three customers on two plans with six months of usage, a
// charge and an event each, in tables that accept bad rows.
const fixture = `
INSERT INTO plans VALUES ('sim-6', 'SIM 6', 600, 'GBP', TRUE, NULL);
INSERT INTO plans VALUES ('sim-15', 'SIM 15', 1500, 'GBP', TRUE, '{"tier": "gold"}');
INSERT INTO plan_allowances VALUES ('sim-6', 'data_mb', 1536, '0.5');
INSERT INTO plan_allowances VALUES ('sim-6', 'minutes', 300, '8.5');
INSERT INTO plan_allowances VALUES ('sim-15', 'data_mb', 20480, '0.2');
INSERT INTO plan_allowances VALUES ('sim-15', 'minutes', NULL, '0');
INSERT INTO customers VALUES (1, 'Ann', 'ann@example.com', '', 'en-GB', 'Europe/London', '2020-01-05', 'consumer', TRUE, FALSE, NULL, 'AC-0000001');
INSERT INTO customers VALUES (2, 'Bob', '', '', 'en-GB', 'Europe/London', '2021-03-01', 'consumer', FALSE, FALSE, '{"vip": true}', NULL);
INSERT INTO customers VALUES (3, 'Cat', '', '+447700900123', 'cy-GB', 'Europe/London', '2019-07-20', '', TRUE, FALSE, NULL, '8919-QRXDB');
INSERT INTO subscriptions VALUES (1, 'sim-15', '2024-01-01', NULL, 0, NULL);
INSERT INTO subscriptions VALUES (2, 'sim-6', '2025-06-01', '2027-06-01', 1200, NULL);
INSERT INTO subscriptions VALUES (3, 'sim-6', '2023-02-01', NULL, 0, '2024-02-01');
INSERT INTO addons VALUES (2, 'roam-eu', 'Roam EU', 300, '2025-06-01', NULL);
INSERT INTO usage VALUES (1, '2026-09-01', 'data_mb', 900);
INSERT INTO usage VALUES (1, '2026-10-01', 'data_mb', 1000);
INSERT INTO usage VALUES (1, '2026-10-01', 'minutes', 100);
INSERT INTO usage VALUES (2, '2026-10-01', 'data_mb', 3000);
INSERT INTO usage VALUES (3, '2026-10-01', 'data_mb', 100);
INSERT INTO charges VALUES (1, 1, '2026-10-01', 'plan', 1500, FALSE);
INSERT INTO charges VALUES (2, 2, '2026-10-01', 'plan', 600, FALSE);
INSERT INTO charges VALUES (3, 2, '2026-10-02', 'refund', -200, FALSE);
INSERT INTO events VALUES (1, 3, '2026-11-01 09:00:00', 'sim_lost', '{"where": "bus"}');
`

// open creates the loose billing tables with the fixture and then the
// statements given, and returns a reader over them.
func open(t *testing.T, dsn string, stmts ...string) *billing.Reader {
	t.Helper()
	ctx := context.Background()
	db, err := database.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	all := strings.Split(looseSchema(db.Dialect)+";"+fixture, ";")
	for _, s := range append(all, stmts...) {
		if strings.TrimSpace(stripComments(s)) == "" {
			continue
		}
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return &billing.Reader{DB: db}
}

func stripComments(s string) string {
	return regexp.MustCompile(`(?m)^\s*--.*$`).ReplaceAllString(s, "")
}

func TestCatalogueReadsTheFixture(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		cat, err := open(t, dsn).Catalogue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(cat) != 2 || cat[0].ID != "sim-15" || cat[1].ID != "sim-6" {
			t.Fatalf("catalogue = %+v", cat)
		}
		if a := cat[0].Allowances["minutes"]; !a.Unlimited {
			t.Errorf("NULL included read as %+v, want unlimited", a)
		}
		if a := cat[1].Allowances["minutes"]; a.Included != 300 || a.OverageRate != rules.MustParseRate("8.5") {
			t.Errorf("sim-6 minutes = %+v", a)
		}
	})
}

func TestCatalogueFailsNamingEveryProblem(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stmts []string
		want  []string
	}{
		{"NULL overage rate",
			[]string{`UPDATE plan_allowances SET overage_rate = NULL WHERE plan_id = 'sim-15' AND meter = 'data_mb'`},
			[]string{`plan_allowances: plan "sim-15" meter "data_mb": overage_rate is NULL`}},
		{"negative rate",
			[]string{`UPDATE plan_allowances SET overage_rate = -1 WHERE plan_id = 'sim-6' AND meter = 'minutes'`},
			[]string{`plan_allowances: plan "sim-6" meter "minutes": overage_rate -1 is negative`}},
		{"negative included",
			[]string{`UPDATE plan_allowances SET included = -100 WHERE plan_id = 'sim-6' AND meter = 'data_mb'`},
			[]string{`plan_allowances: plan "sim-6" meter "data_mb": included -100 is negative`}},
		{"duplicated allowance row",
			[]string{`INSERT INTO plan_allowances VALUES ('sim-6', 'data_mb', 1536, '0.5')`},
			[]string{`plan_allowances: plan "sim-6" meter "data_mb": duplicate row`}},
		{"duplicated plan row",
			[]string{`INSERT INTO plans VALUES ('sim-6', 'SIM 6', 600, 'GBP', TRUE, NULL)`},
			[]string{`plans: plan "sim-6": duplicate row`}},
		{"NULL and negative prices, NULL currency, all reported",
			[]string{`UPDATE plans SET monthly_price = NULL, currency = NULL WHERE id = 'sim-6'`,
				`UPDATE plans SET monthly_price = -1500 WHERE id = 'sim-15'`},
			[]string{`plans: plan "sim-15": monthly_price -1500 is negative`,
				`plans: plan "sim-6": monthly_price is NULL, currency is NULL`}},
		{"NULL plan id",
			[]string{`INSERT INTO plans VALUES (NULL, 'SIM 0', 0, 'GBP', TRUE, NULL)`},
			[]string{`plans: plan named "SIM 0": id is NULL`}},
		{"allowance of an unknown plan",
			[]string{`INSERT INTO plan_allowances VALUES ('sim-99', 'data_mb', 1, '1')`},
			[]string{`plan_allowances: plan "sim-99" meter "data_mb": plan "sim-99" is not in plans`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbtest.Dialects(t, func(t *testing.T, dsn string) {
				cat, err := open(t, dsn, tc.stmts...).Catalogue(context.Background())
				var ce *billing.CatalogueError
				if !errors.As(err, &ce) {
					t.Fatalf("Catalogue = %d plans, %v; want a CatalogueError", len(cat), err)
				}
				if !slices.Equal(ce.Problems, tc.want) {
					t.Errorf("problems:\n got %q\nwant %q", ce.Problems, tc.want)
				}
			})
		})
	}
}

// readAll reads every customer and returns the ids handed over and the
// stats.
func readAll(t *testing.T, r *billing.Reader) ([]int64, billing.Stats) {
	t.Helper()
	ctx := context.Background()
	cat, err := r.Catalogue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	st, err := r.Read(ctx, billing.Range{}, now, cat, func(f rules.Facts) error {
		ids = append(ids, f.Customer.ID)
		return nil
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return ids, st
}

func TestReadRefusesTheCustomerOfABadRowOnly(t *testing.T) {
	type tc struct {
		name   string
		stmts  []string
		refuse int64
		reason string
	}
	cases := []tc{
		{"negative usage", []string{`UPDATE usage SET quantity = -5 WHERE customer_id = 2`},
			2, `usage: customer 2 month 2026-10 meter data_mb: quantity -5 is negative`},
		{"NULL usage quantity", []string{`UPDATE usage SET quantity = NULL WHERE customer_id = 1 AND meter = 'minutes'`},
			1, `usage: customer 1 month 2026-10 meter minutes: quantity is NULL`},
		{"NULL usage meter", []string{`UPDATE usage SET meter = NULL WHERE customer_id = 3`},
			3, `usage: customer 3 month 2026-10 meter is NULL`},
		{"duplicated usage row", []string{`INSERT INTO usage VALUES (1, '2026-09-01', 'data_mb', 900)`},
			1, `usage: customer 1 month 2026-09 meter data_mb: duplicate row`},
		{"NULL name", []string{`UPDATE customers SET name = NULL WHERE id = 2`},
			2, `customers: customer 2: name is NULL`},
		{"NULL opt-out and locale", []string{`UPDATE customers SET contact_opt_out = NULL, locale = NULL WHERE id = 3`},
			3, `customers: customer 3: locale is NULL, contact_opt_out is NULL`},
		{"NULL joined_on", []string{`UPDATE customers SET joined_on = NULL WHERE id = 1`},
			1, `customers: customer 1: joined_on is NULL`},
		{"attrs not a JSON object", []string{`UPDATE customers SET attrs = '[1, 2]' WHERE id = 2`},
			2, `customers: customer 2: attrs is not a JSON object: json: cannot unmarshal array into Go value of type map[string]interface {}`},
		{"duplicated customer row", []string{`INSERT INTO customers VALUES (3, 'Cat', '', '', 'cy-GB', 'Europe/London', '2019-07-20', '', TRUE, FALSE, NULL, NULL)`},
			3, `customers: customer 3: duplicate row`},
		{"NULL plan id", []string{`UPDATE subscriptions SET plan_id = NULL WHERE customer_id = 1`},
			1, `subscriptions: customer 1: plan_id is NULL`},
		{"negative handset instalment", []string{`UPDATE subscriptions SET device_monthly = -1200 WHERE customer_id = 2`},
			2, `subscriptions: customer 2: device_monthly -1200 is negative`},
		{"NULL add-on price", []string{`UPDATE addons SET monthly_price = NULL WHERE customer_id = 2`},
			2, `addons: customer 2 addon "roam-eu": monthly_price is NULL`},
		{"duplicated add-on row", []string{`INSERT INTO addons VALUES (2, 'roam-eu', 'Roam EU', 300, '2025-06-01', NULL)`},
			2, `addons: customer 2 addon "roam-eu": duplicate row`},
		{"NULL charge amount", []string{`UPDATE charges SET amount = NULL WHERE id = 1`},
			1, `charges: customer 1 charge 1: amount is NULL`},
		{"NULL event kind", []string{`UPDATE events SET kind = NULL WHERE id = 1`},
			3, `events: customer 3 event 1: kind is NULL`},
	}
	sqliteOnly := []tc{
		{"bad JSON", []string{`UPDATE customers SET attrs = '{"vip": true' WHERE id = 2`},
			2, `customers: customer 2: attrs is not a JSON object: unexpected end of JSON input`},
		{"bad date", []string{`UPDATE subscriptions SET started_on = '2025-02-30' WHERE customer_id = 3`},
			3, `subscriptions: customer 3: started_on: cannot read "2025-02-30" as a time`},
		{"text quantity", []string{`UPDATE usage SET quantity = 'lots' WHERE customer_id = 3`},
			3, `usage: customer 3 month 2026-10 meter data_mb: quantity lots is not a whole number`},
	}
	run := func(t *testing.T, dsn string, c tc) {
		ids, st := readAll(t, open(t, dsn, c.stmts...))
		want := slices.DeleteFunc([]int64{1, 2, 3}, func(id int64) bool { return id == c.refuse })
		if !slices.Equal(ids, want) {
			t.Errorf("customers read %v, want %v", ids, want)
		}
		wantRf := []billing.Refusal{{CustomerID: c.refuse, Reason: c.reason}}
		if st.Customers != 2 || st.Refused != 1 || !slices.Equal(st.Refusals, wantRf) {
			t.Errorf("stats = %+v, want 2 customers and refused %+v", st, wantRf)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dbtest.Dialects(t, func(t *testing.T, dsn string) { run(t, dsn, c) })
		})
	}
	for _, c := range sqliteOnly {
		t.Run(c.name, func(t *testing.T) { run(t, dbtest.SQLiteDSN(t), c) })
	}
}

func TestReadTakesWhatTheContractAllows(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		r := open(t, dsn,
			`UPDATE customers SET email = NULL, phone = NULL, segment = NULL WHERE id = 1`,
			`UPDATE charges SET amount = -300 WHERE id = 2`, // a credit
			`INSERT INTO usage VALUES (3, '2026-10-01', 'minutes', 0)`)
		var got []rules.Facts
		ctx := context.Background()
		cat, err := r.Catalogue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st, err := r.Read(ctx, billing.Range{}, now, cat, func(f rules.Facts) error {
			got = append(got, f)
			return nil
		})
		if err != nil || st.Customers != 3 || st.Refused != 0 {
			t.Fatalf("Read = %+v, %v; want 3 customers, none refused", st, err)
		}
		if c := got[0].Customer; c.Email != "" || c.Phone != "" || c.Segment != "" {
			t.Errorf("customer 1 = %+v, want NULL email, phone and segment read as none", c)
		}
		if got[1].Charges[1].Amount != -300 || len(got[1].Addons) != 1 {
			t.Errorf("customer 2 = %+v %+v", got[1].Charges, got[1].Addons)
		}
		if u := got[0].Usage; len(u) != 2 || u[0]["data_mb"] != 1000 || u[0]["minutes"] != 100 || u[1]["data_mb"] != 900 {
			t.Errorf("customer 1 usage = %v", u)
		}
	})
}

func TestReadKeepsAFewRefusalsAndReportsEvery(t *testing.T) {
	var stmts []string
	for i := 10; i < 20; i++ {
		stmts = append(stmts, strings.ReplaceAll(
			`INSERT INTO customers VALUES (ID, NULL, '', '', 'en-GB', 'Europe/London', '2020-01-05', '', TRUE, FALSE, NULL, NULL)`,
			"ID", string(rune('0'+i/10))+string(rune('0'+i%10))))
	}
	r := open(t, dbtest.SQLiteDSN(t), stmts...)
	var all []billing.Refusal
	r.OnRefuse = func(rf billing.Refusal) { all = append(all, rf) }
	ids, st := readAll(t, r)
	if len(ids) != 3 || st.Refused != 10 || len(all) != 10 || !slices.Equal(st.Refusals, all[:billing.MaxRefusalSamples]) {
		t.Errorf("read %v, stats %+v, reported %d", ids, st, len(all))
	}
	if all[9].Reason != "customers: customer 19: name is NULL" {
		t.Errorf("last refusal %+v", all[9])
	}
}

func TestCustomerNamesWhatIsWrong(t *testing.T) {
	r := open(t, dbtest.SQLiteDSN(t), `UPDATE customers SET name = NULL WHERE id = 2`)
	_, err := r.Customer(context.Background(), 2)
	if err == nil || err.Error() != "read customer 2: customers: customer 2: name is NULL" {
		t.Errorf("Customer(2) = %v", err)
	}
	if c, err := r.Customer(context.Background(), 1); err != nil || c.Name != "Ann" {
		t.Errorf("Customer(1) = %+v, %v", c, err)
	}
}
