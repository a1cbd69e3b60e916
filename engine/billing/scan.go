package billing

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/goodturn/goodturn/engine/database"

	"github.com/goodturn/goodturn/rules"
)

// date scans a DATE or TIMESTAMP column from either driver.
func date(t *time.Time) sql.Scanner { return database.Time(t) }

// rate scans an exact decimal: NUMERIC text from PostgreSQL, TEXT from
// SQLite, or (from an SQLite column with numeric affinity) an integer or a
// float written in its shortest exact form. NULL is an error: a missing rate
// is not a free one.
type rate struct{ r *rules.Rate }

func (x rate) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	case int64:
		s = strconv.FormatInt(v, 10)
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Errorf("cannot read %T as a rate", src)
	}
	r, err := rules.ParseRate(s)
	if err != nil {
		return err
	}
	*x.r = r
	return nil
}

// attrs scans a JSON object column into a map; NULL, empty and {} give nil.
type attrs struct{ m *map[string]any }

func (a attrs) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*a.m = nil
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("cannot read %T as JSON attributes", src)
	}
	if len(b) == 0 || string(b) == "{}" || string(b) == "null" {
		*a.m = nil
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*a.m = m
	return nil
}
