package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/store"
)

// unconstrain recreates billing tables without their keys and NOT NULLs,
// as the views of a business's own billing schema would be.
func unconstrain(tb testing.TB, db *database.DB, tables ...string) {
	tb.Helper()
	for _, t := range tables {
		mustExec(tb, db,
			`CREATE TABLE loose AS SELECT * FROM `+t,
			`DROP TABLE `+t,
			`ALTER TABLE loose RENAME TO `+t)
	}
}

func mustExec(tb testing.TB, db *database.DB, stmts ...string) {
	tb.Helper()
	for _, s := range stmts {
		if _, err := db.ExecContext(context.Background(), s); err != nil {
			tb.Fatalf("%s: %v", s, err)
		}
	}
}

func TestBadCatalogueFailsTheRunBeforeAnyProposal(t *testing.T) {
	for _, tc := range []struct {
		name string
		bad  []string
		want string
	}{
		{"NULL overage rate",
			[]string{`UPDATE plan_allowances SET overage_rate = NULL WHERE plan_id = 'sim-15' AND meter = 'data_mb'`},
			`plan_allowances: plan "sim-15" meter "data_mb": overage_rate is NULL`},
		{"duplicated plan row",
			[]string{`INSERT INTO plans SELECT * FROM plans WHERE id = 'sim-10'`},
			`plans: plan "sim-10": duplicate row`},
		{"duplicated allowance row",
			[]string{`INSERT INTO plan_allowances SELECT * FROM plan_allowances WHERE plan_id = 'sim-6' AND meter = 'minutes'`},
			`plan_allowances: plan "sim-6" meter "minutes": duplicate row`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbtest.Dialects(t, func(t *testing.T, dsn string) {
				db := mustOpen(t, dsn)
				eng := mustSetup(t, db, 300)
				unconstrain(t, db, "plan_allowances", "plans")
				mustExec(t, db, tc.bad...)
				_, err := eng.Run(context.Background(), mustLoad(t, "../rulesets/mobile"), engine.Options{})
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("run error = %v, want it to name %s", err, tc.want)
				}
				ps, err := store.ListProposals(context.Background(), db, store.ProposalFilter{})
				if err != nil || len(ps) != 0 {
					t.Errorf("%d proposals recorded (%v), want none", len(ps), err)
				}
			})
		})
	}
}

func TestABadCustomerRowRefusesThatCustomerOnly(t *testing.T) {
	for _, tc := range []struct {
		name string
		bad  string
		want string
		// readAll reads every column: a run reads the customers' attrs
		// only when a rule can read them, and no shipped rule does.
		readAll bool
	}{
		{"negative usage",
			`UPDATE usage SET quantity = -5 WHERE customer_id = 42 AND month = '2026-08-01' AND meter = 'data_mb'`,
			`usage: customer 42 month 2026-08 meter data_mb: quantity -5 is negative`, false},
		{"NULL name",
			`UPDATE customers SET name = NULL WHERE id = 42`,
			`customers: customer 42: name is NULL`, false},
		// A missing join date is not a customer of 2,000 years: no tenure
		// rule (late-fee-waiver's years_since, or days_since as
		// docs/rules.md writes it) can match a customer it refuses.
		{"NULL joined_on",
			`UPDATE customers SET joined_on = NULL WHERE id = 42`,
			`customers: customer 42: joined_on is NULL`, false},
		{"attrs not a JSON object",
			`UPDATE customers SET attrs = '"gold"' WHERE id = 42`,
			`customers: customer 42: attrs is not a JSON object: json: cannot unmarshal string into Go value of type map[string]interface {}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbtest.Dialects(t, func(t *testing.T, dsn string) {
				ctx := context.Background()
				db := mustOpen(t, dsn)
				eng := mustSetup(t, db, 300)
				unconstrain(t, db, "customers")
				mustExec(t, db, tc.bad)
				if tc.readAll {
					res, err := eng.Run(ctx, mustLoad(t, "../rulesets/mobile"), engine.Options{DryRun: true})
					if err != nil || res.Refused != 0 || res.Customers != 300 {
						t.Fatalf("run of rules that read no attrs: %d customers, %d refused, %v; want 300 and none", res.Customers, res.Refused, err)
					}
				}
				res, err := eng.Run(ctx, mustLoad(t, "../rulesets/mobile"), engine.Options{ReadEverything: tc.readAll})
				if err != nil {
					t.Fatal(err)
				}
				want := []store.ErrorSample{{CustomerID: 42, Error: tc.want}}
				if res.Customers != 299 || res.Refused != 1 || len(res.Refusals) != 1 || res.Refusals[0] != want[0] || res.Proposals == 0 {
					t.Fatalf("run: %d customers, %d proposals, refused %d %+v; want 299 customers and %+v",
						res.Customers, res.Proposals, res.Refused, res.Refusals, want)
				}
				got, err := store.GetRun(ctx, db, res.ID)
				if err != nil || got.Refused != 1 || len(got.Refusals) != 1 || got.Refusals[0] != want[0] {
					t.Errorf("recorded run = %+v, %v; want the refusal", got, err)
				}
				ps, err := store.ListProposals(ctx, db, store.ProposalFilter{RunID: res.ID})
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range ps {
					if p.CustomerID == 42 {
						t.Errorf("refused customer 42 got proposal %s", p.RuleID)
					}
				}
			})
		})
	}
}
