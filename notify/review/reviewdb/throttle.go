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

// LoginThrottle is the count of failed logins of one key: an account name
// or a client address (see notify/review for the policy).
type LoginThrottle struct {
	Key           string
	Failures      int
	LastFailureAt time.Time
	// BlockedUntil is when the key's next login may be checked.
	BlockedUntil time.Time
}

// GetLoginThrottle returns the throttle row of a key, or store.ErrNotFound.
func GetLoginThrottle(ctx context.Context, q database.Querier, key string) (*LoginThrottle, error) {
	t := &LoginThrottle{}
	err := q.QueryRowxContext(ctx, q.Rebind(
		`SELECT throttle_key, failures, last_failure_at, blocked_until FROM login_throttle WHERE throttle_key = ?`), key).
		Scan(&t.Key, &t.Failures, database.Time(&t.LastFailureAt), database.Time(&t.BlockedUntil))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("login throttle %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get login throttle %s: %w", key, err)
	}
	return t, nil
}

// SwapLoginThrottle writes t if the key's stored failures are still
// prev (no row when prev is nil) and reports whether it did: a
// compare-and-swap, so that two logins counted at once cannot both be let
// through on the same count.
func SwapLoginThrottle(ctx context.Context, q database.Querier, prev *LoginThrottle, t LoginThrottle) (bool, error) {
	var res sql.Result
	var err error
	if prev == nil {
		res, err = q.ExecContext(ctx, q.Rebind(
			`INSERT INTO login_throttle (throttle_key, failures, last_failure_at, blocked_until) VALUES (?, ?, ?, ?)
			 ON CONFLICT (throttle_key) DO NOTHING`),
			t.Key, t.Failures, t.LastFailureAt.UTC(), t.BlockedUntil.UTC())
	} else {
		res, err = q.ExecContext(ctx, q.Rebind(
			`UPDATE login_throttle SET failures = ?, last_failure_at = ?, blocked_until = ?
			 WHERE throttle_key = ? AND failures = ?`),
			t.Failures, t.LastFailureAt.UTC(), t.BlockedUntil.UTC(), t.Key, prev.Failures)
	}
	if err != nil {
		return false, fmt.Errorf("count login of %s: %w", t.Key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("count login of %s: %w", t.Key, err)
	}
	return n == 1, nil
}

// RefundLoginThrottle takes back one failure of a key: a login counted as
// it started turned out not to be a failure.
func RefundLoginThrottle(ctx context.Context, q database.Querier, key string) error {
	if _, err := q.ExecContext(ctx, q.Rebind(
		`UPDATE login_throttle SET failures = failures - 1 WHERE throttle_key = ? AND failures > 0`), key); err != nil {
		return fmt.Errorf("refund login of %s: %w", key, err)
	}
	return nil
}

// DeleteLoginThrottle forgets a key's failures (a successful login, or an
// admin lifting a lockout) and returns how many there were.
func DeleteLoginThrottle(ctx context.Context, q database.Querier, key string) (int, error) {
	t, err := GetLoginThrottle(ctx, q, key)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if _, err := q.ExecContext(ctx, q.Rebind(`DELETE FROM login_throttle WHERE throttle_key = ?`), key); err != nil {
		return 0, fmt.Errorf("delete login throttle %s: %w", key, err)
	}
	return t.Failures, nil
}

// DeleteStaleLoginThrottles removes the keys whose last failure was before
// cutoff and that are not blocked at now, so that guessed names do not
// pile up.
func DeleteStaleLoginThrottles(ctx context.Context, q database.Querier, cutoff, now time.Time) error {
	if _, err := q.ExecContext(ctx, q.Rebind(
		`DELETE FROM login_throttle WHERE last_failure_at < ? AND blocked_until <= ?`), cutoff.UTC(), now.UTC()); err != nil {
		return fmt.Errorf("delete stale login throttles: %w", err)
	}
	return nil
}
