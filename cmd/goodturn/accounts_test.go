package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
)

// execSQL runs one SQL statement on the database at dsn.
func execSQL(t *testing.T, dsn, stmt string) {
	t.Helper()
	db, err := database.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// TestCustomersByAccountNumber names customers by the business's account
// number on the command line and sees it wherever a customer is shown.
func TestCustomersByAccountNumber(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, db string) {
		code, out, errOut := run(t, "demo", "--db", db, "--rulesets", "../../rulesets", "--customers", "300", "--now", "2026-11-23")
		if code != 0 {
			t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
		}
		m := regexp.MustCompile(`── cheaper-plan, to customer (\d+) \(account (AC-\d{7})\), `).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("the demo's sample message does not show the account number:\n%s", out)
		}
		id, acct := m[1], m[2]
		at := []string{"--db", db, "--rulesets", "../../rulesets", "--now", "2026-11-23"}

		code, out, errOut = run(t, append([]string{"explain", "--customer", acct, "--rule", "cheaper-plan"}, at...)...)
		if code != 0 || !strings.HasPrefix(out, "Customer "+id+" (account "+acct+"), ") || !strings.Contains(out, "cheaper-plan: MATCHES") {
			t.Errorf("explain --customer %s: %d\n%s\n%s", acct, code, out, errOut)
		}
		if code, _, errOut := run(t, append([]string{"explain", "--customer", "AC-9999999"}, at...)...); code != 1 || !strings.Contains(errOut, "no such customer") {
			t.Errorf("explain of an unknown account: %d %s", code, errOut)
		}

		code, out, _ = run(t, "review", "show", "1/cheaper-plan", "--limit", "1", "--db", db, "--now", "2026-11-23")
		p := regexp.MustCompile(`(?m)^\s+(\d+)\s+\d+\s+£`).FindStringSubmatch(out)
		if p == nil {
			t.Fatalf("no proposal in\n%s", out)
		}
		code, out, _ = run(t, "review", "show", p[1], "--db", db, "--now", "2026-11-23")
		if code != 0 || !regexp.MustCompile(`^Proposal \d+: cheaper-plan \(cheaper_plan\) for customer \d+ \(account AC-\d{7}\), worth`).MatchString(out) {
			t.Errorf("review show %s does not show the account number:\n%s", p[1], out)
		}

		code, out, errOut = run(t, "suppress", "add", "--customer", acct, "--owner", "care", "--reason", "complaint open", "--db", db, "--now", "2026-11-23")
		if code != 0 || !strings.Contains(out, "customer "+id) {
			t.Errorf("suppress add --customer %s: %d %s %s", acct, code, out, errOut)
		}
		// With the demo's proposals gone, a dry run proposes again and
		// its samples show account numbers.
		execSQL(t, db, `DELETE FROM proposals`)
		code, out, _ = run(t, append([]string{"run", "--dry-run", "--ruleset", "mobile", "--now", "2026-11-23"}, at[:4]...)...)
		if code != 0 || !regexp.MustCompile(`(?m)^    customer \d+ \(account AC-\d{7}\): £`).MatchString(out) {
			t.Errorf("dry-run samples do not show account numbers: %d\n%s", code, out)
		}
		// An id not (yet) in the billing data may still be suppressed.
		if code, out, errOut := run(t, "suppress", "add", "--customer", "999999", "--owner", "care", "--reason", "x", "--db", db); code != 0 {
			t.Errorf("suppress add of an unknown id: %d %s %s", code, out, errOut)
		}
	})
}
