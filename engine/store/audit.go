package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/goodturn/goodturn/engine/database"
)

// The audit log is written by every stage: the engine when it abandons a
// dead run, the review for decisions, logins and people, the command line
// for retried messages. So it lives here, where each of them may import it.

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
func AddAudit(ctx context.Context, q database.Querier, e *AuditEntry) error {
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
func ListAudit(ctx context.Context, q database.Querier, f AuditFilter) ([]AuditEntry, error) {
	var where database.Where
	where.AndIf(f.Actor != "", "actor = ?", f.Actor)
	where.AndIf(f.Action != "", "action = ?", f.Action)
	where.AndIf(f.Subject != "", "subject = ?", f.Subject)
	qs := `SELECT id, at, actor, action, subject, comment, detail FROM audit`
	qs += where.String()
	qs += " ORDER BY id DESC"
	if f.Limit > 0 {
		qs += fmt.Sprintf(" LIMIT %d", f.Limit)
		if f.Offset > 0 {
			qs += fmt.Sprintf(" OFFSET %d", f.Offset)
		}
	}
	rows, err := q.QueryContext(ctx, q.Rebind(qs), where.Args...)
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
