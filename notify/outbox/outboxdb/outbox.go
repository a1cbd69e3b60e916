// Package outboxdb holds the outbox table and its SQL: the messages and
// billing actions the outbox stage (notify/outbox) delivers, with their
// idempotency keys, claims, attempts and dead letters. The table is
// created by the one set of migrations in engine/store/migrations.
package outboxdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
)

// Outbox statuses. A row is queued until the sender marks it sending, with
// the attempt, just before it hands the message to a channel; then sent,
// queued again with a later next_attempt_at after a failure, or dead after
// too many. A skipped row is never sent (no address, or the customer opted
// out of contact after the proposal was made).
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
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	SentAt        time.Time
	Subject       string
	Text          string
	HTML          string
	SMS           string
	// Payload is the JSON body of a billing action.
	Payload   string
	CreatedAt time.Time
	// AccountNo is the customer's own account number; "" if none.
	AccountNo string
}

const outboxColumns = `id, idempotency_key, proposal_id, customer_id, channel, recipient, recipient_name, timezone, status,
	attempts, next_attempt_at, last_error, sent_at, subject, text_body, html_body, sms, payload, created_at, account_no`

func scanOutbox(rows interface{ Scan(...any) error }) (Message, error) {
	var m Message
	err := rows.Scan(&m.ID, &m.Key, &m.ProposalID, &m.CustomerID, &m.Channel, &m.Recipient, &m.RecipientName, &m.Timezone,
		&m.Status, &m.Attempts, database.Time(&m.NextAttemptAt), &m.LastError, database.Time(&m.SentAt), &m.Subject,
		&m.Text, &m.HTML, &m.SMS, &m.Payload, database.Time(&m.CreatedAt), &m.AccountNo)
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

// ApprovedWithoutMessage returns up to limit approved proposals with ids
// above afterID that have no outbox row yet, in id order.
func ApprovedWithoutMessage(ctx context.Context, db database.Querier, afterID int64, limit int) ([]store.Proposal, error) {
	q := `SELECT ` + store.ProposalColumns + `
		FROM proposals p WHERE status = ? AND id > ? AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.proposal_id = p.id) ORDER BY id`
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := db.QueryContext(ctx, db.Rebind(q), store.ProposalApproved, afterID)
	if err != nil {
		return nil, fmt.Errorf("approved proposals: %w", err)
	}
	return store.ScanProposals(rows, "approved proposals")
}

// Enqueue inserts messages in one transaction, skipping any whose
// idempotency key is already in the outbox, and returns how many it
// inserted. A message's Status defaults to queued.
func Enqueue(ctx context.Context, db database.Querier, ms []Message) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	tx, err := database.Begin(ctx, db)
	if err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	defer tx.Rollback()
	q := db.Rebind(`INSERT INTO outbox (idempotency_key, proposal_id, customer_id, channel, recipient, recipient_name, timezone,
		status, attempts, next_attempt_at, last_error, subject, text_body, html_body, sms, payload, created_at, account_no)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`)
	n := 0
	for _, m := range ms {
		status := m.Status
		if status == "" {
			status = Queued
		}
		res, err := tx.ExecContext(ctx, q, m.Key, m.ProposalID, m.CustomerID, m.Channel, m.Recipient, m.RecipientName, m.Timezone,
			status, m.NextAttemptAt.UTC(), m.LastError, m.Subject, m.Text, m.HTML, m.SMS, m.Payload, m.CreatedAt.UTC(), m.AccountNo)
		if err != nil {
			return 0, fmt.Errorf("enqueue %s: %w", m.Key, err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("enqueue %s: %w", m.Key, err)
		}
		n += int(k)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	return n, nil
}

// Claim claims up to limit due rows of the given channels — queued or
// sending rows whose next_attempt_at has come (a sending row whose lease
// ran out was left by a process that stopped mid-send) — by moving their
// next_attempt_at to leaseUntil, so that no other sender takes them
// meanwhile. Statuses do not change: the caller sees which rows were left
// sending. On PostgreSQL concurrent senders skip each other's rows (FOR
// UPDATE SKIP LOCKED); SQLite has one writer at a time.
func Claim(ctx context.Context, db database.Querier, channels []string, now, leaseUntil time.Time, limit int) ([]Message, error) {
	if len(channels) == 0 || limit <= 0 {
		return nil, nil
	}
	args := []any{leaseUntil.UTC(), Queued, Sending, now.UTC()}
	marks := make([]string, len(channels))
	for i, c := range channels {
		marks[i] = "?"
		args = append(args, c)
	}
	lock := ""
	if db.IsPostgres() {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	q := `UPDATE outbox SET next_attempt_at = ? WHERE id IN (
		SELECT id FROM outbox WHERE status IN (?, ?) AND next_attempt_at <= ? AND channel IN (` + strings.Join(marks, ", ") + `)
		ORDER BY next_attempt_at, id LIMIT ` + fmt.Sprint(limit) + lock + `)
		RETURNING ` + outboxColumns
	rows, err := db.QueryContext(ctx, db.Rebind(q), args...)
	out, err := collectOutbox(rows, err, "claim outbox")
	if err != nil {
		return nil, err
	}
	// RETURNING gives no order; keep the order the rows were due in.
	sortOutbox(out)
	return out, nil
}

func sortOutbox(ms []Message) {
	sort.Slice(ms, func(i, j int) bool { return ms[i].ID < ms[j].ID })
}

// ErrLostClaim reports that an outbox row changed under the caller: another
// sender took it after the caller's claim ran out.
var ErrLostClaim = errors.New("outbox row was claimed by another sender")

// MarkSending records, before the message is handed to its channel,
// that attempt number attempts+1 is under way and holds the row until
// leaseUntil. It returns ErrLostClaim when the row no longer has the given
// attempts count or is no longer queued or sending.
func MarkSending(ctx context.Context, db database.Querier, id int64, attempts int, leaseUntil time.Time) error {
	return updateOutbox(ctx, db, id, "mark sending",
		`UPDATE outbox SET status = ?, attempts = attempts + 1, next_attempt_at = ? WHERE id = ? AND attempts = ? AND status IN (?, ?)`,
		Sending, leaseUntil.UTC(), id, attempts, Queued, Sending)
}

// MarkSent records that attempt number attempt was delivered.
func MarkSent(ctx context.Context, db database.Querier, id int64, attempt int, at time.Time) error {
	return updateOutbox(ctx, db, id, "mark sent",
		`UPDATE outbox SET status = ?, sent_at = ?, last_error = '' WHERE id = ? AND attempts = ? AND status = ?`,
		Sent, at.UTC(), id, attempt, Sending)
}

// MarkFailed records that attempt number attempt failed: the row is
// queued again for retryAt, or dead when dead is true.
func MarkFailed(ctx context.Context, db database.Querier, id int64, attempt int, lastError string, retryAt time.Time, dead bool) error {
	status := Queued
	if dead {
		status = Dead
	}
	return updateOutbox(ctx, db, id, "mark failed",
		`UPDATE outbox SET status = ?, next_attempt_at = ?, last_error = ? WHERE id = ? AND attempts = ? AND status = ?`,
		status, retryAt.UTC(), lastError, id, attempt, Sending)
}

// Defer moves a claimed row's next attempt to at without counting an
// attempt (quiet hours). A row left sending stays sending.
func Defer(ctx context.Context, db database.Querier, id int64, attempts int, at time.Time) error {
	return updateOutbox(ctx, db, id, "defer",
		`UPDATE outbox SET next_attempt_at = ? WHERE id = ? AND attempts = ? AND status IN (?, ?)`,
		at.UTC(), id, attempts, Queued, Sending)
}

// Retry queues a dead row again with a fresh count of attempts, due
// at now. It is an error if the row does not exist or is not dead.
func Retry(ctx context.Context, db database.Querier, id int64, now time.Time) error {
	res, err := db.ExecContext(ctx, db.Rebind(
		`UPDATE outbox SET status = ?, attempts = 0, next_attempt_at = ? WHERE id = ? AND status = ?`),
		Queued, now.UTC(), id, Dead)
	if err != nil {
		return fmt.Errorf("retry message %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("retry message %d: %w", id, err)
	} else if n == 1 {
		return nil
	}
	m, err := Get(ctx, db, id)
	if err != nil {
		return fmt.Errorf("retry message %d: %w", id, err)
	}
	return fmt.Errorf("retry message %d: it is %s, not dead", id, m.Status)
}

// DeadFilter selects dead messages to retry; zero fields select all.
type DeadFilter struct {
	Channel string
	// ErrorContains keeps the messages whose last error contains it,
	// ignoring case.
	ErrorContains string
}

// RetryDead queues again, as Retry does, every dead message
// the filter selects, and returns how many.
func RetryDead(ctx context.Context, q database.Querier, f DeadFilter, now time.Time) (int64, error) {
	var where database.Where
	where.And("status = ?", Dead)
	where.AndIf(f.Channel != "", "channel = ?", f.Channel)
	if f.ErrorContains != "" {
		pattern := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(f.ErrorContains)) + "%"
		where.And(`LOWER(last_error) LIKE ? ESCAPE '\'`, pattern)
	}
	res, err := q.ExecContext(ctx, q.Rebind(`UPDATE outbox SET status = ?, attempts = 0, next_attempt_at = ?`+where.String()),
		append([]any{Queued, now.UTC()}, where.Args...)...)
	if err != nil {
		return 0, fmt.Errorf("retry dead messages: %w", err)
	}
	return res.RowsAffected()
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
