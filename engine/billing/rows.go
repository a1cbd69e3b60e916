package billing

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/goodturn/goodturn/engine/database"
)

// The per-customer relations are read as the driver's own values: on
// PostgreSQL straight from lib/pq's rows (through sql.Conn.Raw), without
// database/sql's locking and conversion of every value; on SQLite through
// database/sql into plain values. Each relation then decodes a row from
// those values with the type switches below, and a row they cannot decode
// is checked column by column (rowCheck) to say what is wrong with it.

// rowSource is the rows of one query, each read as driver values.
type rowSource interface {
	// columns is the number of values of each row.
	columns() int
	// next reads the next row into dest; false at the end.
	next(dest []driver.Value) (bool, error)
}

// driverRows are lib/pq's rows, read directly.
type driverRows struct{ rows driver.Rows }

func (d driverRows) columns() int { return len(d.rows.Columns()) }

func (d driverRows) next(dest []driver.Value) (bool, error) {
	err := d.rows.Next(dest)
	if err == io.EOF {
		return false, nil
	}
	return err == nil, err
}

// sqlRows are database/sql's rows, scanned into plain values.
type sqlRows struct {
	rows *sql.Rows
	n    int
	ptrs []any
}

func newSQLRows(rows *sql.Rows) (*sqlRows, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	return &sqlRows{rows: rows, n: len(cols), ptrs: make([]any, len(cols))}, nil
}

func (s *sqlRows) columns() int { return s.n }

func (s *sqlRows) next(dest []driver.Value) (bool, error) {
	if !s.rows.Next() {
		return false, s.rows.Err()
	}
	for i := range dest {
		s.ptrs[i] = (*any)(&dest[i])
	}
	return true, s.rows.Scan(s.ptrs...)
}

// query runs a query and hands its rows to fn, which must be done with
// them when it returns: on PostgreSQL the driver's rows on a connection of
// their own, elsewhere database/sql's.
func query(ctx context.Context, db *database.DB, q string, args []any, fn func(rowSource) error) error {
	if !db.IsPostgres() {
		rows, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		src, err := newSQLRows(rows)
		if err != nil {
			return err
		}
		if err := fn(src); err != nil {
			return err
		}
		return rows.Err()
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("the driver %T cannot query", dc)
		}
		named := make([]driver.NamedValue, len(args))
		for i, a := range args {
			named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
		}
		rows, err := qc.QueryContext(ctx, q, named)
		if err != nil {
			return err
		}
		defer rows.Close()
		return fn(driverRows{rows})
	})
}

// The decoders read one driver value of a column; ok is false when the
// value is NULL or not of the column's type, and the row is then checked
// column by column.

func vInt(v driver.Value) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case []byte:
		n, err := strconv.ParseInt(string(x), 10, 64)
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	return 0, false
}

func vText(v driver.Value) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	}
	return "", false
}

func vBool(v driver.Value) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case int64:
		return x != 0, x == 0 || x == 1
	}
	return false, false
}

// vDate reads a date or instant as database.Time does; NULL is the zero
// time, and ok is false only for a value that is not a time.
func vDate(v driver.Value) (time.Time, bool) {
	var t time.Time
	return t, database.Time(&t).Scan(v) == nil
}

// vAttrs reads a JSON object; NULL, empty, {} and null are none.
func vAttrs(v driver.Value) (map[string]any, bool) {
	var b []byte
	switch x := v.(type) {
	case nil:
		return nil, true
	case []byte:
		b = x
	case string:
		if x == "" || x == "{}" || x == "null" {
			return nil, true
		}
		b = []byte(x)
	default:
		return nil, false
	}
	if len(b) == 0 || string(b) == "{}" || string(b) == "null" {
		return nil, true
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m) == nil
}

// errDecode marks a row the decoders could not read.
var errDecode = errors.New("row does not decode")

// decoder reads a row's values by column, remembering whether any failed.
type decoder struct {
	v   []driver.Value
	bad bool
}

func (d *decoder) int(i int) int64 {
	n, ok := vInt(d.v[i])
	d.bad = d.bad || !ok
	return n
}

func (d *decoder) text(i int) string {
	s, ok := vText(d.v[i])
	d.bad = d.bad || !ok
	return s
}

func (d *decoder) boolean(i int) bool {
	b, ok := vBool(d.v[i])
	d.bad = d.bad || !ok
	return b
}

// date reads a date; NULL is the zero time, a failure when required.
func (d *decoder) date(i int, required bool) time.Time {
	t, ok := vDate(d.v[i])
	d.bad = d.bad || !ok || (required && t.IsZero())
	return t
}

func (d *decoder) attrs(i int) map[string]any {
	m, ok := vAttrs(d.v[i])
	d.bad = d.bad || !ok
	return m
}

// nonNegative reads an integer that must not be negative.
func (d *decoder) nonNegative(i int) int {
	n := d.int(i)
	d.bad = d.bad || n < 0
	return int(n)
}

// err is errDecode when a value failed to decode.
func (d *decoder) err() error {
	if d.bad {
		return errDecode
	}
	return nil
}
