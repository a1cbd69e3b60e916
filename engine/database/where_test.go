package database_test

import (
	"reflect"
	"testing"

	"github.com/goodturn/goodturn/engine/database"
)

func TestWhere(t *testing.T) {
	var w database.Where
	if w.String() != "" || w.Args != nil {
		t.Fatalf("empty Where = %q %v, want no clause", w.String(), w.Args)
	}
	w.And("a = ?", 1)
	w.AndIf(false, "z = ?", 0)
	w.AndIf(true, "b BETWEEN ? AND ?", 2, 3)
	more := w.With("c = ?", 4)
	if got, want := w.String(), " WHERE a = ? AND b BETWEEN ? AND ?"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if !reflect.DeepEqual(w.Args, []any{1, 2, 3}) {
		t.Errorf("Args = %v, want [1 2 3]: With changed w", w.Args)
	}
	if got, want := more.String(), " WHERE a = ? AND b BETWEEN ? AND ? AND c = ?"; got != want || len(more.Args) != 4 {
		t.Errorf("With = %q %v, want %q and 4 arguments", got, more.Args, want)
	}
}
