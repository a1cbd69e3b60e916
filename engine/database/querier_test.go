package database_test

import (
	"context"
	"testing"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
)

// TestBeginJoinsATransaction checks that Begin on a *Tx joins it: the
// callee's Commit and Rollback leave the outcome to the caller.
func TestBeginJoinsATransaction(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := database.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, `CREATE TABLE t (n INTEGER)`); err != nil {
			t.Fatal(err)
		}
		insert := func(q database.Querier, n int) {
			tx, err := database.Begin(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO t (n) VALUES (?)`), n); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		outer, err := database.Begin(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		insert(outer, 1) // joined: its Commit does not end outer
		insert(outer, 2)
		if err := outer.Rollback(); err != nil {
			t.Fatal(err)
		}
		insert(db, 3) // a transaction of its own
		var sum int
		if err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(n), 0) FROM t`).Scan(&sum); err != nil {
			t.Fatal(err)
		}
		if sum != 3 {
			t.Errorf("sum = %d, want 3: the rolled-back outer transaction's rows stayed", sum)
		}
	})
}
