// Package outcomes measures what the good turns do: for each rule and each
// batch, the customers contacted (treated) against the rule's control group,
// how many took the offer within 30, 60 and 90 days and how many left
// within 90, each with a 95% interval (docs/outcomes.md). It reads the
// optional outcome relations of the billing contract, plan_changes and
// customers.left_on, and works without them: a figure whose data is absent
// says so.
package outcomes

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/goodturn/goodturn/engine/database"
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

// ReadFacts reads the plan changes and departures on or after since from
// the billing database, each only if the database supplies it.
func ReadFacts(ctx context.Context, db *database.DB, since time.Time) (*Facts, error) {
	f := &Facts{Changes: map[int64][]PlanChange{}, LeftOn: map[int64]time.Time{}}
	var err error
	if f.HasPlanChanges, err = HasRelation(ctx, db, "plan_changes"); err != nil {
		return nil, err
	}
	if f.HasLeftOn, err = HasColumn(ctx, db, "customers", "left_on"); err != nil {
		return nil, err
	}
	day := database.Date(since)
	if f.HasPlanChanges {
		rows, err := db.QueryContext(ctx, db.Rebind(`SELECT customer_id, changed_on, from_plan_id, to_plan_id FROM plan_changes
			WHERE changed_on >= ? ORDER BY customer_id, changed_on`), day)
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
		rows, err := db.QueryContext(ctx, db.Rebind(`SELECT id, left_on FROM customers WHERE left_on IS NOT NULL AND left_on >= ?`), day)
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
			f.LeftOn[id] = on
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read customers.left_on: %w", err)
		}
	}
	return f, nil
}
