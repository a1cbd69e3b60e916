package review_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/review"
)

// failLogins makes n wrong-password logins of name from addr, waiting out
// (on the fixture's clock) each backoff the throttle asks for.
func (f *fixture) failLogins(t *testing.T, name, addr string, n int) {
	t.Helper()
	for i := 0; i < n; {
		_, err := f.svc.Login(context.Background(), name, "wrong-password", addr)
		var te *review.ThrottledError
		switch {
		case errors.As(err, &te):
			if i >= review.AccountThrottle.LockAfter || te.In > review.AccountThrottle.MaxDelay {
				t.Fatalf("failure %d of %s: locked out early: %v", i+1, name, err)
			}
			f.clock = te.Until
		case errors.Is(err, review.ErrBadLogin):
			i++
		default:
			t.Fatalf("failure %d of %s: %v", i+1, name, err)
		}
	}
}

// Twenty wrong passwords lock the name out: the right password is then
// refused, without being checked, until the lockout ends or an admin lifts
// it; a name nobody has gets the same answer; a success forgets the count.
func TestLoginLockout(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn, 0, 0)
		start := f.clock
		f.failLogins(t, "ana", "192.0.2.1", 20)
		if took := f.clock.Sub(start); took < 5*time.Minute {
			t.Errorf("20 failures took only %s of backoff", took)
		}
		_, err := f.svc.Login(ctx, "ana", "password-1", "192.0.2.2")
		var te *review.ThrottledError
		if !errors.As(err, &te) || te.In != 15*time.Minute {
			t.Fatalf("right password while locked out: %v", err)
		}
		locked := err.Error()
		f.failLogins(t, "nobody", "192.0.2.3", 20)
		if _, err := f.svc.Login(ctx, "nobody", "password-1", "192.0.2.4"); err == nil || err.Error() != locked {
			t.Errorf("an unknown name locked out says %q, ana %q", err, locked)
		}

		// The lockout ends by itself…
		f.clock = f.clock.Add(15 * time.Minute)
		if _, err := f.svc.Login(ctx, "ana", "password-1", "192.0.2.2"); err != nil {
			t.Fatalf("after the lockout: %v", err)
		}
		// … and the success forgot the failures: five go free again.
		for i := range 5 {
			if _, err := f.svc.Login(ctx, "ana", "wrong-password", "192.0.2.2"); !errors.Is(err, review.ErrBadLogin) {
				t.Fatalf("failure %d after a success: %v", i+1, err)
			}
		}

		// An admin lifts a lockout at once.
		f.failLogins(t, "ana", "192.0.2.1", 15)
		if _, err := f.svc.Login(ctx, "ana", "password-1", "192.0.2.2"); !errors.Is(err, review.ErrThrottled) {
			t.Fatalf("locked again: %v", err)
		}
		if n, err := f.svc.Unlock(ctx, "cli:ops", "ana"); err != nil || n != 20 {
			t.Fatalf("unlock: %d %v", n, err)
		}
		if _, err := f.svc.Login(ctx, "ana", "password-1", "192.0.2.2"); err != nil {
			t.Fatalf("after unlock: %v", err)
		}
		if _, err := f.svc.Unlock(ctx, "cli:ops", "zed"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unlock of an unknown user: %v", err)
		}

		es, err := store.ListAudit(ctx, f.db, store.AuditFilter{Action: "login_locked"})
		if err != nil {
			t.Fatal(err)
		}
		var subjects []string
		for _, e := range es {
			subjects = append(subjects, e.Subject)
		}
		if got := fmt.Sprint(subjects); got != "[user ana user nobody user ana]" {
			t.Errorf("lockouts in the audit log: %s", got)
		}
		es, err = store.ListAudit(ctx, f.db, store.AuditFilter{Action: "user_unlock"})
		if err != nil || len(es) != 1 || es[0].Actor != "cli:ops" || es[0].Subject != "user ana" || string(es[0].Detail) != `{"failures":20}` {
			t.Errorf("unlock in the audit log: %v %+v", err, es)
		}
		es, err = store.ListAudit(ctx, f.db, store.AuditFilter{Action: "login_failed", Limit: 1})
		if err != nil || len(es) != 1 || string(es[0].Detail) != `{"addr":"192.0.2.1","reason":"wrong password"}` {
			t.Errorf("a failed login in the audit log: %v %+v", err, es)
		}
	})
}

// One address trying many names is locked out, for every name, after
// AddressThrottle.LockAfter failures (here 30, not 100, to spare 140
// password hashes); another address is not. An IPv6 address counts by its
// /64.
func TestLoginAddressLockout(t *testing.T) {
	defaults := review.AddressThrottle
	t.Cleanup(func() { review.AddressThrottle = defaults })
	review.AddressThrottle.Free, review.AddressThrottle.LockAfter = 10, 30
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn, 0, 0)
		for j, addr := range []string{"198.51.100.7", "2001:db8::1"} {
			for i := range 3 {
				f.failLogins(t, fmt.Sprintf("guess%d-%d", j, i), addr, 10)
			}
			if _, err := f.svc.Login(ctx, "bea", "password-1", addr); !errors.Is(err, review.ErrThrottled) {
				t.Errorf("from locked-out %s: %v", addr, err)
			}
		}
		if _, err := f.svc.Login(ctx, "bea", "password-1", "2001:db8::2"); !errors.Is(err, review.ErrThrottled) {
			t.Errorf("from the same /64: %v", err)
		}
		if _, err := f.svc.Login(ctx, "bea", "password-1", "2001:db8:1::1"); err != nil {
			t.Errorf("from another /64: %v", err)
		}
	})
}

// Logins of one name at the same moment cannot all be let through on one
// count: beyond the free failures, the others wait.
func TestLoginThrottleConcurrent(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, 0, 0)
		var mu sync.Mutex
		checked := 0
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				_, err := f.svc.Login(context.Background(), "ana", "wrong-password", "")
				if errors.Is(err, review.ErrBadLogin) {
					mu.Lock()
					checked++
					mu.Unlock()
				} else if !errors.Is(err, review.ErrThrottled) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if free := review.AccountThrottle.Free + 1; checked > free {
			t.Errorf("%d passwords checked at one moment; at most %d may be", checked, free)
		}
	})
}
