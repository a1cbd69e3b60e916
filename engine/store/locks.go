package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/goodturn/goodturn/engine/database"
)

// RunLockClass is the first key of the PostgreSQL advisory locks that keep
// a ruleset to one run at a time; the second is RunLockKey of the ruleset's
// name. In pg_locks they show as classid 7437002, objid the key. (Migrate's
// lock, 7437001, is in the one-bigint key space, which is separate.)
const RunLockClass = 7437002

// RunLockKey is the second advisory-lock key of a ruleset: a 32-bit FNV-1a
// hash of the schema goodturn's tables live in and the ruleset's name.
// Advisory locks are shared by the whole database, so the schema keeps two
// goodturn installations in one database (or two tests) from blocking each
// other.
func RunLockKey(schema, ruleset string) int32 {
	h := fnv.New32a()
	h.Write([]byte(schema))
	h.Write([]byte{0})
	h.Write([]byte(ruleset))
	return int32(h.Sum32())
}

// RulesetLock is held while a ruleset runs, so that no other run of it
// starts meanwhile.
type RulesetLock struct {
	once   sync.Once
	unlock func() error
	err    error
}

// Unlock releases the lock. Later calls do nothing.
func (l *RulesetLock) Unlock() error {
	l.once.Do(func() { l.err = l.unlock() })
	return l.err
}

// TryLockRuleset takes the run lock of a ruleset without waiting and
// reports whether it got it.
//
// On PostgreSQL it is a session advisory lock, pg_try_advisory_lock(
// RunLockClass, RunLockKey(ruleset)), on a connection set aside for it
// until Unlock: it keeps out every process sharing the database, and dies
// with the connection, so a killed process never leaves it behind. On
// SQLite it is a lock within this process only (by database address and
// ruleset): goodturn assumes a single process serves an SQLite database.
func TryLockRuleset(ctx context.Context, db *database.DB, ruleset string) (*RulesetLock, bool, error) {
	l, ok, err := tryLockRuleset(ctx, db, ruleset)
	if !ok || err != nil {
		return l, ok, err
	}
	// Remember the lock as this pool's until it is released.
	k := poolLock{db, ruleset}
	localMu.Lock()
	poolLocks[k] = true
	localMu.Unlock()
	unlock := l.unlock
	l.unlock = func() error {
		localMu.Lock()
		delete(poolLocks, k)
		localMu.Unlock()
		return unlock()
	}
	return l, true, nil
}

func tryLockRuleset(ctx context.Context, db *database.DB, ruleset string) (*RulesetLock, bool, error) {
	if !db.IsPostgres() {
		return tryLocalLock(db.DSN, ruleset)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lock ruleset %s: %w", ruleset, err)
	}
	var schema string
	if err := conn.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		conn.Close()
		return nil, false, fmt.Errorf("lock ruleset %s: %w", ruleset, err)
	}
	key := RunLockKey(schema, ruleset)
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1::int, $2::int)`, RunLockClass, key).Scan(&ok); err != nil {
		conn.Close()
		return nil, false, fmt.Errorf("lock ruleset %s: %w", ruleset, err)
	}
	if !ok {
		conn.Close()
		return nil, false, nil
	}
	return &RulesetLock{unlock: func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var released bool
		err := conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock($1::int, $2::int)`, RunLockClass, key).Scan(&released)
		if err == nil && !released {
			err = fmt.Errorf("the lock was no longer held (the connection was lost during the run?)")
		}
		if err != nil {
			// Never hand a connection that may still hold the lock back
			// to the pool: discard it, which ends its session.
			conn.Raw(func(any) error { return driver.ErrBadConn })
			conn.Close()
			return fmt.Errorf("unlock ruleset %s: %w", ruleset, err)
		}
		return conn.Close()
	}}, true, nil
}

// localLocks are the run locks on SQLite, by database address and ruleset;
// poolLocks records the run locks held through each connection pool, on
// either dialect.
var (
	localMu    sync.Mutex
	localLocks = map[[2]string]bool{}
	poolLocks  = map[poolLock]bool{}
)

type poolLock struct {
	db      *database.DB
	ruleset string
}

// lockedHere reports whether a ruleset's run lock is held through this
// connection pool: by the caller, about to run the ruleset.
func lockedHere(db *database.DB, ruleset string) bool {
	localMu.Lock()
	defer localMu.Unlock()
	return poolLocks[poolLock{db, ruleset}]
}

func tryLocalLock(dsn, ruleset string) (*RulesetLock, bool, error) {
	k := [2]string{dsn, ruleset}
	localMu.Lock()
	defer localMu.Unlock()
	if localLocks[k] {
		return nil, false, nil
	}
	localLocks[k] = true
	return &RulesetLock{unlock: func() error {
		localMu.Lock()
		delete(localLocks, k)
		localMu.Unlock()
		return nil
	}}, true, nil
}
