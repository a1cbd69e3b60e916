package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/goodturn/goodturn/engine/database"
)

// OutcomeUnit is one proposal whose customer's outcome is measured: an
// approved proposal (the treated group) or a control one.
type OutcomeUnit struct {
	ID         int64
	RunID      int64
	Ruleset    string
	RuleID     string
	Kind       string
	CustomerID int64
	AsOf       time.Time
	// Status is approved or control.
	Status string
	// Plan is the plan the offer moves the customer to (its plan_id), or
	// "" when the offer names none.
	Plan string
	// Sent reports whether at least one of its outbox messages was sent.
	Sent bool
	// Queued reports whether it has any outbox row at all.
	Queued bool
}

// OutcomeUnits returns the approved and control proposals of the runs that
// succeeded, with whether each was sent, ordered by run, rule and customer.
// An empty ruleset selects every ruleset. It reads the outbox, a later
// stage's table (notify/outbox/outboxdb), by its status text: 'sent'.
func OutcomeUnits(ctx context.Context, db database.Querier, ruleset string) ([]OutcomeUnit, error) {
	q := `SELECT p.id, p.run_id, p.ruleset, p.rule_id, p.kind, p.customer_id, p.as_of, p.status, p.offer,
		EXISTS (SELECT 1 FROM outbox o WHERE o.proposal_id = p.id AND o.status = 'sent'),
		EXISTS (SELECT 1 FROM outbox o WHERE o.proposal_id = p.id)
		FROM proposals p WHERE p.status IN (?, ?)` + notFailed
	args := []any{ProposalApproved, ProposalControl}
	if ruleset != "" {
		q += ` AND p.ruleset = ?`
		args = append(args, ruleset)
	}
	q += ` ORDER BY p.run_id, p.rule_id, p.customer_id`
	rows, err := db.QueryContext(ctx, db.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("outcome proposals: %w", err)
	}
	defer rows.Close()
	var out []OutcomeUnit
	for rows.Next() {
		var u OutcomeUnit
		var offer sql.RawBytes
		if err := rows.Scan(&u.ID, &u.RunID, &u.Ruleset, &u.RuleID, &u.Kind, &u.CustomerID, database.Time(&u.AsOf), &u.Status,
			&offer, &u.Sent, &u.Queued); err != nil {
			return nil, fmt.Errorf("outcome proposals: %w", err)
		}
		// Only the plan is kept of the offer: a million units' offers
		// would be hundreds of megabytes.
		var plan struct {
			ID any `json:"plan_id"`
		}
		if json.Unmarshal(offer, &plan) == nil && plan.ID != nil {
			u.Plan = fmt.Sprint(plan.ID)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outcome proposals: %w", err)
	}
	return out, nil
}
