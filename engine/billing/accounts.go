package billing

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// HasAccountNo reports whether the customers relation has the optional
// account_no column of the facts contract. A business's view may leave it
// out; every account number then reads as "".
func (r *Reader) HasAccountNo(ctx context.Context) (bool, error) {
	rows, err := r.DB.QueryContext(ctx, `SELECT account_no FROM customers WHERE 1 = 0`)
	if err == nil {
		rows.Close()
		return true, nil
	}
	if ctx.Err() != nil {
		return false, fmt.Errorf("read customers: %w", ctx.Err())
	}
	// Tell a missing column from a missing relation or a lost connection.
	rows, err = r.DB.QueryContext(ctx, `SELECT id FROM customers WHERE 1 = 0`)
	if err != nil {
		return false, fmt.Errorf("read customers: %w", err)
	}
	rows.Close()
	return false, nil
}

// ErrNoCustomer is FindCustomer's error when nobody has the id or account
// number given.
var ErrNoCustomer = errors.New("no such customer")

// FindCustomer returns the id of the customer a person named: by the
// business's account number (customers.account_no, compared as text) or
// by goodturn's integer customer id. A name that is both one customer's
// account number and another's id is an error, as is an account number
// that several customers share.
func (r *Reader) FindCustomer(ctx context.Context, name string) (int64, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return 0, fmt.Errorf("customer: want an id or an account number")
	}
	var byAccount []int64
	hasAcct, err := r.HasAccountNo(ctx)
	if err != nil {
		return 0, err
	}
	if hasAcct {
		rows, err := r.DB.QueryContext(ctx, r.DB.Rebind(`SELECT id FROM customers WHERE CAST(account_no AS TEXT) = ? ORDER BY id LIMIT 2`), name)
		if err != nil {
			return 0, fmt.Errorf("find customer %q: %w", name, err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return 0, fmt.Errorf("find customer %q: %w", name, err)
			}
			byAccount = append(byAccount, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, fmt.Errorf("find customer %q: %w", name, err)
		}
	}
	if len(byAccount) > 1 {
		return 0, fmt.Errorf("find customer %q: customers %d and %d have that account number", name, byAccount[0], byAccount[1])
	}
	byID := int64(-1)
	if id, err := strconv.ParseInt(name, 10, 64); err == nil && id >= 0 {
		var n int
		if err := r.DB.QueryRowContext(ctx, r.DB.Rebind(`SELECT COUNT(*) FROM customers WHERE id = ?`), id).Scan(&n); err != nil {
			return 0, fmt.Errorf("find customer %q: %w", name, err)
		}
		if n > 0 {
			byID = id
		}
	}
	switch {
	case len(byAccount) == 1 && byID >= 0 && byAccount[0] != byID:
		return 0, fmt.Errorf("find customer %q: it is customer %d's account number and customer %d's id", name, byAccount[0], byID)
	case len(byAccount) == 1:
		return byAccount[0], nil
	case byID >= 0:
		return byID, nil
	}
	if hasAcct {
		return 0, fmt.Errorf("customer %q: %w with that id or account number", name, ErrNoCustomer)
	}
	return 0, fmt.Errorf("customer %q: %w with that id (the customers relation has no account_no column)", name, ErrNoCustomer)
}
