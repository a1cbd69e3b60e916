package billing

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/goodturn/goodturn/rules"
)

// Refusal is a customer the reader refused: one of their rows breaks the
// facts contract, so their facts are not handed over and no rule sees them.
type Refusal struct {
	CustomerID int64 `json:"customer_id"`
	// Reason names the relation, the row's key, the column and what is
	// wrong: `usage: customer 42 month 2026-05 meter data_mb: quantity -5 is negative`.
	Reason string `json:"reason"`
}

// MaxRefusalSamples is how many refusals a read keeps in Stats.
const MaxRefusalSamples = 5

// CatalogueError lists everything wrong with the plan catalogue. A run
// stops on it before any customer is read: a wrong price or rate would
// make every proposal that uses the plan wrong.
type CatalogueError struct {
	// Problems name the relation, the key and the column of each problem:
	// `plan_allowances: plan "sim-15" meter "data_mb": overage_rate is NULL`.
	Problems []string
}

func (e *CatalogueError) Error() string {
	if len(e.Problems) == 1 {
		return "the plan catalogue is invalid: " + e.Problems[0]
	}
	return fmt.Sprintf("the plan catalogue has %d problems: %s", len(e.Problems), strings.Join(e.Problems, "; "))
}

// rowCheck reads one row's raw column values with the contract's rules and
// collects what is wrong with them. It serves the catalogue, which is small,
// and the few rows of customers that the fast typed scan refused.
type rowCheck struct {
	raw      []any
	problems []string
}

// scanRaw reads the current row's raw values.
func scanRaw(rows *sql.Rows) (*rowCheck, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	c := &rowCheck{raw: make([]any, len(cols))}
	ptrs := make([]any, len(cols))
	for i := range c.raw {
		ptrs[i] = &c.raw[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *rowCheck) problem(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// null reports a NULL in column i, and records it as a problem when the
// column is required.
func (c *rowCheck) null(i int, name string, required bool) bool {
	if c.raw[i] != nil {
		return false
	}
	if required {
		c.problem("%s is NULL", name)
	}
	return true
}

// text reads a required text column.
func (c *rowCheck) text(i int, name string) string {
	var s sql.NullString
	if c.null(i, name, true) {
		return ""
	}
	if err := s.Scan(c.raw[i]); err != nil {
		c.problem("%s: %v", name, err)
	}
	return s.String
}

// integer reads an integer column; NULL is a problem unless nullable, and
// a negative value is a problem when nonNegative.
func (c *rowCheck) integer(i int, name string, nullable, nonNegative bool) (v int64, null bool) {
	if c.null(i, name, !nullable) {
		return 0, true
	}
	var n sql.NullInt64
	if err := n.Scan(c.raw[i]); err != nil {
		c.problem("%s %v is not a whole number", name, c.raw[i])
		return 0, false
	}
	if nonNegative && n.Int64 < 0 {
		c.problem("%s %d is negative", name, n.Int64)
	}
	return n.Int64, false
}

// boolean reads a required boolean column.
func (c *rowCheck) boolean(i int, name string) bool {
	var b sql.NullBool
	if c.null(i, name, true) {
		return false
	}
	if err := b.Scan(c.raw[i]); err != nil {
		c.problem("%s %v is not a boolean", name, c.raw[i])
	}
	return b.Bool
}

// date reads a date or instant; NULL is a problem when required.
func (c *rowCheck) date(i int, name string, required bool) time.Time {
	var t time.Time
	if c.null(i, name, required) {
		return t
	}
	if err := date(&t).Scan(c.raw[i]); err != nil {
		c.problem("%s: %v", name, err)
	}
	return t
}

// attrs reads a JSON object column; NULL means none.
func (c *rowCheck) attrs(i int, name string) map[string]any {
	var m map[string]any
	if err := (attrs{&m}).Scan(c.raw[i]); err != nil {
		c.problem("%s is not a JSON object: %v", name, err)
	}
	return m
}

// rate reads a required, non-negative exact decimal.
func (c *rowCheck) rate(i int, name string) rules.Rate {
	var r rules.Rate
	if c.null(i, name, true) {
		return r
	}
	if err := (rate{&r}).Scan(c.raw[i]); err != nil {
		if s := strings.TrimSpace(c.show(i)); strings.HasPrefix(s, "-") {
			if strings.Contains(s, ".") {
				s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
			}
			c.problem("%s %s is negative", name, s)
		} else {
			c.problem("%s: %v", name, err)
		}
	}
	return r
}

// reason writes the problems of a row of relation with the given key:
// `usage: customer 42 month 2026-05 meter data_mb: quantity -5 is negative`.
func (c *rowCheck) reason(relation, key string) string {
	return relation + ": " + key + ": " + strings.Join(c.problems, ", ")
}

// show writes column i's raw value for a key: text as it is, NULL as NULL.
func (c *rowCheck) show(i int) string {
	switch v := c.raw[i].(type) {
	case nil:
		return "NULL"
	case []byte:
		return string(v)
	case time.Time:
		return v.UTC().Format(time.DateOnly)
	default:
		return fmt.Sprint(v)
	}
}
