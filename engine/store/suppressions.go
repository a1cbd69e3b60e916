package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/goodturn/goodturn/engine/database"
)

// Suppression keeps a customer, or a segment, from a rule, a ruleset's
// rules or every rule, until it expires.
type Suppression struct {
	ID int64
	// CustomerID is the customer suppressed, or 0 for a whole segment.
	CustomerID int64
	// Segment is the segment suppressed when CustomerID is 0.
	Segment string
	// Ruleset and RuleID narrow the suppression; empty means all.
	Ruleset string
	RuleID  string
	Owner   string
	Reason  string
	Created time.Time
	// ExpiresOn is the first day the suppression no longer applies; zero
	// means never.
	ExpiresOn time.Time
}

// Describe says why the suppression was made, and by whom: "complaint
// open (by ana)".
func (s Suppression) Describe() string { return fmt.Sprintf("%s (by %s)", s.Reason, s.Owner) }

// Covers reports whether the suppression applies to a customer in a segment
// for a rule on a day.
func (s Suppression) Covers(customer int64, segment, ruleset, rule string, today time.Time) bool {
	if !s.ExpiresOn.IsZero() && !today.Before(s.ExpiresOn) {
		return false
	}
	if s.CustomerID != 0 && s.CustomerID != customer {
		return false
	}
	if s.CustomerID == 0 && s.Segment != segment {
		return false
	}
	if s.Ruleset != "" && s.Ruleset != ruleset {
		return false
	}
	return s.RuleID == "" || s.RuleID == rule
}

// AddSuppression stores a suppression and sets its ID.
func AddSuppression(ctx context.Context, db database.Querier, s *Suppression) error {
	if (s.CustomerID == 0) == (s.Segment == "") {
		return errors.New("add suppression: give a customer or a segment, not both")
	}
	if s.Owner == "" || s.Reason == "" {
		return errors.New("add suppression: an owner and a reason are required")
	}
	var customer, expires any
	if s.CustomerID != 0 {
		customer = s.CustomerID
	}
	if !s.ExpiresOn.IsZero() {
		expires = database.Date(s.ExpiresOn)
	}
	err := db.QueryRowContext(ctx, db.Rebind(
		`INSERT INTO suppressions (customer_id, segment, ruleset, rule_id, owner, reason, created_at, expires_on)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		customer, s.Segment, s.Ruleset, s.RuleID, s.Owner, s.Reason, s.Created.UTC(), expires).Scan(&s.ID)
	if err != nil {
		return fmt.Errorf("add suppression: %w", err)
	}
	return nil
}

// ListSuppressions returns the suppressions, active on the day given (or
// all when it is zero), by id.
func ListSuppressions(ctx context.Context, db database.Querier, activeOn time.Time) ([]Suppression, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, customer_id, segment, ruleset, rule_id, owner, reason, created_at, CAST(expires_on AS TEXT)
		FROM suppressions ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list suppressions: %w", err)
	}
	defer rows.Close()
	var out []Suppression
	for rows.Next() {
		var s Suppression
		var customer sql.NullInt64
		if err := rows.Scan(&s.ID, &customer, &s.Segment, &s.Ruleset, &s.RuleID, &s.Owner, &s.Reason,
			database.Time(&s.Created), database.Time(&s.ExpiresOn)); err != nil {
			return nil, fmt.Errorf("list suppressions: %w", err)
		}
		s.CustomerID = customer.Int64
		if !activeOn.IsZero() && !s.ExpiresOn.IsZero() && !activeOn.Before(s.ExpiresOn) {
			continue
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// RemoveSuppression deletes a suppression.
func RemoveSuppression(ctx context.Context, db database.Querier, id int64) error {
	res, err := db.ExecContext(ctx, db.Rebind(`DELETE FROM suppressions WHERE id = ?`), id)
	if err != nil {
		return fmt.Errorf("remove suppression %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("suppression %d: %w", id, ErrNotFound)
	}
	return nil
}

// RecentContacts counts, per customer, the proposals made on or after since
// that were not rejected, held back, withdrawn or made by a failed run
// (see withdrawRun): what the frequency cap counts.
func RecentContacts(ctx context.Context, db database.Querier, since time.Time, purposeOf func(ruleset, rule string) string, excludeRuns ...int64) (map[int64]int, error) {
	rows, err := db.QueryContext(ctx, db.Rebind(
		`SELECT customer_id, ruleset, rule_id FROM proposals WHERE as_of >= ? AND status NOT IN ('rejected', 'held', 'control')`+notFailed+notInRuns(excludeRuns)), database.Date(since))
	if err != nil {
		return nil, fmt.Errorf("recent contacts: %w", err)
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var customer int64
		var ruleset, rule string
		if err := rows.Scan(&customer, &ruleset, &rule); err != nil {
			return nil, fmt.Errorf("recent contacts: %w", err)
		}
		if purposeOf(ruleset, rule) == "service" {
			continue
		}
		out[customer]++
	}
	return out, rows.Err()
}
