package database

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Time returns a scanner for a DATE or TIMESTAMP column that works with both
// drivers: lib/pq gives time.Time, modernc.org/sqlite gives time.Time or
// text. NULL scans as the zero time; every time is returned in UTC.
func Time(t *time.Time) sql.Scanner { return timeScanner{t} }

type timeScanner struct{ t *time.Time }

func (d timeScanner) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.t = time.Time{}
	case time.Time:
		*d.t = v.UTC()
	case string:
		return d.parse(v)
	case []byte:
		return d.parse(string(v))
	default:
		return fmt.Errorf("cannot read %T as a time", src)
	}
	return nil
}

var timeLayouts = []string{
	time.DateOnly,
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999 -0700 MST",
}

func (d timeScanner) parse(s string) error {
	if t, ok := parseDate(s); ok {
		*d.t = t
		return nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			*d.t = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("cannot read %q as a time", s)
}

// Date formats a time as the DATE text both dialects accept: 2006-01-02.
func Date(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// parseDate parses a plain 2006-01-02 date quickly: the billing readers
// scan millions of them.
func parseDate(s string) (time.Time, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	num := func(b string) (int, bool) {
		n := 0
		for i := 0; i < len(b); i++ {
			c := b[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(s[:4])
	m, ok2 := num(s[5:7])
	dd, ok3 := num(s[8:])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || dd < 1 || dd > 31 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), dd, 0, 0, 0, 0, time.UTC)
	if t.Day() != dd {
		return time.Time{}, false // 2026-02-30
	}
	return t, true
}

// GroupCounts runs a query whose rows are (key, subkey, count), such as
// `SELECT channel, status, count(*) … GROUP BY channel, status`, and
// returns the counts by key and subkey.
func GroupCounts[N int | int64](ctx context.Context, q Querier, query string, args ...any) (map[string]map[string]N, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]N{}
	for rows.Next() {
		var key, sub string
		var n N
		if err := rows.Scan(&key, &sub, &n); err != nil {
			return nil, err
		}
		if out[key] == nil {
			out[key] = map[string]N{}
		}
		out[key][sub] = n
	}
	return out, rows.Err()
}
