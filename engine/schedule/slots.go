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

// Slot statuses. A claimed slot is running until it finishes as succeeded,
// failed or cancelled (the process was shut down during the run, so the
// slot may be claimed and run again). A slot is skipped when the ruleset's
// previous run was still going, and missed when a process starting after
// a pause ran a later slot of the same ruleset instead.
const (
	SlotRunning   = "running"
	SlotSucceeded = "succeeded"
	SlotFailed    = "failed"
	SlotCancelled = "cancelled"
	SlotSkipped   = "skipped"
	SlotMissed    = "missed"
)

// SlotRecord is a Slot as recorded in schedule_slots: who claimed it, when,
// and how it ended.
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

// ClaimSlot records a slot as claimed by s.ClaimedBy and reports whether
// this call claimed it: the first insert of a ruleset and nominal time wins
// and every later one does nothing, in any number of processes. A running
// claim may also take over a slot left cancelled by a shutdown. A claim
// with another status (skipped, missed) is recorded finished.
func ClaimSlot(ctx context.Context, db database.Querier, s *SlotRecord) (bool, error) {
	if s.Status == "" {
		s.Status = SlotRunning
	}
	var finished any
	if s.Status != SlotRunning {
		s.FinishedAt = s.ClaimedAt
		finished = s.FinishedAt.UTC()
	}
	res, err := db.ExecContext(ctx, db.Rebind(
		`INSERT INTO schedule_slots (ruleset, nominal, zone, due_at, claimed_at, claimed_by, finished_at, status, error, run_id)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ruleset, nominal) DO NOTHING`),
		s.Ruleset, s.Nominal, s.Zone, s.DueAt.UTC(), s.ClaimedAt.UTC(), s.ClaimedBy, finished, s.Status, s.Error, nullID(s.RunID))
	if err != nil {
		return false, fmt.Errorf("claim slot %s %s: %w", s.Ruleset, s.Nominal, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, fmt.Errorf("claim slot %s %s: %w", s.Ruleset, s.Nominal, err)
	} else if n == 1 {
		return true, nil
	}
	if s.Status != SlotRunning {
		return false, nil
	}
	// One UPDATE of one row: when two processes race, the second finds the
	// status no longer cancelled and changes nothing.
	res, err = db.ExecContext(ctx, db.Rebind(
		`UPDATE schedule_slots SET zone = ?, due_at = ?, claimed_at = ?, claimed_by = ?, finished_at = NULL,
		     status = ?, error = '', run_id = NULL
		 WHERE ruleset = ? AND nominal = ? AND status = ?`),
		s.Zone, s.DueAt.UTC(), s.ClaimedAt.UTC(), s.ClaimedBy, SlotRunning, s.Ruleset, s.Nominal, SlotCancelled)
	if err != nil {
		return false, fmt.Errorf("claim slot %s %s: %w", s.Ruleset, s.Nominal, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim slot %s %s: %w", s.Ruleset, s.Nominal, err)
	}
	return n == 1, nil
}

// TakeOverSlot claims for s.ClaimedBy a slot left running by a process
// that is gone, as prev was read, and reports whether it did. The caller
// must hold the ruleset's run lock: that is what shows the other process
// is no longer running it.
func TakeOverSlot(ctx context.Context, db database.Querier, s *SlotRecord, prev SlotRecord) (bool, error) {
	res, err := db.ExecContext(ctx, db.Rebind(
		`UPDATE schedule_slots SET claimed_at = ?, claimed_by = ?, finished_at = NULL, status = ?, error = '', run_id = NULL
		 WHERE ruleset = ? AND nominal = ? AND status = ? AND claimed_by = ?`),
		s.ClaimedAt.UTC(), s.ClaimedBy, SlotRunning, prev.Ruleset, prev.Nominal, SlotRunning, prev.ClaimedBy)
	if err != nil {
		return false, fmt.Errorf("take over slot %s %s: %w", prev.Ruleset, prev.Nominal, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("take over slot %s %s: %w", prev.Ruleset, prev.Nominal, err)
	}
	if n == 1 {
		s.Ruleset, s.Nominal, s.Zone, s.DueAt, s.Status = prev.Ruleset, prev.Nominal, prev.Zone, prev.DueAt, SlotRunning
	}
	return n == 1, nil
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

// RunningSlots returns the slots due at or after since that are recorded
// as running, oldest first.
func RunningSlots(ctx context.Context, db database.Querier, since time.Time) ([]SlotRecord, error) {
	return listSlots(ctx, db, "", SlotRunning, since)
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
