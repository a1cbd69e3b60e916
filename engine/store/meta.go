package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/goodturn/goodturn/engine/database"
)

// Meta returns the value of a key in the meta table, or "" if unset.
func Meta(ctx context.Context, db database.Querier, key string) (string, error) {
	var v string
	err := db.QueryRowContext(ctx, db.Rebind(`SELECT value FROM meta WHERE key = ?`), key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read meta %s: %w", key, err)
	}
	return v, nil
}

// SetMeta sets a key in the meta table.
func SetMeta(ctx context.Context, db database.Querier, key, value string) error {
	_, err := db.ExecContext(ctx, db.Rebind(
		`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`), key, value)
	if err != nil {
		return fmt.Errorf("set meta %s: %w", key, err)
	}
	return nil
}

// Reset deletes every run and proposal, withdrawn or not, with their
// approvals and outbox messages. The demo uses it to start afresh; users
// and the audit log stay.
func Reset(ctx context.Context, db database.Querier) error {
	for _, t := range []string{"outbox", "approvals", "proposals", "withdrawn_proposals", "run_rules", "run_held", "runs"} {
		if _, err := db.ExecContext(ctx, "DELETE FROM "+t); err != nil {
			return fmt.Errorf("reset %s: %w", t, err)
		}
	}
	return nil
}
