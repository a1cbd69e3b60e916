package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
)

// execAll runs statements on a database.
func execAll(t *testing.T, dsn string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	db, err := database.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestDoctorAndRunNameBadBillingRows(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		if code, out, errOut := run(t, "demo", "--db", dsn, "--rulesets", "../../rulesets", "--customers", "200", "--now", "2026-11-23"); code != 0 {
			t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
		}
		code, out, errOut := run(t, "doctor", "--db", dsn, "--now", "2026-11-23")
		if code != 0 || !strings.Contains(out, "customers: 200 read, 0 refused.") || !strings.Contains(out, "OK:") {
			t.Fatalf("doctor of the demo exited %d\n%s\n%s", code, out, errOut)
		}

		execAll(t, dsn, `UPDATE usage SET quantity = -5 WHERE customer_id = 42 AND month = '2026-05-01' AND meter = 'data_mb'`)
		const usageProblem = "usage: customer 42 month 2026-05 meter data_mb: quantity -5 is negative"
		code, out, errOut = run(t, "run", "--db", dsn, "--rulesets", "../../rulesets", "--now", "2026-11-24")
		if code != 0 || !strings.Contains(out, "refused 1 customer whose billing rows break the facts contract") ||
			!strings.Contains(out, "    "+usageProblem+"\n") || !strings.Contains(out, ": 199 customers in") {
			t.Fatalf("run exited %d\n%s\n%s", code, out, errOut)
		}
		id := regexp.MustCompile(`Run (\d+) of ruleset mobile`).FindStringSubmatch(out)
		if id == nil {
			t.Fatalf("no run of mobile in:\n%s", out)
		}
		code, out, _ = run(t, "runs", "show", id[1], "--db", dsn)
		if code != 0 || !strings.Contains(out, "refused 1 customer") || !strings.Contains(out, usageProblem) {
			t.Errorf("runs show %s exited %d without the refusal:\n%s", id[1], code, out)
		}

		execAll(t, dsn, `UPDATE plan_allowances SET included = -100 WHERE plan_id = 'sim-10' AND meter = 'minutes'`)
		code, out, errOut = run(t, "doctor", "--db", dsn, "--now", "2026-11-23")
		for _, want := range []string{
			"plans and plan_allowances: 1 problem, so every run fails before any proposal:\n" +
				`  plan_allowances: plan "sim-10" meter "minutes": included -100 is negative` + "\n",
			"customers: 200 read, 1 refused (runs skip them):\n  " + usageProblem + "\n",
			"FAILED: 2 problems",
		} {
			if code != 1 || !strings.Contains(out, want) {
				t.Errorf("doctor exited %d, want 1 and %q:\n%s\n%s", code, want, out, errOut)
			}
		}
		code, out, errOut = run(t, "run", "--db", dsn, "--rulesets", "../../rulesets", "--now", "2026-11-25")
		if code != 1 || !strings.Contains(errOut, `plan_allowances: plan "sim-10" meter "minutes": included -100 is negative`) {
			t.Errorf("run over a bad catalogue exited %d\n%s\n%s", code, out, errOut)
		}
	})
}

func TestDoctorDoesNotCreateADatabase(t *testing.T) {
	code, _, errOut := run(t, "doctor", "--db", t.TempDir()+"/missing.db")
	if code != 1 || !strings.Contains(errOut, "no such database") {
		t.Errorf("doctor of a missing file exited %d: %s", code, errOut)
	}
}
