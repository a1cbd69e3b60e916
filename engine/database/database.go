// Package database opens goodturn's SQL databases: an embedded SQLite file
// (pure Go, no cgo) by default, or PostgreSQL through lib/pq. Both are used
// through sqlx with queries written with ? placeholders and rebound for the
// dialect.
package database

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
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

// Open opens the database at dsn: a postgres:// or postgresql:// URL, or
// a libpq keyword string ("host=db user=goodturn dbname=erp"), opens
// PostgreSQL; a sqlite: URL or a plain file path opens (and creates) an
// SQLite file. Any other scheme (mysql://) is refused by name. It checks
// the connection before returning; no error it returns shows a password.
func Open(ctx context.Context, dsn string) (*DB, error) {
	return OpenDriver(ctx, dsn, "")
}

// OpenDriver is Open with a registered database/sql driver name replacing
// the dialect's own, for drivers that wrap it (tests count queries so).
func OpenDriver(ctx context.Context, dsn, driver string) (*DB, error) {
	if dsn == "" {
		return nil, fmt.Errorf("open database: no address given")
	}
	dialect, conn, err := address(dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", Redact(dsn), err)
	}
	if driver == "" {
		driver = string(dialect)
	}
	sdb, err := sqlx.Open(driver, conn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", Redact(dsn), RedactError(err, dsn))
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
		return nil, fmt.Errorf("open database %s: %w", Redact(dsn), RedactError(err, dsn))
	}
	return &DB{DB: sdb, Dialect: dialect, DSN: Redact(dsn)}, nil
}

// ErrNoDatabase is OpenExisting's error for an SQLite file that is not
// there.
var ErrNoDatabase = errors.New("no such database")

// OpenExisting opens a database that must exist already: for an SQLite
// address, a missing file is ErrNoDatabase instead of a new, empty
// database. Commands that only read open their databases with it.
func OpenExisting(ctx context.Context, dsn string) (*DB, error) {
	if dialect, _, err := address(dsn); err == nil && dialect == SQLite {
		path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "sqlite:")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if path != ":memory:" && !strings.HasPrefix(path, "file::memory:") {
			if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%w at %s: create it with goodturn migrate, or goodturn demo for a sample", ErrNoDatabase, path)
			}
		}
	}
	return Open(ctx, dsn)
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

// scheme matches the scheme of a URL: "mysql://".
var scheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://`)

// keywordString matches the start of a libpq keyword string:
// "host=db.internal user=goodturn …".
var keywordString = regexp.MustCompile(`^\s*[A-Za-z_]+\s*=`)

// address reads a database address: its dialect and the connection
// string its driver takes.
func address(dsn string) (Dialect, string, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return Postgres, dsn, nil
	case keywordString.MatchString(dsn):
		// lib/pq reads keyword strings itself; such a string is never an
		// SQLite file name (write sqlite:name for that).
		return Postgres, dsn, nil
	case strings.HasPrefix(dsn, "sqlite:"):
		return SQLite, sqliteDSN(dsn), nil
	}
	if m := scheme.FindStringSubmatch(dsn); m != nil {
		return "", "", fmt.Errorf("unsupported address scheme %q: want postgres://, postgresql://, a libpq keyword string (host=… dbname=…), sqlite: or a file path", m[1])
	}
	return SQLite, sqliteDSN(dsn), nil
}

// Patterns of passwords in addresses and in the texts that quote them.
var (
	// passwordKeyword is password=X in a URL's query or a keyword string,
	// X possibly quoted.
	passwordKeyword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&'"]*)`)
	// userinfoPassword is the password of user:password@ in a URL, even
	// one that does not parse.
	userinfoPassword = regexp.MustCompile(`(://[^:@/\s"]*:)[^\s"]*@`)
)

// Redact removes the passwords from a database address for logs and
// errors: the user's password of a URL, a password= parameter of a URL or
// of a libpq keyword string, also in addresses that do not parse.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return redactText(dsn)
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	u.RawQuery = passwordKeyword.ReplaceAllString(u.RawQuery, "${1}xxxxx")
	return u.String()
}

// redactText replaces every password that looks like part of a database
// address in s.
func redactText(s string) string {
	s = userinfoPassword.ReplaceAllString(s, "${1}xxxxx@")
	return passwordKeyword.ReplaceAllString(s, "${1}xxxxx")
}

// RedactError returns err with every password of dsn removed from its
// text: drivers and the URL parser quote the address they were given. It
// unwraps to err; nil stays nil.
func RedactError(err error, dsn string) error {
	if err == nil {
		return nil
	}
	return &redactedError{err: err, secrets: passwords(dsn)}
}

type redactedError struct {
	err     error
	secrets []string
}

func (e *redactedError) Error() string {
	msg := redactText(e.err.Error())
	for _, s := range e.secrets {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	return msg
}

func (e *redactedError) Unwrap() error { return e.err }

// passwords returns the passwords written in dsn, as written and
// unescaped, for removal wherever they are quoted.
func passwords(dsn string) []string {
	var out []string
	add := func(s string) {
		s = strings.Trim(s, "'")
		if s == "" {
			return
		}
		out = append(out, s)
		if un, err := url.QueryUnescape(s); err == nil && un != s {
			out = append(out, un)
		}
	}
	for _, m := range userinfoPassword.FindAllStringSubmatch(dsn, -1) {
		add(strings.TrimSuffix(strings.TrimPrefix(m[0], m[1]), "@"))
	}
	for _, m := range passwordKeyword.FindAllStringSubmatch(dsn, -1) {
		add(m[2])
	}
	return out
}
