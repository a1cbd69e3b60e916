// Package outboxdb holds the outbox table and its SQL: the messages and
// billing actions the outbox stage (notify/outbox) delivers, with their
// idempotency keys, delivery states and the River job that sends each. The
// table is created by the one set of migrations in engine/store/migrations.
package outboxdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
)

// Outbox statuses. A row is queued until its send job marks it sending,
// with the attempt, just before it hands the message to a channel; then
// sent, queued again after a failure (River retries the job), or dead when
// River gives the job up (discarded after its last attempt, or cancelled
// on a permanent failure). A skipped row is never sent (no address, or the
// customer opted out of contact after the proposal was made) and has no
// job.
const (
	Queued  = "queued"
	Sending = "sending"
	Sent    = "sent"
	Dead    = "dead"
	Skipped = "skipped"
)

// Message is one row of the outbox.
type Message struct {
	ID         int64
	Key        string
	ProposalID int64
	CustomerID int64
	Channel    string
	// Recipient is the email address or phone number; RecipientName the
	// customer's name.
	Recipient     string
	RecipientName string
	Timezone      string
	Status        string
	// Attempts counts the times the message was handed to its channel.
	Attempts  int
	LastError string
	SentAt    time.Time
	Subject   string
	Text      string
	HTML      string
	SMS       string
	// Payload is the JSON body of a billing action.
	Payload   string
	CreatedAt time.Time
	// AccountNo is the customer's own account number; "" if none.
	AccountNo string
	// JobID is the River job that sends the message; 0 when it has none
	// (skipped, or left by a version of goodturn before River).
	JobID int64
}

const outboxColumns = `id, idempotency_key, proposal_id, customer_id, channel, recipient, recipient_name, timezone, status,
	attempts, last_error, sent_at, subject, text_body, html_body, sms, payload, created_at, account_no, job_id`

func scanOutbox(rows interface{ Scan(...any) error }) (Message, error) {
	var m Message
	var job sql.NullInt64
	err := rows.Scan(&m.ID, &m.Key, &m.ProposalID, &m.CustomerID, &m.Channel, &m.Recipient, &m.RecipientName, &m.Timezone,
		&m.Status, &m.Attempts, &m.LastError, database.Time(&m.SentAt), &m.Subject,
		&m.Text, &m.HTML, &m.SMS, &m.Payload, database.Time(&m.CreatedAt), &m.AccountNo, &job)
	m.JobID = job.Int64
	return m, err
}

func collectOutbox(rows *sql.Rows, err error, what string) ([]Message, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// Approved selects approved proposals: one proposal, a batch (a run's
// proposals of one rule), or with zero fields all of them.
type Approved struct {
	ProposalID int64
	RunID      int64
	RuleID     string
}

// ApprovedWithoutMessage returns up to limit approved proposals of the
// selection with ids above afterID that have no outbox row yet, in id
// order.
func ApprovedWithoutMessage(ctx context.Context, db database.Querier, sel Approved, afterID int64, limit int) ([]store.Proposal, error) {
	var where database.Where
	where.And("status = ?", store.ProposalApproved)
	where.And("id > ?", afterID)
	where.AndIf(sel.ProposalID != 0, "id = ?", sel.ProposalID)
	where.AndIf(sel.RunID != 0, "run_id = ?", sel.RunID)
	where.AndIf(sel.RuleID != "", "rule_id = ?", sel.RuleID)
	q := `SELECT ` + store.ProposalColumns + ` FROM proposals p` + where.String() +
		` AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.proposal_id = p.id) ORDER BY id`
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := db.QueryContext(ctx, db.Rebind(q), where.Args...)
	if err != nil {
		return nil, fmt.Errorf("approved proposals: %w", err)
	}
	return store.ScanProposals(rows, "approved proposals")
}

// Enqueue inserts messages, skipping any whose idempotency key is already
// in the outbox, and returns those it inserted with their ids. A message's
// Status defaults to queued. Given a transaction, it inserts in it, so
// that the caller can add each message's send job to the same one.
func Enqueue(ctx context.Context, db database.Querier, ms []Message) ([]Message, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	tx, err := database.Begin(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	defer tx.Rollback()
	q := db.Rebind(`INSERT INTO outbox (idempotency_key, proposal_id, customer_id, channel, recipient, recipient_name, timezone,
		status, attempts, last_error, subject, text_body, html_body, sms, payload, created_at, account_no)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`)
	var out []Message
	for _, m := range ms {
		if m.Status == "" {
			m.Status = Queued
		}
		err := tx.QueryRowContext(ctx, q, m.Key, m.ProposalID, m.CustomerID, m.Channel, m.Recipient, m.RecipientName, m.Timezone,
			m.Status, m.LastError, m.Subject, m.Text, m.HTML, m.SMS, m.Payload, m.CreatedAt.UTC(), m.AccountNo).Scan(&m.ID)
		if errors.Is(err, sql.ErrNoRows) {
			continue // enqueued already
		}
		if err != nil {
			return nil, fmt.Errorf("enqueue %s: %w", m.Key, err)
		}
		out = append(out, m)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	return out, nil
}

// SetJob records the River job that sends message id.
func SetJob(ctx context.Context, db database.Querier, id, jobID int64) error {
	return updateOutbox(ctx, db, id, "set job", `UPDATE outbox SET job_id = ? WHERE id = ?`, jobID, id)
}

// Unscheduled returns up to limit messages with ids above afterID that
// wait to be sent (queued, or left sending) but have no send job: those an
// installation enqueued before its sender was River's. In id order.
func Unscheduled(ctx context.Context, db database.Querier, afterID int64, limit int) ([]Message, error) {
	rows, err := db.QueryContext(ctx, db.Rebind(`SELECT `+outboxColumns+` FROM outbox
		WHERE status IN (?, ?) AND job_id IS NULL AND id > ? ORDER BY id LIMIT `+fmt.Sprint(limit)), Queued, Sending, afterID)
	return collectOutbox(rows, err, "messages without a send job")
}

// Abandoned makes dead the messages that wait (queued, or sending) while
// River is done with their send job — discarded or cancelled by a process
// that did not record it here (a leader rescuing a job of a kind it does
// not know, an admin in River's UI), deleted, or completed without
// recording the message — and returns how many. It
// reads River's job table by name. A message left sending may have been
// delivered: its last error says so.
func Abandoned(ctx context.Context, db database.Querier) (int64, error) {
	res, err := db.ExecContext(ctx, db.Rebind(`UPDATE outbox SET status = ?, last_error = CASE WHEN status = ?
			THEN ? ELSE ? END
		WHERE status IN (?, ?) AND job_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM river_job j
			WHERE j.id = outbox.job_id AND j.state NOT IN ('discarded', 'cancelled', 'completed'))`),
		Dead, Sending,
		"River gave its send job up while it was being sent: it may have been delivered; retry only if the customer did not get it",
		"River gave its send job up (discarded, cancelled, deleted or finished) before it was sent",
		Queued, Sending)
	if err != nil {
		return 0, fmt.Errorf("abandoned messages: %w", err)
	}
	return res.RowsAffected()
}

// ErrLostClaim reports that an outbox row changed under the caller: it
// was not in the state the caller read it in (a second run of its send
// job got there first).
var ErrLostClaim = errors.New("outbox row changed under its send job")

// MarkSending records, before the message is handed to its channel,
// that attempt number attempts+1 is under way. It returns ErrLostClaim
// when the row no longer has the given attempts count or is no longer
// queued or sending.
func MarkSending(ctx context.Context, db database.Querier, id int64, attempts int) error {
	return updateOutbox(ctx, db, id, "mark sending",
		`UPDATE outbox SET status = ?, attempts = attempts + 1 WHERE id = ? AND attempts = ? AND status IN (?, ?)`,
		Sending, id, attempts, Queued, Sending)
}

// MarkSent records that attempt number attempt was delivered.
func MarkSent(ctx context.Context, db database.Querier, id int64, attempt int, at time.Time) error {
	return updateOutbox(ctx, db, id, "mark sent",
		`UPDATE outbox SET status = ?, sent_at = ?, last_error = '' WHERE id = ? AND attempts = ? AND status = ?`,
		Sent, at.UTC(), id, attempt, Sending)
}

// MarkFailed records that attempt number attempt failed and that the
// message waits, queued, for its job's retry.
func MarkFailed(ctx context.Context, db database.Querier, id int64, attempt int, lastError string) error {
	return updateOutbox(ctx, db, id, "mark failed",
		`UPDATE outbox SET status = ?, last_error = ? WHERE id = ? AND attempts = ? AND status = ?`,
		Queued, lastError, id, attempt, Sending)
}

// MarkDead records that the message is a dead letter, with why: its job
// failed for the last time, failed for good, or was held for an admin.
// The message must be queued or sending.
func MarkDead(ctx context.Context, db database.Querier, id int64, lastError string) error {
	return updateOutbox(ctx, db, id, "mark dead",
		`UPDATE outbox SET status = ?, last_error = ? WHERE id = ? AND status IN (?, ?)`,
		Dead, lastError, id, Queued, Sending)
}

// Retry queues a dead message again and returns it, so that the caller
// retries its send job in the same transaction. It is an error if the row
// does not exist or is not dead.
func Retry(ctx context.Context, db database.Querier, id int64) (Message, error) {
	rows, err := db.QueryContext(ctx, db.Rebind(
		`UPDATE outbox SET status = ? WHERE id = ? AND status = ? RETURNING `+outboxColumns), Queued, id, Dead)
	ms, err := collectOutbox(rows, err, fmt.Sprintf("retry message %d", id))
	if err != nil {
		return Message{}, err
	}
	if len(ms) == 1 {
		return ms[0], nil
	}
	m, err := Get(ctx, db, id)
	if err != nil {
		return Message{}, fmt.Errorf("retry message %d: %w", id, err)
	}
	return Message{}, fmt.Errorf("retry message %d: it is %s, not dead", id, m.Status)
}

// DeadFilter selects dead messages to retry; zero fields select all.
type DeadFilter struct {
	Channel string
	// ErrorContains keeps the messages whose last error contains it,
	// ignoring case.
	ErrorContains string
}

// RetryDead queues again, as Retry does, every dead message the filter
// selects, and returns them.
func RetryDead(ctx context.Context, q database.Querier, f DeadFilter) ([]Message, error) {
	var where database.Where
	where.And("status = ?", Dead)
	where.AndIf(f.Channel != "", "channel = ?", f.Channel)
	if f.ErrorContains != "" {
		pattern := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(f.ErrorContains)) + "%"
		where.And(`LOWER(last_error) LIKE ? ESCAPE '\'`, pattern)
	}
	rows, err := q.QueryContext(ctx, q.Rebind(`UPDATE outbox SET status = ?`+where.String()+` RETURNING `+outboxColumns),
		append([]any{Queued}, where.Args...)...)
	return collectOutbox(rows, err, "retry dead messages")
}

func updateOutbox(ctx context.Context, db database.Querier, id int64, what, q string, args ...any) error {
	res, err := db.ExecContext(ctx, db.Rebind(q), args...)
	if err != nil {
		return fmt.Errorf("outbox %d: %s: %w", id, what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("outbox %d: %s: %w", id, what, err)
	}
	if n != 1 {
		return fmt.Errorf("outbox %d: %s: %w", id, what, ErrLostClaim)
	}
	return nil
}

// Get returns one outbox row, or ErrNotFound.
func Get(ctx context.Context, db database.Querier, id int64) (Message, error) {
	m, err := scanOutbox(db.QueryRowContext(ctx, db.Rebind(`SELECT `+outboxColumns+` FROM outbox WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("message %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("message %d: %w", id, err)
	}
	return m, nil
}

// Filter selects outbox rows to list; zero fields select all.
type Filter struct {
	Status     string
	Channel    string
	ProposalID int64
	Limit      int
}

// List returns the outbox rows matching the filter, newest first.
func List(ctx context.Context, db database.Querier, f Filter) ([]Message, error) {
	var where database.Where
	where.AndIf(f.Status != "", "status = ?", f.Status)
	where.AndIf(f.Channel != "", "channel = ?", f.Channel)
	where.AndIf(f.ProposalID != 0, "proposal_id = ?", f.ProposalID)
	q := `SELECT ` + outboxColumns + ` FROM outbox` + where.String() + ` ORDER BY id DESC`
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := db.QueryContext(ctx, db.Rebind(q), where.Args...)
	return collectOutbox(rows, err, "list outbox")
}

// Counts returns how many rows each channel has in each status:
// counts[channel][status]. With statuses, it counts only those (through
// the index on status, without reading the sent rows).
func Counts(ctx context.Context, db database.Querier, statuses ...string) (map[string]map[string]int, error) {
	q, args := `SELECT channel, status, count(*) FROM outbox`, []any{}
	if len(statuses) > 0 {
		q += ` WHERE status IN (?` + strings.Repeat(", ?", len(statuses)-1) + `)`
		for _, st := range statuses {
			args = append(args, st)
		}
	}
	out, err := database.GroupCounts[int](ctx, db, db.Rebind(q+` GROUP BY channel, status`), args...)
	if err != nil {
		return nil, fmt.Errorf("count outbox: %w", err)
	}
	return out, nil
}
