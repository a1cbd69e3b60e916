package database

import (
	"slices"
	"strings"
)

// Where builds the WHERE clause of a query with optional filters: the
// conditions, with ? placeholders, that must all hold, and their
// arguments in order.
type Where struct {
	conds []string
	// Args are the arguments of the conditions' placeholders.
	Args []any
}

// And adds a condition and the arguments of its placeholders.
func (w *Where) And(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.Args = append(w.Args, args...)
}

// AndIf adds a condition and its arguments if ok: an optional filter
// that is set.
func (w *Where) AndIf(ok bool, cond string, args ...any) {
	if ok {
		w.And(cond, args...)
	}
}

// With returns a copy of w with one more condition; w is unchanged.
func (w Where) With(cond string, args ...any) Where {
	c := Where{conds: slices.Clone(w.conds), Args: slices.Clone(w.Args)}
	c.And(cond, args...)
	return c
}

// String is " WHERE c1 AND c2 …", or "" when there is no condition.
func (w Where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}
