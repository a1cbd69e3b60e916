package reviewdb

import (
	"context"
	"fmt"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
)

// Sources of a decision: where it was taken.
const (
	SourcePage = "page"
	SourceCLI  = "cli"
)

// Approver is who approves and from where: a user, on the review page or
// the command line, and for the command line the operating system user
// who ran it.
type Approver struct {
	UserID int64
	Source string
	OSUser string
}

// seconded is true of an approval a (in approvals a) that counts beside
// the approver's as another person's: another user, and not the command
// line run by the same operating system user as the approver's command
// line. Its arguments are Approver.secondedArgs.
const seconded = `a.user_id <> ? AND NOT (a.source = ? AND ? = ? AND a.os_user = ?)`

func (a Approver) secondedArgs() []any {
	return []any{a.UserID, SourceCLI, a.Source, SourceCLI, a.OSUser}
}

// SecondedBy returns, sorted, the names of the users whose approvals of
// the selection's pending proposals count as another person's beside a's.
func SecondedBy(ctx context.Context, q database.Querier, s Selection, a Approver) ([]string, error) {
	where, args := s.where()
	args = append(append(a.secondedArgs(), args...), store.ProposalPending)
	rows, err := q.QueryContext(ctx, q.Rebind(`SELECT DISTINCT u.name FROM approvals a JOIN users u ON u.id = a.user_id
		WHERE `+seconded+` AND a.proposal_id IN (SELECT id FROM proposals WHERE `+where+` AND status = ?)
		ORDER BY u.name`), args...)
	if err != nil {
		return nil, fmt.Errorf("approvals of %s: %w", s, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("approvals of %s: %w", s, err)
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// ApproveSeconded approves the selection's pending proposals that another
// person approved already (see seconded), recording by as who decided and
// at when, and returns how many it approved.
func ApproveSeconded(ctx context.Context, q database.Querier, s Selection, a Approver, by string, at time.Time) (int64, error) {
	where, args := s.where()
	args = append(append([]any{store.ProposalApproved, by, at.UTC()}, args...), store.ProposalPending)
	args = append(args, a.secondedArgs()...)
	res, err := q.ExecContext(ctx, q.Rebind(`UPDATE proposals SET status = ?, decided_by = ?, decided_at = ?
		WHERE `+where+` AND status = ? AND id IN (SELECT a.proposal_id FROM approvals a WHERE `+seconded+`)`), args...)
	if err != nil {
		return 0, fmt.Errorf("approve %s: %w", s, err)
	}
	return res.RowsAffected()
}

// AddApprovals records an approver's approval of the selection's pending
// proposals (once per proposal and user) and returns how many it
// recorded.
func AddApprovals(ctx context.Context, q database.Querier, s Selection, a Approver, at time.Time) (int64, error) {
	where, args := s.where()
	args = append([]any{a.UserID, at.UTC(), a.Source, a.OSUser}, append(args, store.ProposalPending)...)
	res, err := q.ExecContext(ctx, q.Rebind(`INSERT INTO approvals (proposal_id, user_id, decided_at, source, os_user)
		SELECT id, ?, ?, ?, ? FROM proposals WHERE `+where+` AND status = ?
		ON CONFLICT (proposal_id, user_id) DO NOTHING`), args...)
	if err != nil {
		return 0, fmt.Errorf("approve %s: %w", s, err)
	}
	return res.RowsAffected()
}

// PendingApprovals returns, per user id, how many of the selection's
// pending proposals the user has approved.
func PendingApprovals(ctx context.Context, q database.Querier, s Selection) (map[int64]int64, error) {
	where, args := s.where()
	args = append(args, store.ProposalPending)
	rows, err := q.QueryContext(ctx, q.Rebind(`SELECT a.user_id, COUNT(*) FROM approvals a
		WHERE a.proposal_id IN (SELECT id FROM proposals WHERE `+where+` AND status = ?)
		GROUP BY a.user_id`), args...)
	if err != nil {
		return nil, fmt.Errorf("approvals of %s: %w", s, err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var user, n int64
		if err := rows.Scan(&user, &n); err != nil {
			return nil, fmt.Errorf("approvals of %s: %w", s, err)
		}
		out[user] = n
	}
	return out, rows.Err()
}

// Approval is one user's approval waiting for a second reviewer.
type Approval struct {
	UserID    int64
	UserName  string
	DecidedAt time.Time
	// Proposals counts the pending proposals the user approved.
	Proposals int64
}

// BatchApprovals lists the approvals recorded on a batch's pending
// proposals, earliest first: the review page shows "approved by ana,
// awaiting a second reviewer".
func BatchApprovals(ctx context.Context, q database.Querier, runID int64, ruleID string) ([]Approval, error) {
	rows, err := q.QueryContext(ctx, q.Rebind(`SELECT a.user_id, u.name, MIN(a.decided_at), COUNT(*)
		FROM approvals a JOIN users u ON u.id = a.user_id
		WHERE a.proposal_id IN (SELECT id FROM proposals WHERE run_id = ? AND rule_id = ? AND status = ?)
		GROUP BY a.user_id, u.name ORDER BY MIN(a.decided_at), u.name`), runID, ruleID, store.ProposalPending)
	if err != nil {
		return nil, fmt.Errorf("approvals of batch %s: %w", store.BatchKey(runID, ruleID), err)
	}
	defer rows.Close()
	var out []Approval
	for rows.Next() {
		var a Approval
		if err := rows.Scan(&a.UserID, &a.UserName, database.Time(&a.DecidedAt), &a.Proposals); err != nil {
			return nil, fmt.Errorf("approvals of batch %s: %w", store.BatchKey(runID, ruleID), err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
