package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/goodturn/goodturn/engine/database"
)

// Proposal statuses a review decides.
const (
	ProposalApproved = "approved"
	ProposalRejected = "rejected"
	// ProposalExpired marks a proposal nobody decided in time: its data has
	// gone stale, so it is never sent.
	ProposalExpired = "expired"
)

// Batch is the proposals one rule made in one run: what a reviewer approves
// or rejects at once.
type Batch struct {
	RunID   int64
	RuleID  string
	Ruleset string
	Kind    string
	// Currency of the batch's values ("" if the batch is empty).
	Currency string
	// AsOf is the run's date; StartedAt when the run started.
	AsOf      time.Time
	StartedAt time.Time
	// Proposals counts every proposal of the batch, in any status; the
	// others count one status each.
	Proposals int64
	Pending   int64
	Approved  int64
	Rejected  int64
	Expired   int64
	Held      int64
	// Control counts the batch's control group: never reviewed or sent.
	Control int64
	// Value and Median are the total and median yearly value of the
	// pending proposals, in minor units.
	Value  int64
	Median int64
	// TotalValue is the yearly value of every proposal of the batch but
	// the held ones and the control group.
	TotalValue int64
}

// Key is the batch's id as people write it: RUN/RULE, "3/cheaper-plan".
func (b Batch) Key() string { return BatchKey(b.RunID, b.RuleID) }

// BatchKey writes a batch's id: "3/cheaper-plan".
func BatchKey(runID int64, ruleID string) string { return strconv.FormatInt(runID, 10) + "/" + ruleID }

// ParseBatchKey reads RUN/RULE.
func ParseBatchKey(s string) (runID int64, ruleID string, err error) {
	run, rule, ok := strings.Cut(s, "/")
	id, perr := strconv.ParseInt(run, 10, 64)
	if !ok || perr != nil || id <= 0 || rule == "" {
		return 0, "", fmt.Errorf("batch %q: want RUN/RULE, like 3/cheaper-plan", s)
	}
	return id, rule, nil
}

// BatchFilter selects batches to list.
type BatchFilter struct {
	// All includes batches with no pending proposals; by default only
	// batches with something to decide are listed.
	All bool
	// RunID and RuleID select one run's batches or one batch.
	RunID  int64
	RuleID string
	// Ruleset selects one ruleset's batches.
	Ruleset string
	// Limit caps how many batches are returned; 0 means no cap.
	Limit int
}

// ListBatches returns batches, newest run first and by rule within a run,
// with their counts and the total and median value of what is pending.
// Dry runs have no proposals and no batches.
func ListBatches(ctx context.Context, q Querier, f BatchFilter) ([]Batch, error) {
	var (
		where []string
		args  []any
	)
	if f.RunID != 0 {
		where, args = append(where, "p.run_id = ?"), append(args, f.RunID)
	}
	if f.RuleID != "" {
		where, args = append(where, "p.rule_id = ?"), append(args, f.RuleID)
	}
	if f.Ruleset != "" {
		where, args = append(where, "p.ruleset = ?"), append(args, f.Ruleset)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	qs := `SELECT p.run_id, p.rule_id, MIN(p.ruleset), MIN(p.kind), MIN(p.currency), MIN(r.as_of), MIN(r.started_at),
		COUNT(*),
		SUM(CASE WHEN p.status = 'pending' THEN 1 ELSE 0 END),
		SUM(CASE WHEN p.status = 'approved' THEN 1 ELSE 0 END),
		SUM(CASE WHEN p.status = 'rejected' THEN 1 ELSE 0 END),
		SUM(CASE WHEN p.status = 'expired' THEN 1 ELSE 0 END),
		SUM(CASE WHEN p.status = 'held' THEN 1 ELSE 0 END),
		SUM(CASE WHEN p.status = 'control' THEN 1 ELSE 0 END),
		SUM(CASE WHEN p.status = 'pending' THEN p.value ELSE 0 END),
		SUM(CASE WHEN p.status NOT IN ('held', 'control') THEN p.value ELSE 0 END)
		FROM proposals p JOIN runs r ON r.id = p.run_id` + cond + `
		GROUP BY p.run_id, p.rule_id`
	if !f.All {
		// Batches of runs still going (or failed) are not offered for review.
		qs = strings.Replace(qs, "GROUP BY p.run_id, p.rule_id", "AND r.status = 'succeeded' GROUP BY p.run_id, p.rule_id", 1)
		if cond == "" {
			qs = strings.Replace(qs, "AND r.status = 'succeeded' GROUP BY", "WHERE r.status = 'succeeded' GROUP BY", 1)
		}
		qs += ` HAVING SUM(CASE WHEN p.status = 'pending' THEN 1 ELSE 0 END) > 0`
	}
	qs += ` ORDER BY p.run_id DESC, p.rule_id`
	if f.Limit > 0 {
		qs += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := q.QueryContext(ctx, q.Rebind(qs), args...)
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	var out []Batch
	for rows.Next() {
		var b Batch
		if err := rows.Scan(&b.RunID, &b.RuleID, &b.Ruleset, &b.Kind, &b.Currency, database.Time(&b.AsOf), database.Time(&b.StartedAt),
			&b.Proposals, &b.Pending, &b.Approved, &b.Rejected, &b.Expired, &b.Held, &b.Control, &b.Value, &b.TotalValue); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list batches: %w", err)
		}
		out = append(out, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	// The medians of the pending values, by window functions (both
	// dialects have them): the middle one or two values of each batch.
	mq := `SELECT run_id, rule_id, value FROM (
		SELECT p.run_id, p.rule_id, p.value,
			ROW_NUMBER() OVER (PARTITION BY p.run_id, p.rule_id ORDER BY p.value, p.id) AS rn,
			COUNT(*) OVER (PARTITION BY p.run_id, p.rule_id) AS n
		FROM proposals p` + cond
	if cond == "" {
		mq += " WHERE p.status = 'pending'"
	} else {
		mq += " AND p.status = 'pending'"
	}
	mq += `) m WHERE rn = (n + 1) / 2 OR rn = (n + 2) / 2`
	rows, err = q.QueryContext(ctx, q.Rebind(mq), args...)
	if err != nil {
		return nil, fmt.Errorf("list batches: medians: %w", err)
	}
	defer rows.Close()
	type key struct {
		run  int64
		rule string
	}
	sums, counts := map[key]int64{}, map[key]int64{}
	for rows.Next() {
		var k key
		var v int64
		if err := rows.Scan(&k.run, &k.rule, &v); err != nil {
			return nil, fmt.Errorf("list batches: medians: %w", err)
		}
		sums[k] += v
		counts[k]++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list batches: medians: %w", err)
	}
	for i := range out {
		k := key{out[i].RunID, out[i].RuleID}
		if counts[k] > 0 {
			out[i].Median = sums[k] / counts[k]
		}
	}
	return out, nil
}

// GetBatch returns one batch whatever its proposals' statuses, or
// ErrNotFound if the run's rule made no proposals.
func GetBatch(ctx context.Context, q Querier, runID int64, ruleID string) (*Batch, error) {
	bs, err := ListBatches(ctx, q, BatchFilter{All: true, RunID: runID, RuleID: ruleID})
	if err != nil {
		return nil, err
	}
	if len(bs) == 0 {
		return nil, fmt.Errorf("batch %s: %w", BatchKey(runID, ruleID), ErrNotFound)
	}
	return &bs[0], nil
}

// ReviewedProposal is a proposal with the decision taken on it, if any.
type ReviewedProposal struct {
	Proposal
	// DecidedBy is the user who approved or rejected it, or "system" when
	// it expired; DecidedAt when. Empty and zero while it is pending.
	DecidedBy string
	DecidedAt time.Time
}

// ProposalPage selects a page of a batch's proposals.
type ProposalPage struct {
	// Status selects one status; "" selects pending ones, "all" every
	// status.
	Status string
	// MinValue and MaxValue bound the yearly value (inclusive); 0 means
	// no bound.
	MinValue, MaxValue int64
	// CustomerIDs, when not nil, keeps only these customers (the review
	// page filters by segment through the billing database so).
	CustomerIDs []int64
	// Limit is the page size (0: no limit); Offset the proposals skipped.
	Limit, Offset int
}

const reviewedColumns = storedProposalColumns + `, decided_by, decided_at`

func scanReviewed(row interface{ Scan(...any) error }) (ReviewedProposal, error) {
	var p ReviewedProposal
	var offer, evidence []byte
	err := row.Scan(append(proposalDest(&p.Proposal, &offer, &evidence), &p.DecidedBy, database.Time(&p.DecidedAt))...)
	p.Offer, p.Evidence = offer, evidence
	return p, err
}

// BatchProposals returns a page of a batch's proposals, most valuable
// first, and how many proposals match the page's filter in all.
func BatchProposals(ctx context.Context, q Querier, runID int64, ruleID string, pg ProposalPage) ([]ReviewedProposal, int64, error) {
	where := []string{"run_id = ?", "rule_id = ?"}
	args := []any{runID, ruleID}
	switch pg.Status {
	case "":
		where, args = append(where, "status = ?"), append(args, ProposalPending)
	case "all":
	default:
		where, args = append(where, "status = ?"), append(args, pg.Status)
	}
	if pg.MinValue != 0 {
		where, args = append(where, "value >= ?"), append(args, pg.MinValue)
	}
	if pg.MaxValue != 0 {
		where, args = append(where, "value <= ?"), append(args, pg.MaxValue)
	}
	if pg.CustomerIDs != nil {
		if len(pg.CustomerIDs) == 0 {
			return nil, 0, nil
		}
		ids := make([]string, len(pg.CustomerIDs))
		for i, id := range pg.CustomerIDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		where = append(where, "customer_id IN ("+strings.Join(ids, ", ")+")")
	}
	cond := " WHERE " + strings.Join(where, " AND ")
	var total int64
	if err := q.QueryRowxContext(ctx, q.Rebind(`SELECT COUNT(*) FROM proposals`+cond), args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("batch %s: %w", BatchKey(runID, ruleID), err)
	}
	qs := `SELECT ` + reviewedColumns + ` FROM proposals` + cond + ` ORDER BY value DESC, customer_id, id`
	if pg.Limit > 0 {
		qs += fmt.Sprintf(" LIMIT %d", pg.Limit)
	}
	if pg.Offset > 0 {
		if pg.Limit <= 0 {
			// Both dialects need a LIMIT before an OFFSET; -1 is SQLite's
			// "none" and ALL PostgreSQL's.
			if strings.Contains(q.DriverName(), "postgres") {
				qs += " LIMIT ALL"
			} else {
				qs += " LIMIT -1"
			}
		}
		qs += fmt.Sprintf(" OFFSET %d", pg.Offset)
	}
	rows, err := q.QueryxContext(ctx, q.Rebind(qs), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("batch %s: %w", BatchKey(runID, ruleID), err)
	}
	defer rows.Close()
	var out []ReviewedProposal
	for rows.Next() {
		p, err := scanReviewed(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("batch %s: %w", BatchKey(runID, ruleID), err)
		}
		out = append(out, p)
	}
	return out, total, rows.Err()
}

// BatchValues returns the yearly values of a batch's proposals of a
// status ("" for pending, "all" for every status), smallest first: the
// spread of values the review page charts.
func BatchValues(ctx context.Context, q Querier, runID int64, ruleID, status string) ([]int64, error) {
	qs := `SELECT value FROM proposals WHERE run_id = ? AND rule_id = ?`
	args := []any{runID, ruleID}
	switch status {
	case "":
		qs, args = qs+" AND status = ?", append(args, ProposalPending)
	case "all":
	default:
		qs, args = qs+" AND status = ?", append(args, status)
	}
	rows, err := q.QueryContext(ctx, q.Rebind(qs+" ORDER BY value"), args...)
	if err != nil {
		return nil, fmt.Errorf("batch %s values: %w", BatchKey(runID, ruleID), err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("batch %s values: %w", BatchKey(runID, ruleID), err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// GetProposal returns one proposal with its decision, or ErrNotFound.
func GetProposal(ctx context.Context, q Querier, id int64) (*ReviewedProposal, error) {
	p, err := scanReviewed(q.QueryRowxContext(ctx, q.Rebind(`SELECT `+reviewedColumns+` FROM proposals WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("proposal %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get proposal %d: %w", id, err)
	}
	return &p, nil
}

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
	return "batch " + BatchKey(s.RunID, s.RuleID)
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
func LockPending(ctx context.Context, tx *sqlx.Tx, s Selection) (int64, error) {
	where, args := s.where()
	args = append(args, ProposalPending)
	if strings.Contains(tx.DriverName(), "postgres") {
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
func DecidePending(ctx context.Context, q Querier, s Selection, status, by string, at time.Time) (int64, error) {
	switch status {
	case ProposalApproved, ProposalRejected, ProposalExpired:
	default:
		return 0, fmt.Errorf("decide %s: %q is not a decision", s, status)
	}
	where, args := s.where()
	args = append([]any{status, by, at.UTC()}, append(args, ProposalPending)...)
	res, err := q.ExecContext(ctx, q.Rebind(`UPDATE proposals SET status = ?, decided_by = ?, decided_at = ? WHERE `+where+` AND status = ?`), args...)
	if err != nil {
		return 0, fmt.Errorf("decide %s: %w", s, err)
	}
	return res.RowsAffected()
}

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

// BatchSize returns how many proposals, held ones aside, the batch of the
// selection has (the batch of its proposal when it names one), in every
// status: the size that decides whether approving them takes two people.
func BatchSize(ctx context.Context, q Querier, s Selection) (int64, error) {
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
		run, rule, ProposalHeld).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("size of the batch of %s: %w", s, err)
	}
	return n, nil
}

// SecondedBy returns, sorted, the names of the users whose approvals of
// the selection's pending proposals count as another person's beside a's.
func SecondedBy(ctx context.Context, q Querier, s Selection, a Approver) ([]string, error) {
	where, args := s.where()
	args = append(append(a.secondedArgs(), args...), ProposalPending)
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
func ApproveSeconded(ctx context.Context, q Querier, s Selection, a Approver, by string, at time.Time) (int64, error) {
	where, args := s.where()
	args = append(append([]any{ProposalApproved, by, at.UTC()}, args...), ProposalPending)
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
func AddApprovals(ctx context.Context, q Querier, s Selection, a Approver, at time.Time) (int64, error) {
	where, args := s.where()
	args = append([]any{a.UserID, at.UTC(), a.Source, a.OSUser}, append(args, ProposalPending)...)
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
func PendingApprovals(ctx context.Context, q Querier, s Selection) (map[int64]int64, error) {
	where, args := s.where()
	args = append(args, ProposalPending)
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
func BatchApprovals(ctx context.Context, q Querier, runID int64, ruleID string) ([]Approval, error) {
	rows, err := q.QueryContext(ctx, q.Rebind(`SELECT a.user_id, u.name, MIN(a.decided_at), COUNT(*)
		FROM approvals a JOIN users u ON u.id = a.user_id
		WHERE a.proposal_id IN (SELECT id FROM proposals WHERE run_id = ? AND rule_id = ? AND status = ?)
		GROUP BY a.user_id, u.name ORDER BY MIN(a.decided_at), u.name`), runID, ruleID, ProposalPending)
	if err != nil {
		return nil, fmt.Errorf("approvals of batch %s: %w", BatchKey(runID, ruleID), err)
	}
	defer rows.Close()
	var out []Approval
	for rows.Next() {
		var a Approval
		if err := rows.Scan(&a.UserID, &a.UserName, database.Time(&a.DecidedAt), &a.Proposals); err != nil {
			return nil, fmt.Errorf("approvals of batch %s: %w", BatchKey(runID, ruleID), err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// ExpiredBatch counts the proposals of one batch that expired.
type ExpiredBatch struct {
	RunID     int64
	RuleID    string
	Proposals int64
}

// ExpirePending marks every pending proposal created before cutoff as
// expired by SystemActor at at, and returns how many expired per batch, by
// run and rule.
func ExpirePending(ctx context.Context, q Querier, cutoff, at time.Time) ([]ExpiredBatch, error) {
	rows, err := q.QueryContext(ctx, q.Rebind(`UPDATE proposals SET status = ?, decided_by = ?, decided_at = ?
		WHERE status = ? AND created_at < ? RETURNING run_id, rule_id`),
		ProposalExpired, SystemActor, at.UTC(), ProposalPending, cutoff.UTC())
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
func PendingCounts(ctx context.Context, q Querier) (map[string]int64, error) {
	rows, err := q.QueryContext(ctx, q.Rebind(`SELECT ruleset, count(*) FROM proposals WHERE status = ? GROUP BY ruleset`), ProposalPending)
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

// SystemActor is the audit log's actor for what goodturn does by itself.
const SystemActor = "system"

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID int64
	At time.Time
	// Actor is the user's name, or SystemActor.
	Actor string
	// Action: approve, reject, expire, login, login_failed, logout,
	// user_add, user_disable, user_enable, user_password, …
	Action string
	// Subject is what was acted on: "proposal 12", "batch 3/cheaper-plan",
	// "user ana".
	Subject string
	Comment string
	// Detail is a JSON object with what else matters (counts, the second
	// reviewer's wait); "{}" when there is nothing.
	Detail json.RawMessage
}

// AddAudit appends an entry to the audit log and sets its ID; a zero At
// is now.
func AddAudit(ctx context.Context, q Querier, e *AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	detail := string(e.Detail)
	if detail == "" {
		detail = "{}"
	}
	err := q.QueryRowxContext(ctx, q.Rebind(
		`INSERT INTO audit (at, actor, action, subject, comment, detail) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
		e.At.UTC(), e.Actor, e.Action, e.Subject, e.Comment, detail).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("audit %s %s: %w", e.Action, e.Subject, err)
	}
	return nil
}

// AuditFilter selects audit entries; zero fields select all.
type AuditFilter struct {
	Actor   string
	Action  string
	Subject string
	// Limit caps the entries (0: no cap), newest first; Offset skips.
	Limit, Offset int
}

// ListAudit returns audit entries, newest first.
func ListAudit(ctx context.Context, q Querier, f AuditFilter) ([]AuditEntry, error) {
	var (
		where []string
		args  []any
	)
	if f.Actor != "" {
		where, args = append(where, "actor = ?"), append(args, f.Actor)
	}
	if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	if f.Subject != "" {
		where, args = append(where, "subject = ?"), append(args, f.Subject)
	}
	qs := `SELECT id, at, actor, action, subject, comment, detail FROM audit`
	if len(where) > 0 {
		qs += " WHERE " + strings.Join(where, " AND ")
	}
	qs += " ORDER BY id DESC"
	if f.Limit > 0 {
		qs += fmt.Sprintf(" LIMIT %d", f.Limit)
		if f.Offset > 0 {
			qs += fmt.Sprintf(" OFFSET %d", f.Offset)
		}
	}
	rows, err := q.QueryContext(ctx, q.Rebind(qs), args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var detail []byte
		if err := rows.Scan(&e.ID, database.Time(&e.At), &e.Actor, &e.Action, &e.Subject, &e.Comment, &detail); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		e.Detail = detail
		out = append(out, e)
	}
	return out, rows.Err()
}
