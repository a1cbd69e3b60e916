// Package dbtest opens throwaway databases for tests: an SQLite file in the
// test's temporary folder always, and a fresh PostgreSQL schema when
// GOODTURN_TEST_POSTGRES holds a DSN; MustOpenMigrated also creates
// goodturn's own tables.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
)

// PostgresEnv names the environment variable that holds the PostgreSQL DSN
// for tests.
const PostgresEnv = "GOODTURN_TEST_POSTGRES"

// MustOpenSQLite opens a new SQLite database in the test's temporary folder.
func MustOpenSQLite(tb testing.TB) *database.DB {
	tb.Helper()
	return mustOpen(tb, SQLiteDSN(tb))
}

// SQLiteDSN returns the path of a new SQLite file in the test's folder.
func SQLiteDSN(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(tb.TempDir(), "goodturn.db")
}

// PostgresDSN creates a fresh schema in the test PostgreSQL database and
// returns a DSN whose search_path is that schema; the schema is dropped when
// the test ends. The test is skipped when GOODTURN_TEST_POSTGRES is unset.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		tb.Skip("PostgreSQL test skipped: set " + PostgresEnv + " to a DSN")
	}
	ctx := context.Background()
	admin, err := database.Open(ctx, base)
	if err != nil {
		tb.Fatalf("open %s: %v", PostgresEnv, err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "gt_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// MustOpenPostgres opens a fresh PostgreSQL schema, or skips the test.
func MustOpenPostgres(tb testing.TB) *database.DB {
	tb.Helper()
	return mustOpen(tb, PostgresDSN(tb))
}

// Dialects runs fn as a subtest for each dialect available: SQLite always,
// PostgreSQL when GOODTURN_TEST_POSTGRES is set (else that subtest skips).
func Dialects(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLiteDSN(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, PostgresDSN(t)) })
}

// MustOpenMigrated opens the database at dsn (see SQLiteDSN, PostgresDSN)
// and runs goodturn's migrations on it; it is closed when the test ends.
func MustOpenMigrated(tb testing.TB, dsn string) *database.DB {
	tb.Helper()
	db := mustOpen(tb, dsn)
	MustMigrate(tb, db)
	return db
}

// MustMigrate runs goodturn's migrations on an open database.
func MustMigrate(tb testing.TB, db *database.DB) {
	tb.Helper()
	if _, err := store.Migrate(context.Background(), db); err != nil {
		tb.Fatalf("migrate test database: %v", err)
	}
}

// MustOpen opens the database at dsn without migrating it; it is closed
// when the test ends.
func MustOpen(tb testing.TB, dsn string) *database.DB {
	tb.Helper()
	return mustOpen(tb, dsn)
}

func mustOpen(tb testing.TB, dsn string) *database.DB {
	tb.Helper()
	db, err := database.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("open test database: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}
