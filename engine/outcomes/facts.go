// Package outcomes measures what the good turns do: for each rule and each
// batch, the customers contacted (treated) against the rule's control group,
// how many took the offer within 30, 60 and 90 days, how many left within
// 90, and what each was billed over the 3 months after, each with a 95%
// interval (docs/outcomes.md). It reads the charges of the billing
// contract and its optional outcome relations, plan_changes and
// customers.left_on, and works without the optional ones: a figure whose
// data is absent says so.
package outcomes

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
)

// PlanChange is one row of plan_changes: a customer moved plans on a day.
type PlanChange struct {
	ChangedOn time.Time
	FromPlan  string
	ToPlan    string
}

// Facts are the business's outcome data.
type Facts struct {
	// HasPlanChanges and HasLeftOn report whether the billing database
	// supplies plan_changes and customers.left_on.
	HasPlanChanges bool
	HasLeftOn      bool
	// Changes holds each customer's plan changes, oldest first.
	Changes map[int64][]PlanChange
	// LeftOn holds the day each customer who left left.
	LeftOn map[int64]time.Time
	// Billed holds, for each customer with charges on or after the day
	// read from, what they were billed each day: the sum of the charges
	// not waived (credits negative), oldest first.
	Billed map[int64][]Bill
	// Currency is the currency of every plan, or "" when the catalogue
	// has several; then CustomerCurrency holds each customer's, from
	// their current subscription's plan.
	Currency         string
	CustomerCurrency map[int64]string
}

// Bill is what a customer was billed on a day, in minor units.
type Bill struct {
	On     time.Time
	Amount int64
	// Unknown reports a charge that day whose amount or waived is NULL:
	// what the customer was billed is not known, so revenue leaves out a
	// customer with such a day in their window (and counts them) rather
	// than reading the row as nothing.
	Unknown bool
}

// currencyOf returns the currency a customer is billed in, or "" if
// unknown.
func (f *Facts) currencyOf(id int64) string {
	if f.Currency != "" {
		return f.Currency
	}
	return f.CustomerCurrency[id]
}

// HasRelation reports whether the database has a table or view of that
// name, where queries find it (PostgreSQL's search_path).
func HasRelation(ctx context.Context, db *database.DB, name string) (bool, error) {
	var n int
	var err error
	if db.IsPostgres() {
		err = db.QueryRowContext(ctx, `SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relname = $1 AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND n.nspname = ANY (current_schemas(false))`, name).Scan(&n)
	} else {
		err = db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = ? AND type IN ('table', 'view')`, name).Scan(&n)
	}
	if err != nil {
		return false, fmt.Errorf("look for %s: %w", name, err)
	}
	return n > 0, nil
}

// HasColumn reports whether a relation has a column.
func HasColumn(ctx context.Context, db *database.DB, relation, column string) (bool, error) {
	var n int
	var err error
	if db.IsPostgres() {
		err = db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.columns
			WHERE table_name = $1 AND column_name = $2 AND table_schema = ANY (current_schemas(false))`, relation, column).Scan(&n)
	} else {
		err = db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, relation, column).Scan(&n)
	}
	if err != nil {
		return false, fmt.Errorf("look for %s.%s: %w", relation, column, err)
	}
	return n > 0, nil
}

// Scope is what of the outcome data ReadFacts reads: the days from Since
// to Until, both included, of the customers in Customers, or of every
// customer when Customers is nil.
type Scope struct {
	Since, Until time.Time
	Customers    map[int64]bool
}

func (sc Scope) has(id int64) bool { return sc.Customers == nil || sc.Customers[id] }

// ReadFacts reads from the billing database what the scope's customers did
// in its days: the charges billed (for revenue) and the plans' currencies,
// and the plan changes and departures, each of those two only if the
// database supplies it. The rows of other customers stream past unkept.
func ReadFacts(ctx context.Context, db *database.DB, sc Scope) (*Facts, error) {
	f := &Facts{Changes: map[int64][]PlanChange{}, LeftOn: map[int64]time.Time{}, Billed: map[int64][]Bill{},
		CustomerCurrency: map[int64]string{}}
	var err error
	if f.HasPlanChanges, err = HasRelation(ctx, db, "plan_changes"); err != nil {
		return nil, err
	}
	if f.HasLeftOn, err = HasColumn(ctx, db, "customers", "left_on"); err != nil {
		return nil, err
	}
	day, until := database.Date(sc.Since), database.Date(sc.Until)
	if f.HasPlanChanges {
		rows, err := db.QueryContext(ctx, db.Rebind(`SELECT customer_id, changed_on, from_plan_id, to_plan_id FROM plan_changes
			WHERE changed_on >= ? AND changed_on <= ? ORDER BY customer_id, changed_on`), day, until)
		if err != nil {
			return nil, fmt.Errorf("read plan_changes: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var c PlanChange
			var from, to sql.NullString
			if err := rows.Scan(&id, database.Time(&c.ChangedOn), &from, &to); err != nil {
				return nil, fmt.Errorf("read plan_changes: %w", err)
			}
			if !sc.has(id) {
				continue
			}
			c.FromPlan, c.ToPlan = from.String, to.String
			f.Changes[id] = append(f.Changes[id], c)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read plan_changes: %w", err)
		}
		for _, cs := range f.Changes {
			sort.SliceStable(cs, func(a, b int) bool { return cs[a].ChangedOn.Before(cs[b].ChangedOn) })
		}
	}
	if f.HasLeftOn {
		rows, err := db.QueryContext(ctx, db.Rebind(`SELECT id, left_on FROM customers WHERE left_on IS NOT NULL AND left_on >= ? AND left_on <= ?`), day, until)
		if err != nil {
			return nil, fmt.Errorf("read customers.left_on: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var on time.Time
			if err := rows.Scan(&id, database.Time(&on)); err != nil {
				return nil, fmt.Errorf("read customers.left_on: %w", err)
			}
			if sc.has(id) {
				f.LeftOn[id] = on
			}
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read customers.left_on: %w", err)
		}
	}
	if err := f.readBilled(ctx, db, sc); err != nil {
		return nil, err
	}
	if err := f.readCurrencies(ctx, db, sc); err != nil {
		return nil, err
	}
	return f, nil
}

// readBilled reads what each of the scope's customers was billed on each
// of its days: the charges not waived, summed per customer and day by the
// database.
func (f *Facts) readBilled(ctx context.Context, db *database.DB, sc Scope) error {
	rows, err := db.QueryContext(ctx, db.Rebind(`SELECT customer_id, charged_on,
			SUM(CASE WHEN waived THEN 0 ELSE amount END),
			SUM(CASE WHEN amount IS NULL OR waived IS NULL THEN 1 ELSE 0 END)
		FROM charges WHERE charged_on >= ? AND charged_on <= ? GROUP BY customer_id, charged_on ORDER BY customer_id, charged_on`),
		database.Date(sc.Since), database.Date(sc.Until))
	if err != nil {
		return fmt.Errorf("read charges: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, bad int64
		var b Bill
		var amount sql.NullInt64
		if err := rows.Scan(&id, database.Time(&b.On), &amount, &bad); err != nil {
			return fmt.Errorf("read charges: %w", err)
		}
		if !sc.has(id) {
			continue
		}
		b.Amount, b.Unknown = amount.Int64, bad > 0
		f.Billed[id] = append(f.Billed[id], b)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read charges: %w", err)
	}
	return nil
}

// readCurrencies finds the currency customers are billed in: the
// catalogue's one, or, when it has several, each of the scope's customers'
// current plan's.
func (f *Facts) readCurrencies(ctx context.Context, db *database.DB, sc Scope) error {
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT currency FROM plans WHERE currency IS NOT NULL ORDER BY currency`)
	if err != nil {
		return fmt.Errorf("read plans' currencies: %w", err)
	}
	var cs []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return fmt.Errorf("read plans' currencies: %w", err)
		}
		cs = append(cs, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read plans' currencies: %w", err)
	}
	if len(cs) <= 1 {
		if len(cs) == 1 {
			f.Currency = cs[0]
		}
		return nil
	}
	// The latest started_on is the current subscription (billing-data.md).
	rows, err = db.QueryContext(ctx, `SELECT s.customer_id, p.currency FROM subscriptions s JOIN plans p ON p.id = s.plan_id
		ORDER BY s.customer_id, s.started_on`)
	if err != nil {
		return fmt.Errorf("read customers' currencies: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var c sql.NullString
		if err := rows.Scan(&id, &c); err != nil {
			return fmt.Errorf("read customers' currencies: %w", err)
		}
		if sc.has(id) {
			f.CustomerCurrency[id] = c.String
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read customers' currencies: %w", err)
	}
	return nil
}

// Load reads, from the billing database, the outcome facts of the units'
// customers from the earliest of their runs to now's day, and measures the
// units against them as of that day.
func Load(ctx context.Context, billingDB *database.DB, units []store.OutcomeUnit, now time.Time) (*Report, error) {
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	sc := Scope{Since: now, Until: today, Customers: make(map[int64]bool, len(units))}
	for _, u := range units {
		if u.AsOf.Before(sc.Since) {
			sc.Since = u.AsOf
		}
		sc.Customers[u.CustomerID] = true
	}
	facts, err := ReadFacts(ctx, billingDB, sc)
	if err != nil {
		return nil, err
	}
	return Build(units, facts, today), nil
}
