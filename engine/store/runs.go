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
	Rules      []RunRule
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

// CreateRun records the start of a run and sets its ID.
func CreateRun(ctx context.Context, db *database.DB, r *Run) error {
	if r.Status == "" {
		r.Status = RunRunning
	}
	err := db.QueryRowxContext(ctx, db.Rebind(
		`INSERT INTO runs (ruleset, dry_run, as_of, started_at, status) VALUES (?, ?, ?, ?, ?) RETURNING id`),
		r.Ruleset, r.DryRun, database.Date(r.AsOf), r.StartedAt.UTC(), r.Status).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	return nil
}

// FinishRun records the end of a run with its totals and per-rule results.
func FinishRun(ctx context.Context, db *database.DB, r *Run) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("finish run %d: %w", r.ID, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, db.Rebind(
		`UPDATE runs SET finished_at = ?, status = ?, customers = ?, proposals = ?, errors = ?, error = ? WHERE id = ?`),
		r.FinishedAt.UTC(), r.Status, r.Customers, r.Proposals, r.Errors, r.Error, r.ID); err != nil {
		return fmt.Errorf("finish run %d: %w", r.ID, err)
	}
	for _, rr := range r.Rules {
		samples, err := json.Marshal(nonNil(rr.ErrorSamples))
		if err != nil {
			return fmt.Errorf("finish run %d: %w", r.ID, err)
		}
		if _, err := tx.ExecContext(ctx, db.Rebind(
			`INSERT INTO run_rules (run_id, rule_id, rule_version, kind, matched, proposals, skipped, errors, value, error_samples)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			r.ID, rr.RuleID, rr.RuleVersion, rr.Kind, rr.Matched, rr.Proposals, rr.Skipped, rr.Errors, rr.Value, string(samples)); err != nil {
			return fmt.Errorf("finish run %d: rule %s: %w", r.ID, rr.RuleID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("finish run %d: %w", r.ID, err)
	}
	return nil
}

func nonNil(s []ErrorSample) []ErrorSample {
	if s == nil {
		return []ErrorSample{}
	}
	return s
}

// GetRun returns a run with its per-rule results.
func GetRun(ctx context.Context, db *database.DB, id int64) (*Run, error) {
	r := &Run{}
	var errText sql.NullString
	err := db.QueryRowxContext(ctx, db.Rebind(
		`SELECT id, ruleset, dry_run, as_of, started_at, finished_at, status, customers, proposals, errors, error FROM runs WHERE id = ?`), id).
		Scan(&r.ID, &r.Ruleset, &r.DryRun, database.Time(&r.AsOf), database.Time(&r.StartedAt), database.Time(&r.FinishedAt),
			&r.Status, &r.Customers, &r.Proposals, &r.Errors, &errText)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get run %d: %w", id, err)
	}
	r.Error = errText.String
	rows, err := db.QueryxContext(ctx, db.Rebind(
		`SELECT rule_id, rule_version, kind, matched, proposals, skipped, errors, value, error_samples
		 FROM run_rules WHERE run_id = ? ORDER BY rule_id`), id)
	if err != nil {
		return nil, fmt.Errorf("get run %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var rr RunRule
		var samples []byte
		if err := rows.Scan(&rr.RuleID, &rr.RuleVersion, &rr.Kind, &rr.Matched, &rr.Proposals, &rr.Skipped, &rr.Errors, &rr.Value, &samples); err != nil {
			return nil, fmt.Errorf("get run %d: %w", id, err)
		}
		if err := json.Unmarshal(samples, &rr.ErrorSamples); err != nil {
			return nil, fmt.Errorf("get run %d: error samples: %w", id, err)
		}
		r.Rules = append(r.Rules, rr)
	}
	return r, rows.Err()
}
