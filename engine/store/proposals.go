package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/goodturn/goodturn/engine/database"
)

// Proposal statuses.
const (
	ProposalPending = "pending"
	// ProposalHeld marks proposals of a rule that failed on too many
	// customers in its run: they are kept, but not offered for review.
	ProposalHeld = "held"
	// ProposalControl marks proposals kept back as a rule's control group:
	// counted and shown, never reviewed or sent, so that what happens to
	// these customers can be set against what happens to those contacted.
	ProposalControl = "control"
	// The statuses a review decides.
	ProposalApproved = "approved"
	ProposalRejected = "rejected"
	// ProposalExpired marks a proposal nobody decided in time: its data has
	// gone stale, so it is never sent.
	ProposalExpired = "expired"
)

// BatchKey writes the id of a batch, the proposals one rule made in one
// run (what a reviewer approves or rejects at once): "3/cheaper-plan".
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

// Proposal is one benefit proposed to one customer by one rule.
type Proposal struct {
	ID          int64
	RunID       int64
	Ruleset     string
	RuleID      string
	RuleVersion string
	CustomerID  int64
	Kind        string
	// Value is the yearly value to the customer in minor units.
	Value    int64
	Currency string
	// Offer is a JSON object of the rule's offer fields.
	Offer json.RawMessage
	// Evidence is the JSON of rules.Evidence: named values and facts read.
	Evidence  json.RawMessage
	Status    string
	AsOf      time.Time
	CreatedAt time.Time
	// AccountNo is the customer's account number as the run read it
	// (customers.account_no). It is not stored: only a run's samples
	// carry it; elsewhere read the customer from the billing data.
	AccountNo string
}

// insertBatch is how many proposals one INSERT statement carries.
const insertBatch = 500

// Tally counts the proposals of one rule that were stored and their total
// yearly value. Count and Value leave out the control group, which Control
// counts.
type Tally struct {
	Count   int64
	Value   int64
	Control int64
}

// InsertProposals stores proposals, skipping any that would repeat a
// proposal of the same ruleset, rule, customer and day, and returns what it
// stored per rule. The whole call is one transaction.
func InsertProposals(ctx context.Context, db database.Querier, ps []Proposal) (map[string]Tally, error) {
	stored := map[string]Tally{}
	if len(ps) == 0 {
		return stored, nil
	}
	if db.IsPostgres() {
		return copyProposals(ctx, db, ps)
	}
	tx, err := database.Begin(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("insert proposals: %w", err)
	}
	defer tx.Rollback()
	const cols = 13
	for start := 0; start < len(ps); start += insertBatch {
		batch := ps[start:min(start+insertBatch, len(ps))]
		var q strings.Builder
		q.WriteString(`INSERT INTO proposals (` + proposalColumns + `) VALUES `)
		args := make([]any, 0, len(batch)*cols)
		for i, p := range batch {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, p.RunID, p.Ruleset, p.RuleID, p.RuleVersion, p.CustomerID, p.Kind, p.Value, p.Currency,
				string(p.Offer), string(p.Evidence), proposalStatus(p), database.Date(p.AsOf), p.CreatedAt.UTC())
		}
		q.WriteString(` ON CONFLICT (ruleset, rule_id, customer_id, as_of) DO NOTHING RETURNING rule_id, value, status`)
		rows, err := tx.QueryContext(ctx, db.Rebind(q.String()), args...)
		if err := tallyStored(rows, err, stored); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("insert proposals: %w", err)
	}
	return stored, nil
}

// proposalColumns are the columns a new proposal sets.
const proposalColumns = `run_id, ruleset, rule_id, rule_version, customer_id, kind, value, currency, offer, evidence, status, as_of, created_at`

// ProposalColumns are the columns of a stored proposal that ScanProposal
// reads, in its order: SELECT `+store.ProposalColumns+` FROM proposals.
const ProposalColumns = "id, " + proposalColumns

// ScanProposal scans a row of ProposalColumns into p, followed by the
// columns of extra, the destinations of any columns selected after them.
func ScanProposal(row interface{ Scan(...any) error }, p *Proposal, extra ...any) error {
	var offer, evidence []byte
	dest := []any{&p.ID, &p.RunID, &p.Ruleset, &p.RuleID, &p.RuleVersion, &p.CustomerID, &p.Kind, &p.Value,
		&p.Currency, &offer, &evidence, &p.Status, database.Time(&p.AsOf), database.Time(&p.CreatedAt)}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return err
	}
	p.Offer, p.Evidence = offer, evidence
	return nil
}

// ScanProposals reads rows of ProposalColumns and closes them; what names
// the query in errors.
func ScanProposals(rows *sql.Rows, what string) ([]Proposal, error) {
	defer rows.Close()
	var out []Proposal
	for rows.Next() {
		var p Proposal
		if err := ScanProposal(rows, &p); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// copyProposals stores proposals on PostgreSQL. It copies them straight
// into proposals, which is all a batch costs when none of them repeats a
// stored proposal; when one does, the copy fails on the unique constraint,
// is rolled back to a savepoint, and the batch is copied into a staging
// table instead and inserted from it with ON CONFLICT DO NOTHING, which
// skips the repeats.
func copyProposals(ctx context.Context, db database.Querier, ps []Proposal) (map[string]Tally, error) {
	tx, err := database.Begin(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("insert proposals: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SAVEPOINT proposals_copy`); err != nil {
		return nil, fmt.Errorf("insert proposals: %w", err)
	}
	stored := map[string]Tally{}
	err = copyRows(ctx, tx, "proposals", ps)
	switch {
	case err == nil:
		for _, p := range ps {
			t := stored[p.RuleID]
			t.Add(proposalStatus(p), p.Value)
			stored[p.RuleID] = t
		}
	case isUniqueViolation(err):
		if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT proposals_copy`); err != nil {
			return nil, fmt.Errorf("insert proposals: %w", err)
		}
		if stored, err = stageProposals(ctx, tx, ps); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("insert proposals: %w", err)
	}
	return stored, nil
}

// stageProposals copies proposals into a staging table and inserts them
// from it into proposals with one INSERT … ON CONFLICT DO NOTHING, in tx.
func stageProposals(ctx context.Context, tx *database.Tx, ps []Proposal) (map[string]Tally, error) {
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE proposals_stage (
		run_id BIGINT, ruleset TEXT, rule_id TEXT, rule_version TEXT, customer_id BIGINT, kind TEXT, value BIGINT,
		currency TEXT, offer JSON, evidence JSON, status TEXT, as_of DATE, created_at TIMESTAMPTZ) ON COMMIT DROP`); err != nil {
		return nil, fmt.Errorf("insert proposals: staging table: %w", err)
	}
	if err := copyRows(ctx, tx, "proposals_stage", ps); err != nil {
		return nil, err
	}
	stored := map[string]Tally{}
	rows, err := tx.QueryContext(ctx, `INSERT INTO proposals (`+proposalColumns+`)
		SELECT `+proposalColumns+` FROM proposals_stage
		ON CONFLICT (ruleset, rule_id, customer_id, as_of) DO NOTHING RETURNING rule_id, value, status`)
	if err := tallyStored(rows, err, stored); err != nil {
		return nil, err
	}
	return stored, nil
}

// copyRows copies proposals into table, which has proposalColumns, in tx.
func copyRows(ctx context.Context, tx *database.Tx, table string, ps []Proposal) error {
	stmt, err := tx.PrepareContext(ctx, pq.CopyIn(table, strings.Split(strings.ReplaceAll(proposalColumns, " ", ""), ",")...))
	if err != nil {
		return fmt.Errorf("insert proposals: copy: %w", err)
	}
	for _, p := range ps {
		if _, err := stmt.ExecContext(ctx, p.RunID, p.Ruleset, p.RuleID, p.RuleVersion, p.CustomerID, p.Kind, p.Value, p.Currency,
			string(p.Offer), string(p.Evidence), proposalStatus(p), database.Date(p.AsOf), p.CreatedAt.UTC()); err != nil {
			stmt.Close()
			return fmt.Errorf("insert proposals: copy: %w", err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		stmt.Close()
		return fmt.Errorf("insert proposals: copy: %w", err)
	}
	if err := stmt.Close(); err != nil {
		return fmt.Errorf("insert proposals: copy: %w", err)
	}
	return nil
}

// proposalStatus is the status p is stored with: its own, or pending.
func proposalStatus(p Proposal) string {
	if p.Status == "" {
		return ProposalPending
	}
	return p.Status
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation.
func isUniqueViolation(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "23505"
}

// tallyStored adds the (rule_id, value, status) rows an INSERT … RETURNING
// gave to stored, and closes them.
func tallyStored(rows *sql.Rows, err error, stored map[string]Tally) error {
	if err != nil {
		return fmt.Errorf("insert proposals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rule, status string
		var value int64
		if err := rows.Scan(&rule, &value, &status); err != nil {
			return fmt.Errorf("insert proposals: %w", err)
		}
		t := stored[rule]
		t.Add(status, value)
		stored[rule] = t
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("insert proposals: %w", err)
	}
	return rows.Close()
}

// Add counts one stored proposal of the given status and value.
func (t *Tally) Add(status string, value int64) {
	if status == ProposalControl {
		t.Control++
		return
	}
	t.Count++
	t.Value += value
}

// ProposalKey identifies an earlier proposal for cooldown checks.
type ProposalKey struct {
	RuleID     string
	CustomerID int64
	Status     string
	AsOf       time.Time
}

// RecentQuery selects a ruleset's earlier proposals that can hold back a
// new one (see RecentProposals).
type RecentQuery struct {
	Ruleset string
	// Since is the first day of the ruleset's longest cooldown.
	Since time.Time
	// From and To bound the customers' ids, To excluded; zero To bounds
	// nothing.
	From, To int64
	// ExcludeRuns are runs whose proposals are left out: a sharded run's
	// shard that is evaluated again must not be held back by its own first
	// pass.
	ExcludeRuns []int64
}

// RecentProposals calls fn with each of the ruleset's proposals that is
// still pending or was made on or after q.Since: the ones that can hold
// back a new proposal. They stream, so that a run holding back a million
// customers does not hold their keys twice.
//
// Withdrawn proposals and those of failed runs are not among them (see
// withdrawRun).
func RecentProposals(ctx context.Context, db database.Querier, q RecentQuery, fn func(ProposalKey) error) error {
	var where database.Where
	where.And("ruleset = ?", q.Ruleset)
	where.And("status <> ?", ProposalHeld)
	where.And("(status = ? OR as_of >= ?)", ProposalPending, database.Date(q.Since))
	where.AndIf(q.From != 0, "customer_id >= ?", q.From)
	where.AndIf(q.To != 0, "customer_id < ?", q.To)
	rows, err := db.QueryContext(ctx, db.Rebind(`SELECT rule_id, customer_id, status, as_of FROM proposals`+
		where.String()+notFailed+notInRuns(q.ExcludeRuns)), where.Args...)
	if err != nil {
		return fmt.Errorf("recent proposals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k ProposalKey
		if err := rows.Scan(&k.RuleID, &k.CustomerID, &k.Status, database.Time(&k.AsOf)); err != nil {
			return fmt.Errorf("recent proposals: %w", err)
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("recent proposals: %w", err)
	}
	return nil
}

// ProposalFilter selects proposals to list; zero fields select all.
type ProposalFilter struct {
	RunID      int64
	Ruleset    string
	RuleID     string
	CustomerID int64
	Status     string
	// AsOf selects the proposals of one day.
	AsOf  time.Time
	Limit int
}

// ListProposals returns proposals matching the filter, ordered by rule and
// customer.
func ListProposals(ctx context.Context, db database.Querier, f ProposalFilter) ([]Proposal, error) {
	var where database.Where
	where.AndIf(f.RunID != 0, "run_id = ?", f.RunID)
	where.AndIf(f.Ruleset != "", "ruleset = ?", f.Ruleset)
	where.AndIf(f.RuleID != "", "rule_id = ?", f.RuleID)
	where.AndIf(f.CustomerID != 0, "customer_id = ?", f.CustomerID)
	where.AndIf(f.Status != "", "status = ?", f.Status)
	where.AndIf(!f.AsOf.IsZero(), "as_of = ?", database.Date(f.AsOf))
	q := `SELECT ` + ProposalColumns + ` FROM proposals` + where.String()
	q += " ORDER BY rule_id, customer_id, as_of"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := db.QueryContext(ctx, db.Rebind(q), where.Args...)
	if err != nil {
		return nil, fmt.Errorf("list proposals: %w", err)
	}
	return ScanProposals(rows, "list proposals")
}

// LatestProposalDay returns the most recent day the ruleset made proposals,
// or ErrNotFound.
func LatestProposalDay(ctx context.Context, db database.Querier, ruleset string) (time.Time, error) {
	var day time.Time
	var n int
	err := db.QueryRowContext(ctx, db.Rebind(`SELECT count(*), MAX(CAST(as_of AS TEXT)) FROM proposals WHERE ruleset = ?`), ruleset).
		Scan(&n, database.Time(&day))
	if err != nil {
		return time.Time{}, fmt.Errorf("latest proposals of %s: %w", ruleset, err)
	}
	if n == 0 {
		return time.Time{}, fmt.Errorf("latest proposals of %s: %w", ruleset, ErrNotFound)
	}
	return day, nil
}

// HoldProposals marks the pending proposals of a rule in a run as held and
// returns how many it marked.
func HoldProposals(ctx context.Context, db database.Querier, runID int64, ruleID string) (int64, error) {
	res, err := db.ExecContext(ctx, db.Rebind(`UPDATE proposals SET status = ? WHERE run_id = ? AND rule_id = ? AND status = ?`),
		ProposalHeld, runID, ruleID, ProposalPending)
	if err != nil {
		return 0, fmt.Errorf("hold proposals of %s in run %d: %w", ruleID, runID, err)
	}
	return res.RowsAffected()
}

// notInRuns returns a condition leaving out the given runs' proposals.
func notInRuns(ids []int64) string {
	if len(ids) == 0 {
		return ""
	}
	return " AND run_id NOT IN (" + idList(ids) + ")"
}
