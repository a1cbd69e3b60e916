package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/store"
)

// The run lock keeps a second run of a ruleset out — from the same
// process and, on PostgreSQL, from another connection pool (another
// process) — until the first releases it.
func TestRulesetLock(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		a, b := dbtest.MustOpenMigrated(t, dsn), dbtest.MustOpenMigrated(t, dsn)
		first, ok, err := store.TryLockRuleset(ctx, a, "mobile")
		if err != nil || !ok {
			t.Fatalf("first lock: %v %v", ok, err)
		}
		for _, db := range []*database.DB{a, b} {
			if _, ok, err := store.TryLockRuleset(ctx, db, "mobile"); err != nil || ok {
				t.Errorf("second lock while the first is held: %v %v", ok, err)
			}
		}
		other, ok, err := store.TryLockRuleset(ctx, b, "uk-best-tariff")
		if err != nil || !ok {
			t.Fatalf("another ruleset's lock: %v %v", ok, err)
		}
		if err := other.Unlock(); err != nil {
			t.Fatal(err)
		}
		if err := first.Unlock(); err != nil {
			t.Fatal(err)
		}
		if err := first.Unlock(); err != nil {
			t.Errorf("second unlock: %v", err)
		}
		again, ok, err := store.TryLockRuleset(ctx, b, "mobile")
		if err != nil || !ok {
			t.Fatalf("lock after unlock: %v %v", ok, err)
		}
		again.Unlock()
	})
}

// A process that dies holding the lock — its session ends — releases it on
// PostgreSQL; the holder's Unlock then reports the loss.
func TestRulesetLockDiesWithSession(t *testing.T) {
	dsn := dbtest.PostgresDSN(t)
	ctx := context.Background()
	a, b := dbtest.MustOpenMigrated(t, dsn), dbtest.MustOpenMigrated(t, dsn)
	held, ok, err := store.TryLockRuleset(ctx, a, "mobile")
	if err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	if _, ok, _ := store.TryLockRuleset(ctx, b, "mobile"); ok {
		t.Fatal("lock taken twice")
	}
	var n int
	var schema string
	if err := b.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND classid = $1 AND objid = ($2::int)::oid`, store.RunLockClass, store.RunLockKey(schema, "mobile")).Scan(&n); err != nil || n != 1 {
		t.Fatalf("terminate the holder: %d %v", n, err)
	}
	var l *store.RulesetLock
	for range 50 { // the server ends the session asynchronously
		if l, ok, err = store.TryLockRuleset(ctx, b, "mobile"); err != nil || ok {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || !ok {
		t.Fatalf("lock after the holder died: %v %v", ok, err)
	}
	l.Unlock()
	if err := held.Unlock(); err == nil {
		t.Error("unlock of a lost lock reported nothing")
	}
	// The pool still works.
	if err := a.PingContext(ctx); err != nil {
		t.Errorf("pool after a lost lock: %v", err)
	}
}
