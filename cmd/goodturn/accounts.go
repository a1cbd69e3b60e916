package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
)

// findCustomer reads a --customer flag: the business's account number
// (customers.account_no) or goodturn's customer id. With lenient, an id
// that is not (yet) in the billing data is taken as it is.
func findCustomer(ctx context.Context, bdb *database.DB, name string, lenient bool) (int64, error) {
	id, err := (&billing.Reader{DB: bdb}).FindCustomer(ctx, name)
	if err == nil {
		return id, nil
	}
	if n, perr := strconv.ParseInt(name, 10, 64); lenient && perr == nil && n > 0 && errors.Is(err, billing.ErrNoCustomer) {
		return n, nil
	}
	return 0, fmt.Errorf("--customer: %w", err)
}

// customerLabel names a customer for people: "customer 41 (account
// AC-0000041)", or "customer 41" when they have no account number.
func customerLabel(id int64, accountNo string) string {
	return "customer " + strconv.FormatInt(id, 10) + accountSuffix(accountNo)
}

// accountSuffix is " (account AC-0000041)", or "" for no account number.
func accountSuffix(accountNo string) string {
	if accountNo == "" {
		return ""
	}
	return " (account " + accountNo + ")"
}

// accountNo reads a customer's account number from the billing data; ""
// when they have none or cannot be read (showing a proposal does not
// depend on it).
func accountNo(ctx context.Context, bdb *database.DB, id int64) string {
	c, err := (&billing.Reader{DB: bdb}).Customer(ctx, id)
	if err != nil {
		return ""
	}
	return c.AccountNo
}
