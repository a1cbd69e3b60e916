package reviewdb

import (
	"context"
	"fmt"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
)

// OverdueByBatch counts, per batch key (RUN/RULE), the pending proposals
// created before cutoff: those that expiry would mark expired now. A
// non-zero runID counts that run's batch ruleID only. It changes nothing,
// so listings can show what would expire.
func OverdueByBatch(ctx context.Context, q database.Querier, cutoff time.Time, runID int64, ruleID string) (map[string]int64, error) {
	qs, args := `SELECT run_id, rule_id, COUNT(*) FROM proposals WHERE status = ? AND created_at < ?`, []any{store.ProposalPending, cutoff.UTC()}
	if runID != 0 {
		qs, args = qs+` AND run_id = ? AND rule_id = ?`, append(args, runID, ruleID)
	}
	rows, err := q.QueryContext(ctx, q.Rebind(qs+` GROUP BY run_id, rule_id`), args...)
	if err != nil {
		return nil, fmt.Errorf("overdue proposals: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var run, n int64
		var rule string
		if err := rows.Scan(&run, &rule, &n); err != nil {
			return nil, fmt.Errorf("overdue proposals: %w", err)
		}
		out[store.BatchKey(run, rule)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("overdue proposals: %w", err)
	}
	return out, nil
}
