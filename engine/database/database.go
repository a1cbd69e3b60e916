// Package database opens goodturn's SQL databases: an embedded SQLite file
// (pure Go, no cgo) by default, or PostgreSQL through lib/pq. Both are used
// through sqlx with queries written with ? placeholders and rebound for the
// dialect.
package database

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"  // PostgreSQL driver "postgres".
	_ "modernc.org/sqlite" // SQLite driver "sqlite".
)

// Dialect names a SQL dialect goodturn speaks.
type Dialect string

// The dialects goodturn speaks.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

func init() {
	sqlx.BindDriver("sqlite", sqlx.QUESTION)
}

// DB is an open database and its dialect.
type DB struct {
	*sqlx.DB
	Dialect Dialect
	// DSN is the address the database was opened with, password removed.
	DSN string
}

// IsPostgres reports whether the database is PostgreSQL.
func (db *DB) IsPostgres() bool { return db.Dialect == Postgres }

// Open opens the database at dsn: a postgres:// or postgresql:// URL opens
// PostgreSQL; a sqlite: URL or a plain file path opens (and creates) an
// SQLite file. It checks the connection before returning.
func Open(ctx context.Context, dsn string) (*DB, error) {
	return OpenDriver(ctx, dsn, "")
}

// OpenDriver is Open with a registered database/sql driver name replacing
// the dialect's own, for drivers that wrap it (tests count queries so).
func OpenDriver(ctx context.Context, dsn, driver string) (*DB, error) {
	if dsn == "" {
		return nil, fmt.Errorf("open database: no address given")
	}
	var (
		dialect Dialect
		conn    string
	)
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		dialect, conn = Postgres, dsn
	default:
		dialect, conn = SQLite, sqliteDSN(dsn)
	}
	if driver == "" {
		driver = string(dialect)
	}
	sdb, err := sqlx.Open(driver, conn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", Redact(dsn), err)
	}
	sdb = sqlx.NewDb(sdb.DB, string(dialect))
	if dialect == SQLite {
		// SQLite allows one writer at a time; a few connections let the
		// fact streams read while proposals are written (WAL mode).
		sdb.SetMaxOpenConns(8)
	} else {
		sdb.SetMaxOpenConns(16)
		sdb.SetMaxIdleConns(8)
	}
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open database %s: %w", Redact(dsn), err)
	}
	return &DB{DB: sdb, Dialect: dialect, DSN: Redact(dsn)}, nil
}

// sqliteDSN turns a path or sqlite: URL into a modernc.org/sqlite DSN with
// WAL, a busy timeout, foreign keys and sortable time text.
func sqliteDSN(dsn string) string {
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "sqlite:")
	query := ""
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path, query = path[:i], path[i+1:]
	}
	params := []string{
		"_pragma=busy_timeout(10000)",
		"_pragma=journal_mode(WAL)",
		"_pragma=synchronous(NORMAL)",
		"_pragma=foreign_keys(1)",
		"_time_format=sqlite",
	}
	if query != "" {
		params = append(params, query)
	}
	return "file:" + path + "?" + strings.Join(params, "&")
}

// Redact removes the password from a database address for logs.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
