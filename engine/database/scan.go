package database

import (
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
