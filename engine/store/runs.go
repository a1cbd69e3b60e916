package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/goodturn/goodturn/engine/database"
)

// Run statuses.
const (
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
)

// Run is one evaluation of a ruleset over the customers.
type Run struct {
	ID         int64
	Ruleset    string
	DryRun     bool
	AsOf       time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	Status     string
	Customers  int64
	Proposals  int64
	Errors     int64
	Error      string
	// HeartbeatAt is the last time, on the wall clock, the process running
	// the run said it was alive (see KeepAlive); zero if it never did.
	HeartbeatAt time.Time
	Rules       []RunRule
	// Refused counts the customers left out because their billing rows
	// break the facts contract; Refusals holds a few of them with why.
	Refused  int64
	Refusals []ErrorSample
}

// RunRule is what one rule did in a run.
type RunRule struct {
	RuleID      string
	RuleVersion string
	Kind        string
	// Matched counts customers for whom `when` was true.
	Matched int64
	// Proposals counts proposals stored.
	Proposals int64
	// Skipped counts matches held back because the customer already has a
	// pending proposal of the rule or had one within its cooldown.
	Skipped int64
	// Errors counts customers the rule failed on.
	Errors int64
	// Value is the total yearly value of the proposals stored.
	Value int64
	// Control counts the matches kept as the rule's control group: stored
	// with status control, never reviewed or sent, and not in Proposals.
	Control int64
	// ErrorSamples holds a few of the failures with their customers.
	ErrorSamples []ErrorSample
}

// ErrorSample is one customer a rule failed on.
type ErrorSample struct {
	CustomerID int64  `json:"customer_id"`
	Error      string `json:"error"`
}

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// ErrExists is returned when a row with the same key already exists.
var ErrExists = errors.New("already exists")

// CreateRun records the start of a run and sets its ID. Its first
// heartbeat is r.HeartbeatAt, or now on the wall clock when that is zero.
func CreateRun(ctx context.Context, db database.Querier, r *Run) error {
	if r.Status == "" {
		r.Status = RunRunning
	}
	if r.HeartbeatAt.IsZero() {
		r.HeartbeatAt = time.Now()
	}
	err := db.QueryRowxContext(ctx, db.Rebind(
		`INSERT INTO runs (ruleset, dry_run, as_of, started_at, status, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
		r.Ruleset, r.DryRun, database.Date(r.AsOf), r.StartedAt.UTC(), r.Status, r.HeartbeatAt.UTC()).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	return nil
}

// FinishRun records the end of a run with its totals and per-rule results.
// A failed run's proposals are withdrawn in the same transaction (see
// WithdrawRun): only a run that succeeded proposes anything.
func FinishRun(ctx context.Context, db database.Querier, r *Run) error {
	tx, err := database.Begin(ctx, db)
	if err != nil {
		return fmt.Errorf("finish run %d: %w", r.ID, err)
	}
	defer tx.Rollback()
	refusals, err := json.Marshal(nonNil(r.Refusals))
	if err != nil {
		return fmt.Errorf("finish run %d: %w", r.ID, err)
	}
	if _, err := tx.ExecContext(ctx, db.Rebind(
		`UPDATE runs SET finished_at = ?, status = ?, customers = ?, proposals = ?, errors = ?, error = ?, refused = ?, refusals = ? WHERE id = ?`),
		r.FinishedAt.UTC(), r.Status, r.Customers, r.Proposals, r.Errors, r.Error, r.Refused, string(refusals), r.ID); err != nil {
		return fmt.Errorf("finish run %d: %w", r.ID, err)
	}
	for _, rr := range r.Rules {
		samples, err := json.Marshal(nonNil(rr.ErrorSamples))
		if err != nil {
			return fmt.Errorf("finish run %d: %w", r.ID, err)
		}
		if _, err := tx.ExecContext(ctx, db.Rebind(
			`INSERT INTO run_rules (run_id, rule_id, rule_version, kind, matched, proposals, skipped, errors, value, error_samples, control)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			r.ID, rr.RuleID, rr.RuleVersion, rr.Kind, rr.Matched, rr.Proposals, rr.Skipped, rr.Errors, rr.Value, string(samples), rr.Control); err != nil {
			return fmt.Errorf("finish run %d: rule %s: %w", r.ID, rr.RuleID, err)
		}
	}
	if r.Status == RunFailed {
		if _, err := withdrawRun(ctx, tx, r.ID, fmt.Sprintf("run %d failed: %s", r.ID, r.Error), time.Now()); err != nil {
			return fmt.Errorf("finish run %d: %w", r.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("finish run %d: %w", r.ID, err)
	}
	return nil
}

// runColumns are the columns of runs that runDest scans.
const runColumns = `id, ruleset, dry_run, as_of, started_at, finished_at, status, customers, proposals, errors, error, heartbeat_at`

// runDest returns the scan destinations of runColumns; the caller copies
// errText into r.Error after the scan.
func runDest(r *Run, errText *sql.NullString) []any {
	return []any{&r.ID, &r.Ruleset, &r.DryRun, database.Time(&r.AsOf), database.Time(&r.StartedAt), database.Time(&r.FinishedAt),
		&r.Status, &r.Customers, &r.Proposals, &r.Errors, errText, database.Time(&r.HeartbeatAt)}
}

func nonNil(s []ErrorSample) []ErrorSample {
	if s == nil {
		return []ErrorSample{}
	}
	return s
}

// GetRun returns a run with its per-rule results.
func GetRun(ctx context.Context, db database.Querier, id int64) (*Run, error) {
	r := &Run{}
	var (
		errText  sql.NullString
		refusals []byte
	)
	err := db.QueryRowxContext(ctx, db.Rebind(
		`SELECT `+runColumns+`, refused, refusals FROM runs WHERE id = ?`), id).
		Scan(append(runDest(r, &errText), &r.Refused, &refusals)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get run %d: %w", id, err)
	}
	r.Error = errText.String
	if r.Refused > 0 && len(refusals) > 0 {
		if err := json.Unmarshal(refusals, &r.Refusals); err != nil {
			return nil, fmt.Errorf("get run %d: refusals: %w", id, err)
		}
	}
	rows, err := db.QueryxContext(ctx, db.Rebind(
		`SELECT rule_id, rule_version, kind, matched, proposals, skipped, errors, value, error_samples, control
		 FROM run_rules WHERE run_id = ? ORDER BY rule_id`), id)
	if err != nil {
		return nil, fmt.Errorf("get run %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var rr RunRule
		var samples []byte
		if err := rows.Scan(&rr.RuleID, &rr.RuleVersion, &rr.Kind, &rr.Matched, &rr.Proposals, &rr.Skipped, &rr.Errors, &rr.Value, &samples, &rr.Control); err != nil {
			return nil, fmt.Errorf("get run %d: %w", id, err)
		}
		if err := json.Unmarshal(samples, &rr.ErrorSamples); err != nil {
			return nil, fmt.Errorf("get run %d: error samples: %w", id, err)
		}
		r.Rules = append(r.Rules, rr)
	}
	return r, rows.Err()
}

// RunFilter selects runs to list; zero fields select all.
type RunFilter struct {
	// Ruleset selects the runs of one ruleset.
	Ruleset string
	// Limit caps how many runs are returned, newest first; 0 means no cap.
	Limit int
	// IncludeDry includes dry runs, which are left out by default.
	IncludeDry bool
}

// ListRuns returns the runs matching the filter, newest first, each with its
// per-rule results ordered by rule id. It is one query whatever the number
// of runs.
func ListRuns(ctx context.Context, db database.Querier, f RunFilter) ([]Run, error) {
	var where database.Where
	where.AndIf(f.Ruleset != "", "ruleset = ?", f.Ruleset)
	where.AndIf(!f.IncludeDry, "dry_run = ?", false)
	runs := `SELECT ` + runColumns + ` FROM runs` + where.String()
	runs += " ORDER BY id DESC"
	if f.Limit > 0 {
		runs += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	// The runs are chosen in a derived table so that the limit counts runs,
	// not rule rows; a run without rule rows (still running) is kept.
	q := `SELECT r.id, r.ruleset, r.dry_run, r.as_of, r.started_at, r.finished_at, r.status, r.customers, r.proposals, r.errors, r.error,
		r.heartbeat_at, rr.rule_id, rr.rule_version, rr.kind, rr.matched, rr.proposals, rr.skipped, rr.errors, rr.value, rr.error_samples, rr.control
		FROM (` + runs + `) r LEFT JOIN run_rules rr ON rr.run_id = r.id
		ORDER BY r.id DESC, rr.rule_id`
	rows, err := db.QueryContext(ctx, db.Rebind(q), where.Args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var (
			r       Run
			errText sql.NullString
			ruleID  sql.NullString
			version sql.NullString
			kind    sql.NullString
			nums    [6]sql.NullInt64
			samples []byte
		)
		if err := rows.Scan(append(runDest(&r, &errText),
			&ruleID, &version, &kind, &nums[0], &nums[1], &nums[2], &nums[3], &nums[4], &samples, &nums[5])...); err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ID != r.ID {
			r.Error = errText.String
			out = append(out, r)
		}
		if !ruleID.Valid {
			continue
		}
		rr := RunRule{RuleID: ruleID.String, RuleVersion: version.String, Kind: kind.String, Matched: nums[0].Int64,
			Proposals: nums[1].Int64, Skipped: nums[2].Int64, Errors: nums[3].Int64, Value: nums[4].Int64, Control: nums[5].Int64}
		if len(samples) > 0 {
			if err := json.Unmarshal(samples, &rr.ErrorSamples); err != nil {
				return nil, fmt.Errorf("list runs: run %d: error samples: %w", r.ID, err)
			}
		}
		last := &out[len(out)-1]
		last.Rules = append(last.Rules, rr)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}
