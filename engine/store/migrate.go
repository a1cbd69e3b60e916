// Package store keeps the engine's tables, with plain SQL one file per
// entity: runs and their per-rule results (runs.go), why matches were held
// back (held.go), proposals and the proposals of failed runs (proposals.go,
// recover.go), suppressions (suppressions.go), the shards of sharded runs (shards.go),
// outcome units (outcomes.go), the audit log every stage writes (audit.go),
// run locks (locks.go) and the meta table (meta.go).
//
// It also holds the one set of versioned migrations, for SQLite and
// PostgreSQL, that creates every goodturn table (migrate.go, migrations/),
// including the tables whose SQL lives with a later stage: the review's in
// notify/review/reviewdb, the outbox's in notify/outbox/outboxdb, the
// schedule's slots in engine/schedule.
//
// Every function takes a database.Querier (a *database.DB or a
// *database.Tx), except those that hold a connection or a goroutine of
// their own: the run locks, KeepAlive, the recovery of dead runs and
// Migrate take the *database.DB.
package store

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/lib/pq"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/queue"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the migrations for a dialect, in version order. Each
// file is migrations/NNNN_name.sql, with {{.ID}}, {{.JSON}} and
// {{.Timestamp}} filled in per dialect, and {{if .Postgres}} around what
// only PostgreSQL runs.
func Migrations(d database.Dialect) ([]Migration, error) {
	types := map[string]any{"ID": "INTEGER PRIMARY KEY AUTOINCREMENT", "JSON": "TEXT", "Timestamp": "TIMESTAMP", "Postgres": false}
	if d == database.Postgres {
		// JSON, not JSONB: proposals are written in bulk and read whole, so
		// the binary form would cost at every insert and pay off nowhere.
		types = map[string]any{"ID": "BIGSERIAL PRIMARY KEY", "JSON": "JSON", "Timestamp": "TIMESTAMPTZ", "Postgres": true}
	}
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Migration
	seen := map[int]string{}
	for _, name := range names {
		base := path.Base(name)
		num, rest, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a version number", base)
		}
		// Two files of one version would apply only the first: the second
		// would be taken as done.
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s have the same version", other, base)
		}
		seen[v] = base
		src, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		t, err := template.New(base).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", base, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, types); err != nil {
			return nil, fmt.Errorf("migration %s: %w", base, err)
		}
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(rest, ".sql"), SQL: b.String()})
	}
	return out, nil
}

// Migrate applies the migrations the database has not had yet, each in its
// own transaction, then River's (the job queue's, see engine/queue), and
// returns how many it applied. On PostgreSQL an advisory lock keeps two
// processes from migrating at once.
func Migrate(ctx context.Context, db *database.DB) (int, error) {
	ms, err := Migrations(db.Dialect)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	conn, err := db.Connx(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if db.IsPostgres() {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7437001)`); err != nil {
			return 0, fmt.Errorf("migrate: lock: %w", err)
		}
		defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(7437001)`)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	applied := map[int]bool{}
	rows, err := conn.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return 0, fmt.Errorf("migrate: %w", err)
		}
		applied[v] = true
	}
	rows.Close()
	n := 0
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		tx, err := conn.BeginTxx(ctx, nil)
		if err != nil {
			return n, fmt.Errorf("migrate %04d_%s: %w", m.Version, m.Name, err)
		}
		for _, stmt := range splitStatements(m.SQL) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				tx.Rollback()
				return n, fmt.Errorf("migrate %04d_%s: %w", m.Version, m.Name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
			m.Version, m.Name, time.Now().UTC().Format(time.RFC3339)); err != nil {
			tx.Rollback()
			return n, fmt.Errorf("migrate %04d_%s: %w", m.Version, m.Name, err)
		}
		if err := tx.Commit(); err != nil {
			return n, fmt.Errorf("migrate %04d_%s: %w", m.Version, m.Name, err)
		}
		n++
	}
	// River's tables, in the same schema, after goodturn's own and under
	// the same lock.
	rn, err := queue.Migrate(ctx, db)
	return n + rn, err
}

// splitStatements splits a migration on semicolons that end a line, dropping
// comment-only pieces.
func splitStatements(sql string) []string {
	var out []string
	for _, part := range strings.Split(sql, ";\n") {
		var b strings.Builder
		for _, line := range strings.Split(part, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "--") {
				continue
			}
			b.WriteString(line)
			b.WriteByte('\n')
		}
		if s := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(b.String()), ";")); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// EnsureSchema creates, on PostgreSQL, the schema a DSN's search_path
// names when none of its schemas exists yet (so that tables have
// somewhere to go), and returns its name; "" when there was nothing to
// create.
func EnsureSchema(ctx context.Context, db *database.DB) (string, error) {
	if !db.IsPostgres() {
		return "", nil
	}
	var current sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&current); err != nil {
		return "", fmt.Errorf("ensure schema: %w", err)
	}
	if current.Valid {
		return "", nil
	}
	var path string
	if err := db.QueryRowContext(ctx, `SHOW search_path`).Scan(&path); err != nil {
		return "", fmt.Errorf("ensure schema: %w", err)
	}
	for _, s := range strings.Split(path, ",") {
		name := strings.Trim(strings.TrimSpace(s), `"`)
		if name == "" || name == "$user" {
			continue
		}
		if _, err := db.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+pq.QuoteIdentifier(name)); err != nil {
			return "", fmt.Errorf("create schema %s: %w", name, err)
		}
		return name, nil
	}
	return "", nil
}

// Pending returns how many of goodturn's migrations, River's included, the
// database has not applied: a command that only reads refuses to work on
// older tables rather than migrate them.
func Pending(ctx context.Context, db *database.DB) (int, error) {
	ms, err := Migrations(db.Dialect)
	if err != nil {
		return 0, err
	}
	n, err := queue.Pending(ctx, db)
	if err != nil {
		return 0, err
	}
	rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return n + len(ms), nil // no migrations table: none applied
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return 0, fmt.Errorf("migrations: %w", err)
		}
		applied[v] = true
	}
	for _, m := range ms {
		if !applied[m.Version] {
			n++
		}
	}
	return n, rows.Err()
}
