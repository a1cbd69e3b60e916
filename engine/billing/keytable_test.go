package billing_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
)

// keyTableSQL returns the statements of docs/billing-data.md's key-table
// recipe, with its schemas dropped so that they run in the test's schema:
// the key table, the refresh and the customers view.
func keyTableSQL(t *testing.T) (create, refresh, view string) {
	t.Helper()
	doc, err := os.ReadFile("../../docs/billing-data.md")
	if err != nil {
		t.Fatal(err)
	}
	block := ""
	for _, m := range regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		if strings.Contains(m[1], "CREATE TABLE billing.account_keys") {
			block = m[1]
		}
	}
	if block == "" {
		t.Fatal("docs/billing-data.md has no key-table recipe")
	}
	block = strings.NewReplacer("billing.", "", "erp.", "").Replace(block)
	for _, stmt := range strings.Split(block, ";") {
		switch s := stripComments(stmt); {
		case strings.Contains(s, "CREATE TABLE"):
			create = s
		case strings.Contains(s, "INSERT INTO"):
			refresh = s
		case strings.Contains(s, "CREATE VIEW"):
			view = s
		}
	}
	if create == "" || refresh == "" || view == "" {
		t.Fatalf("the key-table recipe lacks a statement:\n%s", block)
	}
	return create, refresh, view
}

// TestDocumentedKeyTableKeepsKeysDense maps text account numbers through
// the documented key table on PostgreSQL, refreshes it three times and
// adds an account: the keys are 1 to 4, every refresh after the first adds
// nothing, and goodturn reads and finds the customers by account number.
func TestDocumentedKeyTableKeepsKeysDense(t *testing.T) {
	ctx := context.Background()
	db, err := database.Open(ctx, dbtest.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	create, refresh, view := keyTableSQL(t)
	exec := func(stmts ...string) {
		t.Helper()
		for _, s := range stmts {
			if _, err := db.ExecContext(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}
	if err := billing.CreateSchema(ctx, db); err != nil {
		t.Fatal(err)
	}
	exec(`DROP TABLE customers`, `CREATE TABLE acct (acct_no TEXT PRIMARY KEY, full_name TEXT, email_addr TEXT, msisdn TEXT, lang TEXT,
		opened DATE, closed DATE, acct_type CHAR(1), promo_ok CHAR(1), do_not_contact BOOLEAN, vip BOOLEAN)`)
	account := func(no, name string) string {
		return fmt.Sprintf(`INSERT INTO acct VALUES ('%s', '%s', '', '07700900123', 'en', '2019-04-01', NULL, 'C', 'Y', FALSE, FALSE)`, no, name)
	}
	exec(account("8919-QRXDB", "Ann"), account("0002-ABCDE", "Bob"), account("7590-VHVEG", "Cat"))
	exec(create, view)
	for i := 0; i < 3; i++ {
		exec(refresh)
	}
	exec(account("5575-GNVDE", "Dan"), refresh)

	keys := map[string]int64{}
	rows, err := db.QueryContext(ctx, `SELECT account_no, customer_id FROM account_keys ORDER BY customer_id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for rows.Next() {
		var no string
		var id int64
		if err := rows.Scan(&no, &id); err != nil {
			t.Fatal(err)
		}
		keys[no] = id
		got = append(got, id)
	}
	rows.Close()
	if fmt.Sprint(got) != "[1 2 3 4]" || keys["5575-GNVDE"] != 4 || keys["0002-ABCDE"] != 1 {
		t.Fatalf("keys after three refreshes and a new account = %v, want 1 to 4 with the new account 4", keys)
	}

	r := &billing.Reader{DB: db}
	id, err := r.FindCustomer(ctx, "8919-QRXDB")
	if err != nil || id != keys["8919-QRXDB"] {
		t.Fatalf("FindCustomer(8919-QRXDB) = %d, %v; want %d", id, err, keys["8919-QRXDB"])
	}
	if c, err := r.Customer(ctx, keys["5575-GNVDE"]); err != nil || c.AccountNo != "5575-GNVDE" || c.Name != "Dan" {
		t.Errorf("Customer(%d) = %+v, %v", keys["5575-GNVDE"], c, err)
	}
}
