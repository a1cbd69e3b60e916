package billing_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/rules"
)

// accountNos reads every customer's account number by id.
func accountNos(t *testing.T, r *billing.Reader) map[int64]string {
	t.Helper()
	ctx := context.Background()
	cat, err := r.Catalogue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]string{}
	if _, err := r.Read(ctx, billing.Range{}, now, cat, func(f rules.Facts) error {
		got[f.Customer.ID] = f.Customer.AccountNo
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestAccountNumbers(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		r := open(t, dsn,
			// Customer 4's account number is customer 1's id.
			`INSERT INTO customers VALUES (4, 'Dan', '', '', 'en-GB', 'Europe/London', '2020-01-05', '', TRUE, FALSE, NULL, '1')`)
		if got := accountNos(t, r); got[1] != "AC-0000001" || got[2] != "" || got[3] != "8919-QRXDB" {
			t.Errorf("account numbers read = %v", got)
		}
		if c, err := r.Customer(ctx, 3); err != nil || c.AccountNo != "8919-QRXDB" {
			t.Errorf("Customer(3) = %+v, %v", c, err)
		}
		for _, tc := range []struct {
			name string
			want int64
			err  string
		}{
			{"8919-QRXDB", 3, ""},
			{" AC-0000001 ", 1, ""},
			{"2", 2, ""},
			{"1", 0, "customer 4's account number and customer 1's id"},
			{"4", 4, ""},
			{"NOPE-1", 0, "no such customer with that id or account number"},
			{"99", 0, "no such customer"},
		} {
			id, err := r.FindCustomer(ctx, tc.name)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("FindCustomer(%q) = %d, %v; want error %q", tc.name, id, err, tc.err)
				}
				continue
			}
			if err != nil || id != tc.want {
				t.Errorf("FindCustomer(%q) = %d, %v; want %d", tc.name, id, err, tc.want)
			}
		}
	})
}

// TestAccountNumberColumnMayBeAbsent reads a customers relation without
// the optional account_no column, as a business's view may be.
func TestAccountNumberColumnMayBeAbsent(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		r := open(t, dsn, `ALTER TABLE customers DROP COLUMN account_no`)
		if ok, err := r.HasAccountNo(ctx); ok || err != nil {
			t.Fatalf("HasAccountNo = %v, %v", ok, err)
		}
		if got := accountNos(t, r); len(got) != 3 || got[1] != "" || got[3] != "" {
			t.Errorf("account numbers read = %v", got)
		}
		if c, err := r.Customer(ctx, 3); err != nil || c.Name != "Cat" {
			t.Errorf("Customer(3) = %+v, %v", c, err)
		}
		if id, err := r.FindCustomer(ctx, "3"); err != nil || id != 3 {
			t.Errorf("FindCustomer(3) = %d, %v", id, err)
		}
		if _, err := r.FindCustomer(ctx, "8919-QRXDB"); !errors.Is(err, billing.ErrNoCustomer) {
			t.Errorf("FindCustomer(8919-QRXDB) = %v, want ErrNoCustomer", err)
		}
	})
}
