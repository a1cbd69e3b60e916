package reviewdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
)

// Session is a login session, known by the hash of its token.
type Session struct {
	TokenHash string
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CreateSession stores a session.
func CreateSession(ctx context.Context, q database.Querier, s Session) error {
	if _, err := q.ExecContext(ctx, q.Rebind(
		`INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`),
		s.TokenHash, s.UserID, s.CreatedAt.UTC(), s.ExpiresAt.UTC()); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionUser returns the user of the session with a token hash that has
// not expired at now, or store.ErrNotFound (also for a disabled user).
func SessionUser(ctx context.Context, q database.Querier, tokenHash string, now time.Time) (*User, error) {
	u, err := scanUser(q.QueryRowxContext(ctx, q.Rebind(
		`SELECT u.id, u.name, u.role, u.password_hash, u.created_at, u.disabled
		 FROM sessions s JOIN users u ON u.id = s.user_id
		 WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled = ?`), tokenHash, now.UTC(), false))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return u, nil
}

// DeleteSession ends a session; an unknown one is not an error.
func DeleteSession(ctx context.Context, q database.Querier, tokenHash string) error {
	if _, err := q.ExecContext(ctx, q.Rebind(`DELETE FROM sessions WHERE token_hash = ?`), tokenHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes the sessions expired at now and returns how
// many.
func DeleteExpiredSessions(ctx context.Context, q database.Querier, now time.Time) (int64, error) {
	res, err := q.ExecContext(ctx, q.Rebind(`DELETE FROM sessions WHERE expires_at <= ?`), now.UTC())
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return res.RowsAffected()
}
