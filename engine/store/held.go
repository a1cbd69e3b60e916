package store

import (
	"context"
	"fmt"
	"sort"

	"github.com/goodturn/goodturn/engine/database"
)

// SaveHeld records, for a run, how many matches of each rule the contact
// policy held back and why: held[rule][reason] = customers.
func SaveHeld(ctx context.Context, db database.Querier, runID int64, held map[string]map[string]int64) error {
	tx, err := database.Begin(ctx, db)
	if err != nil {
		return fmt.Errorf("save held of run %d: %w", runID, err)
	}
	defer tx.Rollback()
	// Recording again (a sharded run finished by a second worker) replaces.
	if _, err := tx.ExecContext(ctx, db.Rebind(`DELETE FROM run_held WHERE run_id = ?`), runID); err != nil {
		return fmt.Errorf("save held of run %d: %w", runID, err)
	}
	rulesIDs := make([]string, 0, len(held))
	for r := range held {
		rulesIDs = append(rulesIDs, r)
	}
	sort.Strings(rulesIDs)
	for _, rule := range rulesIDs {
		for reason, n := range held[rule] {
			if n == 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO run_held (run_id, rule_id, reason, customers) VALUES (?, ?, ?, ?)`),
				runID, rule, reason, n); err != nil {
				return fmt.Errorf("save held of run %d: %w", runID, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save held of run %d: %w", runID, err)
	}
	return nil
}

// Held returns, for a run, held[rule][reason] = customers.
func Held(ctx context.Context, db database.Querier, runID int64) (map[string]map[string]int64, error) {
	out, err := database.GroupCounts[int64](ctx, db, db.Rebind(`SELECT rule_id, reason, customers FROM run_held WHERE run_id = ?`), runID)
	if err != nil {
		return nil, fmt.Errorf("held of run %d: %w", runID, err)
	}
	return out, nil
}
