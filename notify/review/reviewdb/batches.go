package reviewdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
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
func (b Batch) Key() string { return store.BatchKey(b.RunID, b.RuleID) }

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
func ListBatches(ctx context.Context, q database.Querier, f BatchFilter) ([]Batch, error) {
	var where database.Where
	where.AndIf(f.RunID != 0, "p.run_id = ?", f.RunID)
	where.AndIf(f.RuleID != "", "p.rule_id = ?", f.RuleID)
	where.AndIf(f.Ruleset != "", "p.ruleset = ?", f.Ruleset)
	counted := where
	if !f.All {
		// Batches of runs still going (or failed) are not offered for review.
		counted = where.With("r.status = ?", store.RunSucceeded)
		// Only the runs with a pending proposal are counted, found by
		// status first, so that the page does not read every proposal
		// ever made (a query with both conditions scanned them all).
		runs, err := pendingRuns(ctx, q, where)
		if err != nil {
			return nil, err
		}
		if len(runs) == 0 {
			return []Batch{}, nil
		}
		counted.And("p.run_id IN (?"+strings.Repeat(", ?", len(runs)-1)+")", runs...)
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
		FROM proposals p JOIN runs r ON r.id = p.run_id` + counted.String() + `
		GROUP BY p.run_id, p.rule_id`
	if !f.All {
		qs += ` HAVING SUM(CASE WHEN p.status = 'pending' THEN 1 ELSE 0 END) > 0`
	}
	qs += ` ORDER BY p.run_id DESC, p.rule_id`
	if f.Limit > 0 {
		qs += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := q.QueryContext(ctx, q.Rebind(qs), counted.Args...)
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
	pending := where.With("p.status = ?", store.ProposalPending)
	mq := `SELECT run_id, rule_id, value FROM (
		SELECT p.run_id, p.rule_id, p.value,
			ROW_NUMBER() OVER (PARTITION BY p.run_id, p.rule_id ORDER BY p.value, p.id) AS rn,
			COUNT(*) OVER (PARTITION BY p.run_id, p.rule_id) AS n
		FROM proposals p` + pending.String() + `
	) m WHERE rn = (n + 1) / 2 OR rn = (n + 2) / 2`
	rows, err = q.QueryContext(ctx, q.Rebind(mq), pending.Args...)
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

// pendingRuns returns the ids of the runs with a pending proposal that
// where (on proposals p) selects.
func pendingRuns(ctx context.Context, q database.Querier, where database.Where) ([]any, error) {
	pending := where.With("p.status = ?", store.ProposalPending)
	rows, err := q.QueryContext(ctx, q.Rebind(`SELECT DISTINCT p.run_id FROM proposals p`+pending.String()), pending.Args...)
	if err != nil {
		return nil, fmt.Errorf("list batches: runs with pending proposals: %w", err)
	}
	defer rows.Close()
	var out []any
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list batches: runs with pending proposals: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list batches: runs with pending proposals: %w", err)
	}
	return out, nil
}

// GetBatch returns one batch whatever its proposals' statuses, or
// store.ErrNotFound if the run's rule made no proposals.
func GetBatch(ctx context.Context, q database.Querier, runID int64, ruleID string) (*Batch, error) {
	bs, err := ListBatches(ctx, q, BatchFilter{All: true, RunID: runID, RuleID: ruleID})
	if err != nil {
		return nil, err
	}
	if len(bs) == 0 {
		return nil, fmt.Errorf("batch %s: %w", store.BatchKey(runID, ruleID), store.ErrNotFound)
	}
	return &bs[0], nil
}

// ReviewedProposal is a proposal with the decision taken on it, if any.
type ReviewedProposal struct {
	store.Proposal
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

const reviewedColumns = store.ProposalColumns + `, decided_by, decided_at`

func scanReviewed(row interface{ Scan(...any) error }) (ReviewedProposal, error) {
	var p ReviewedProposal
	err := store.ScanProposal(row, &p.Proposal, &p.DecidedBy, database.Time(&p.DecidedAt))
	return p, err
}

// BatchProposals returns a page of a batch's proposals, most valuable
// first, and how many proposals match the page's filter in all.
func BatchProposals(ctx context.Context, q database.Querier, runID int64, ruleID string, pg ProposalPage) ([]ReviewedProposal, int64, error) {
	where := batchWhere(runID, ruleID, pg.Status)
	where.AndIf(pg.MinValue != 0, "value >= ?", pg.MinValue)
	where.AndIf(pg.MaxValue != 0, "value <= ?", pg.MaxValue)
	if pg.CustomerIDs != nil {
		if len(pg.CustomerIDs) == 0 {
			return nil, 0, nil
		}
		ids := make([]string, len(pg.CustomerIDs))
		for i, id := range pg.CustomerIDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		where.And("customer_id IN (" + strings.Join(ids, ", ") + ")")
	}
	cond := where.String()
	var total int64
	if err := q.QueryRowxContext(ctx, q.Rebind(`SELECT COUNT(*) FROM proposals`+cond), where.Args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("batch %s: %w", store.BatchKey(runID, ruleID), err)
	}
	qs := `SELECT ` + reviewedColumns + ` FROM proposals` + cond + ` ORDER BY value DESC, customer_id, id`
	if pg.Limit > 0 {
		qs += fmt.Sprintf(" LIMIT %d", pg.Limit)
	}
	if pg.Offset > 0 {
		if pg.Limit <= 0 {
			// Both dialects need a LIMIT before an OFFSET; -1 is SQLite's
			// "none" and ALL PostgreSQL's.
			if q.IsPostgres() {
				qs += " LIMIT ALL"
			} else {
				qs += " LIMIT -1"
			}
		}
		qs += fmt.Sprintf(" OFFSET %d", pg.Offset)
	}
	rows, err := q.QueryxContext(ctx, q.Rebind(qs), where.Args...)
	if err != nil {
		return nil, 0, fmt.Errorf("batch %s: %w", store.BatchKey(runID, ruleID), err)
	}
	defer rows.Close()
	var out []ReviewedProposal
	for rows.Next() {
		p, err := scanReviewed(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("batch %s: %w", store.BatchKey(runID, ruleID), err)
		}
		out = append(out, p)
	}
	return out, total, rows.Err()
}

// batchWhere selects a batch's proposals of a status: "" for pending,
// "all" for every status.
func batchWhere(runID int64, ruleID, status string) database.Where {
	var where database.Where
	where.And("run_id = ? AND rule_id = ?", runID, ruleID)
	switch status {
	case "":
		where.And("status = ?", store.ProposalPending)
	case "all":
	default:
		where.And("status = ?", status)
	}
	return where
}

// BatchValues returns the yearly values of a batch's proposals of a
// status ("" for pending, "all" for every status), smallest first: the
// spread of values the review page charts.
func BatchValues(ctx context.Context, q database.Querier, runID int64, ruleID, status string) ([]int64, error) {
	where := batchWhere(runID, ruleID, status)
	rows, err := q.QueryContext(ctx, q.Rebind(`SELECT value FROM proposals`+where.String()+` ORDER BY value`), where.Args...)
	if err != nil {
		return nil, fmt.Errorf("batch %s values: %w", store.BatchKey(runID, ruleID), err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("batch %s values: %w", store.BatchKey(runID, ruleID), err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// GetProposal returns one proposal with its decision, or store.ErrNotFound.
func GetProposal(ctx context.Context, q database.Querier, id int64) (*ReviewedProposal, error) {
	p, err := scanReviewed(q.QueryRowxContext(ctx, q.Rebind(`SELECT `+reviewedColumns+` FROM proposals WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("proposal %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get proposal %d: %w", id, err)
	}
	return &p, nil
}
