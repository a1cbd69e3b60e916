package schedule

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
)

// Slot statuses. A slot is running from when a process takes its River job
// until it finishes as succeeded, failed or cancelled (the process was shut
// down during the run, and the slot's job runs again). A slot is skipped
// when the ruleset's previous run was still going, and missed when a
// process starting after a pause ran a later slot of the same ruleset
// instead.
const (
	SlotRunning   = "running"
	SlotSucceeded = "succeeded"
	SlotFailed    = "failed"
	SlotCancelled = "cancelled"
	SlotSkipped   = "skipped"
	SlotMissed    = "missed"
)

// SlotRecord is a Slot as recorded in schedule_slots: which process ran
// it (ClaimedBy), when, and how it ended. River decides which process runs
// a slot; this is its history, read by metrics, serve and its tests.
type SlotRecord struct {
	Ruleset string
	// Nominal is the wall-clock time in Zone, as 2006-01-02 15:04.
	Nominal    string
	Zone       string
	DueAt      time.Time
	ClaimedAt  time.Time
	ClaimedBy  string
	FinishedAt time.Time
	Status     string
	Error      string
	// RunID is the run the slot made, or 0.
	RunID int64
}

// RecordSlot records a slot that will not run, with its final status
// (skipped, missed), and reports whether this call recorded it: the first
// record of a ruleset and nominal time wins and every later one does
// nothing, in any number of processes.
func RecordSlot(ctx context.Context, db database.Querier, s *SlotRecord) (bool, error) {
	s.FinishedAt = s.ClaimedAt
	res, err := db.ExecContext(ctx, db.Rebind(
		`INSERT INTO schedule_slots (ruleset, nominal, zone, due_at, claimed_at, claimed_by, finished_at, status, error, run_id)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (ruleset, nominal) DO NOTHING`),
		s.Ruleset, s.Nominal, s.Zone, s.DueAt.UTC(), s.ClaimedAt.UTC(), s.ClaimedBy, s.FinishedAt.UTC(), s.Status, s.Error)
	if err != nil {
		return false, fmt.Errorf("record slot %s %s: %w", s.Ruleset, s.Nominal, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record slot %s %s: %w", s.Ruleset, s.Nominal, err)
	}
	return n == 1, nil
}

// StartSlot records that s.ClaimedBy runs a slot now, with s.Status
// (running, or skipped when it will not run): River gave it the slot's job,
// so whatever an earlier attempt recorded (cancelled by a shutdown, or left
// running by a process that died) is replaced.
func StartSlot(ctx context.Context, db database.Querier, s *SlotRecord) error {
	var finished any
	if s.Status != SlotRunning {
		s.FinishedAt = s.ClaimedAt
		finished = s.FinishedAt.UTC()
	}
	_, err := db.ExecContext(ctx, db.Rebind(
		`INSERT INTO schedule_slots (ruleset, nominal, zone, due_at, claimed_at, claimed_by, finished_at, status, error, run_id)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
		 ON CONFLICT (ruleset, nominal) DO UPDATE SET zone = excluded.zone, due_at = excluded.due_at, claimed_at = excluded.claimed_at,
		     claimed_by = excluded.claimed_by, finished_at = excluded.finished_at, status = excluded.status, error = excluded.error, run_id = NULL`),
		s.Ruleset, s.Nominal, s.Zone, s.DueAt.UTC(), s.ClaimedAt.UTC(), s.ClaimedBy, finished, s.Status, s.Error)
	if err != nil {
		return fmt.Errorf("start slot %s %s: %w", s.Ruleset, s.Nominal, err)
	}
	return nil
}

// FinishSlot records how a claimed slot ended: s.FinishedAt, s.Status,
// s.Error and s.RunID. Only the claimer may finish it.
func FinishSlot(ctx context.Context, db database.Querier, s *SlotRecord) error {
	res, err := db.ExecContext(ctx, db.Rebind(
		`UPDATE schedule_slots SET finished_at = ?, status = ?, error = ?, run_id = ?
		 WHERE ruleset = ? AND nominal = ? AND claimed_by = ?`),
		s.FinishedAt.UTC(), s.Status, s.Error, nullID(s.RunID), s.Ruleset, s.Nominal, s.ClaimedBy)
	if err != nil {
		return fmt.Errorf("finish slot %s %s: %w", s.Ruleset, s.Nominal, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("finish slot %s %s: %w", s.Ruleset, s.Nominal, err)
	}
	if n == 0 {
		return fmt.Errorf("finish slot %s %s: not claimed by %s", s.Ruleset, s.Nominal, s.ClaimedBy)
	}
	return nil
}

const slotColumns = `ruleset, nominal, zone, due_at, claimed_at, claimed_by, finished_at, status, error, run_id`

// GetSlot returns the slot of a ruleset at a nominal time.
func GetSlot(ctx context.Context, db database.Querier, ruleset, nominal string) (*SlotRecord, error) {
	row := db.QueryRowxContext(ctx, db.Rebind(`SELECT `+slotColumns+` FROM schedule_slots WHERE ruleset = ? AND nominal = ?`), ruleset, nominal)
	s, err := scanSlot(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("slot %s %s: %w", ruleset, nominal, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get slot %s %s: %w", ruleset, nominal, err)
	}
	return s, nil
}

// ListSlots returns the slots of a ruleset (of every ruleset when "") due
// at or after since, oldest first.
func ListSlots(ctx context.Context, db database.Querier, ruleset string, since time.Time) ([]SlotRecord, error) {
	return listSlots(ctx, db, ruleset, "", since)
}

func listSlots(ctx context.Context, db database.Querier, ruleset, status string, since time.Time) ([]SlotRecord, error) {
	q := `SELECT ` + slotColumns + ` FROM schedule_slots WHERE due_at >= ?`
	args := []any{since.UTC()}
	if ruleset != "" {
		q += ` AND ruleset = ?`
		args = append(args, ruleset)
	}
	if status != "" {
		q += ` AND status = ?`
		args = append(args, status)
	}
	q += ` ORDER BY due_at, ruleset, nominal`
	rows, err := db.QueryxContext(ctx, db.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list slots: %w", err)
	}
	defer rows.Close()
	var out []SlotRecord
	for rows.Next() {
		s, err := scanSlot(rows)
		if err != nil {
			return nil, fmt.Errorf("list slots: %w", err)
		}
		out = append(out, *s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list slots: %w", err)
	}
	return out, nil
}

func scanSlot(row interface{ Scan(...any) error }) (*SlotRecord, error) {
	var s SlotRecord
	var runID sql.NullInt64
	if err := row.Scan(&s.Ruleset, &s.Nominal, &s.Zone, database.Time(&s.DueAt), database.Time(&s.ClaimedAt), &s.ClaimedBy,
		database.Time(&s.FinishedAt), &s.Status, &s.Error, &runID); err != nil {
		return nil, err
	}
	s.RunID = runID.Int64
	return &s, nil
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
