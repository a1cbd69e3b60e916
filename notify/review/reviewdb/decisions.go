package reviewdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
)

// Selection names the proposals a decision is about: one proposal
// (ProposalID), or a batch (RunID and RuleID).
type Selection struct {
	ProposalID int64
	RunID      int64
	RuleID     string
}

// String is the selection as the audit log's subject: "proposal 12" or
// "batch 3/cheaper-plan".
func (s Selection) String() string {
	if s.ProposalID != 0 {
		return "proposal " + strconv.FormatInt(s.ProposalID, 10)
	}
	return "batch " + store.BatchKey(s.RunID, s.RuleID)
}

// finishedRun keeps decisions to the proposals of runs that have finished
// and succeeded: until then a rule may still turn out unhealthy and have
// its proposals held back, so none of them may be approved yet.
const finishedRun = ` AND run_id IN (SELECT id FROM runs WHERE status = 'succeeded')`

func (s Selection) where() (string, []any) {
	if s.ProposalID != 0 {
		return "id = ?" + finishedRun, []any{s.ProposalID}
	}
	return "run_id = ? AND rule_id = ?" + finishedRun, []any{s.RunID, s.RuleID}
}

// LockPending takes the write lock on the selection's pending proposals
// for the rest of the transaction, so that two decisions on the same
// proposals happen one after the other, and returns how many are pending.
// On SQLite, whose writers are serialized anyway, it starts the write
// transaction at once rather than upgrading it later (which can fail).
func LockPending(ctx context.Context, tx database.Querier, s Selection) (int64, error) {
	where, args := s.where()
	args = append(args, store.ProposalPending)
	if tx.IsPostgres() {
		rows, err := tx.QueryContext(ctx, tx.Rebind(`SELECT id FROM proposals WHERE `+where+` AND status = ? ORDER BY id FOR UPDATE`), args...)
		if err != nil {
			return 0, fmt.Errorf("lock %s: %w", s, err)
		}
		defer rows.Close()
		var n int64
		for rows.Next() {
			n++
		}
		return n, rows.Err()
	}
	// An UPDATE that changes nothing still makes this a write transaction.
	if _, err := tx.ExecContext(ctx, `UPDATE proposals SET status = status WHERE id = -1`); err != nil {
		return 0, fmt.Errorf("lock %s: %w", s, err)
	}
	var n int64
	if err := tx.QueryRowxContext(ctx, tx.Rebind(`SELECT COUNT(*) FROM proposals WHERE `+where+` AND status = ?`), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("lock %s: %w", s, err)
	}
	return n, nil
}

// DecidePending sets the status of the selection's pending proposals to
// status (approved, rejected or expired), recording who decided and when,
// and returns how many it changed. Proposals in any other status are left
// alone.
func DecidePending(ctx context.Context, q database.Querier, s Selection, status, by string, at time.Time) (int64, error) {
	switch status {
	case store.ProposalApproved, store.ProposalRejected, store.ProposalExpired:
	default:
		return 0, fmt.Errorf("decide %s: %q is not a decision", s, status)
	}
	where, args := s.where()
	args = append([]any{status, by, at.UTC()}, append(args, store.ProposalPending)...)
	res, err := q.ExecContext(ctx, q.Rebind(`UPDATE proposals SET status = ?, decided_by = ?, decided_at = ? WHERE `+where+` AND status = ?`), args...)
	if err != nil {
		return 0, fmt.Errorf("decide %s: %w", s, err)
	}
	return res.RowsAffected()
}

// BatchSize returns how many proposals, held ones aside, the batch of the
// selection has (the batch of its proposal when it names one), in every
// status: the size that decides whether approving them takes two people.
func BatchSize(ctx context.Context, q database.Querier, s Selection) (int64, error) {
	run, rule := s.RunID, s.RuleID
	if s.ProposalID != 0 {
		err := q.QueryRowxContext(ctx, q.Rebind(`SELECT run_id, rule_id FROM proposals WHERE id = ?`), s.ProposalID).Scan(&run, &rule)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("size of the batch of %s: %w", s, err)
		}
	}
	var n int64
	err := q.QueryRowxContext(ctx, q.Rebind(`SELECT COUNT(*) FROM proposals WHERE run_id = ? AND rule_id = ? AND status <> ?`),
		run, rule, store.ProposalHeld).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("size of the batch of %s: %w", s, err)
	}
	return n, nil
}

// ExpiredBatch counts the proposals of one batch that expired.
type ExpiredBatch struct {
	RunID     int64
	RuleID    string
	Proposals int64
}

// ExpirePending marks every pending proposal created before cutoff as
// expired by store.SystemActor at at, and returns how many expired per batch, by
// run and rule.
func ExpirePending(ctx context.Context, q database.Querier, cutoff, at time.Time) ([]ExpiredBatch, error) {
	rows, err := q.QueryContext(ctx, q.Rebind(`UPDATE proposals SET status = ?, decided_by = ?, decided_at = ?
		WHERE status = ? AND created_at < ? RETURNING run_id, rule_id`),
		store.ProposalExpired, store.SystemActor, at.UTC(), store.ProposalPending, cutoff.UTC())
	if err != nil {
		return nil, fmt.Errorf("expire proposals: %w", err)
	}
	defer rows.Close()
	counts := map[ExpiredBatch]int64{}
	for rows.Next() {
		var b ExpiredBatch
		if err := rows.Scan(&b.RunID, &b.RuleID); err != nil {
			return nil, fmt.Errorf("expire proposals: %w", err)
		}
		counts[b]++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("expire proposals: %w", err)
	}
	out := make([]ExpiredBatch, 0, len(counts))
	for b, n := range counts {
		b.Proposals = n
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].RunID != out[j].RunID {
			return out[i].RunID < out[j].RunID
		}
		return out[i].RuleID < out[j].RuleID
	})
	return out, nil
}

// PendingCounts returns how many proposals wait for review, by ruleset.
func PendingCounts(ctx context.Context, q database.Querier) (map[string]int64, error) {
	rows, err := q.QueryContext(ctx, q.Rebind(`SELECT ruleset, count(*) FROM proposals WHERE status = ? GROUP BY ruleset`), store.ProposalPending)
	if err != nil {
		return nil, fmt.Errorf("count pending proposals: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var rs string
		var n int64
		if err := rows.Scan(&rs, &n); err != nil {
			return nil, fmt.Errorf("count pending proposals: %w", err)
		}
		out[rs] = n
	}
	return out, rows.Err()
}
