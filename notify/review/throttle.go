package review

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

// Throttle is how failed logins of one key (an account name or a client
// address) slow down its next logins and then lock it out for a while.
type Throttle struct {
	// Free is how many failures go without a delay: people mistype.
	Free int
	// Delay follows the first failure beyond Free, and doubles with each
	// further one up to MaxDelay.
	Delay, MaxDelay time.Duration
	// LockAfter failures lock the key out for Lockout; each failure after
	// that locks it again.
	LockAfter int
	Lockout   time.Duration
	// Forget is how long without a failure wipes the count.
	Forget time.Duration
}

// AccountThrottle throttles the logins of one name, whether or not anyone
// has that name: 5 failures go free, then 1 s, 2 s, … up to a minute
// between attempts, and 20 lock the name out for 15 minutes. Until a day
// passes without a failure (or the user logs in, or an admin runs `goodturn
// user unlock`), every further failure locks it again.
var AccountThrottle = Throttle{Free: 5, Delay: time.Second, MaxDelay: time.Minute, LockAfter: 20, Lockout: 15 * time.Minute, Forget: 24 * time.Hour}

// AddressThrottle throttles the logins from one client address (an IPv6
// address by its /64), whatever names they try: 20 failures go free, then
// the same backoff, and 100 lock the address out for 15 minutes; an hour
// without a failure wipes the count.
var AddressThrottle = Throttle{Free: 20, Delay: time.Second, MaxDelay: time.Minute, LockAfter: 100, Lockout: 15 * time.Minute, Forget: time.Hour}

// wait is how long a key with n failures waits before its next login.
func (t Throttle) wait(n int) time.Duration {
	switch {
	case n >= t.LockAfter:
		return t.Lockout
	case n <= t.Free:
		return 0
	}
	d := t.Delay
	for i := t.Free + 1; i < n && d < t.MaxDelay; i++ {
		d *= 2
	}
	return min(d, t.MaxDelay)
}

// ErrThrottled is what a login gets while its name or address must wait;
// it is a *ThrottledError.
var ErrThrottled = errors.New("too many failed logins")

// ThrottledError says until when a login must wait. It names neither the
// account nor the address, and an unknown name gets it alike, so that it
// tells nobody whether a user exists.
type ThrottledError struct {
	Until time.Time
	// In is how long from now that is.
	In time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed logins with this name or from this address: try again in %s", roundUp(e.In))
}

// Is makes errors.Is(err, ErrThrottled) hold.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// roundUp writes a wait as people say it: seconds, then whole minutes.
func roundUp(d time.Duration) string {
	if d <= time.Minute {
		s := int((d + time.Second - 1) / time.Second)
		if s <= 1 {
			return "a second"
		}
		return fmt.Sprintf("%d seconds", s)
	}
	m := int((d + time.Minute - 1) / time.Minute)
	return fmt.Sprintf("%d minutes", m)
}

// accountKey is a login's key for a name: the name as the audit log
// writes it.
func accountKey(name string) string { return "user " + auditName(name) }

// addressKey is a login's key for a client address: the address, or the
// /64 network of an IPv6 address, since one host commonly has all of it.
func addressKey(addr string) string {
	if a, err := netip.ParseAddr(addr); err == nil && a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		return "addr " + p.String()
	}
	return "addr " + auditName(addr)
}

// auditName bounds a name the client sent for the audit log and the
// throttle: at most 64 bytes of valid UTF-8.
func auditName(name string) string {
	if len(name) > 64 {
		name = name[:64]
	}
	return strings.ToValidUTF8(name, "?")
}

// attempt is a login's counts, taken as it starts: per key, the row
// before and the row it wrote.
type attempt struct {
	keys     []string
	throttle []Throttle
	before   []*reviewdb.LoginThrottle
	wrote    []reviewdb.LoginThrottle
}

// admit counts a login against its name and, when known, its address, as
// a failure until it succeeds; a key that must still wait refuses it with
// a *ThrottledError, and takes back what was already counted.
func (s *Service) admit(ctx context.Context, name, addr string) (*attempt, error) {
	a := &attempt{}
	add := func(key string, t Throttle) {
		a.keys = append(a.keys, key)
		a.throttle = append(a.throttle, t)
	}
	if addr != "" {
		add(addressKey(addr), AddressThrottle)
	}
	add(accountKey(name), AccountThrottle)
	for i, key := range a.keys {
		before, wrote, err := s.count(ctx, key, a.throttle[i])
		if err != nil {
			for j := range a.before {
				if rerr := a.refund(ctx, s.DB, j); rerr != nil {
					return nil, rerr
				}
			}
			return nil, err
		}
		a.before = append(a.before, before)
		a.wrote = append(a.wrote, wrote)
	}
	return a, nil
}

// refund takes back the count of key i: the row is put back as it was,
// unless another login counted since, which only loses one failure.
func (a *attempt) refund(ctx context.Context, q database.Querier, i int) error {
	back := reviewdb.LoginThrottle{Key: a.keys[i], LastFailureAt: a.wrote[i].LastFailureAt}
	if b := a.before[i]; b != nil {
		back = *b
	}
	ok, err := reviewdb.SwapLoginThrottle(ctx, q, &a.wrote[i], back)
	if err != nil || ok {
		return err
	}
	return reviewdb.RefundLoginThrottle(ctx, q, a.keys[i])
}

// count adds a failure to key unless it must wait, and returns the row
// before (nil if none) and the row it wrote.
func (s *Service) count(ctx context.Context, key string, t Throttle) (*reviewdb.LoginThrottle, reviewdb.LoginThrottle, error) {
	var none reviewdb.LoginThrottle
	// Another login of the same key counted at the same moment makes the
	// swap fail; it is tried again, and a key that busy waits.
	for range 3 {
		now := s.now()
		prev, err := reviewdb.GetLoginThrottle(ctx, s.DB, key)
		if errors.Is(err, store.ErrNotFound) {
			prev, err = nil, nil
			if err := reviewdb.DeleteStaleLoginThrottles(ctx, s.DB, now.Add(-max(AccountThrottle.Forget, AddressThrottle.Forget)), now); err != nil {
				return nil, none, err
			}
		}
		if err != nil {
			return nil, none, err
		}
		n := 1
		if prev != nil {
			if now.Before(prev.BlockedUntil) {
				return nil, none, &ThrottledError{Until: prev.BlockedUntil, In: prev.BlockedUntil.Sub(now)}
			}
			if now.Sub(prev.LastFailureAt) < t.Forget {
				n = prev.Failures + 1
			}
		}
		wrote := reviewdb.LoginThrottle{Key: key, Failures: n, LastFailureAt: now, BlockedUntil: now.Add(t.wait(n))}
		ok, err := reviewdb.SwapLoginThrottle(ctx, s.DB, prev, wrote)
		if err != nil {
			return nil, none, err
		}
		if ok {
			return prev, wrote, nil
		}
	}
	return nil, none, &ThrottledError{Until: s.now().Add(time.Second), In: time.Second}
}

// succeeded forgets the name's failures and takes back the address's
// count of this login.
func (a *attempt) succeeded(ctx context.Context, q database.Querier) error {
	for i, key := range a.keys {
		if strings.HasPrefix(key, "user ") {
			if _, err := reviewdb.DeleteLoginThrottle(ctx, q, key); err != nil {
				return err
			}
		} else if err := a.refund(ctx, q, i); err != nil {
			return err
		}
	}
	return nil
}

// locked returns the keys this failed login locked out, with their
// lockout's end: those whose count just reached the throttle's LockAfter.
func (a *attempt) locked(now time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for i, key := range a.keys {
		if a.wrote[i].Failures == a.throttle[i].LockAfter {
			out[key] = now.Add(a.throttle[i].Lockout)
		}
	}
	return out
}

// Unlock lifts a user's login lockout and backoff (the count of failed
// logins of that name), and records it in the audit log as done by actor
// with how many failures it forgot. An unknown name is store.ErrNotFound.
func (s *Service) Unlock(ctx context.Context, actor, name string) (failures int, err error) {
	err = s.inTx(ctx, func(q database.Querier) error {
		if _, err := reviewdb.GetUser(ctx, q, name); err != nil {
			return err
		}
		failures, err = reviewdb.DeleteLoginThrottle(ctx, q, accountKey(name))
		if err != nil {
			return err
		}
		return s.audit(ctx, q, actor, "user_unlock", "user "+name, "", map[string]any{"failures": failures})
	})
	return failures, err
}

// LockedOut returns the end of a user's login lockout, or the zero time
// when the name is not locked out (a short backoff is not a lockout).
func (s *Service) LockedOut(ctx context.Context, name string) (time.Time, error) {
	t, err := reviewdb.GetLoginThrottle(ctx, s.DB, accountKey(name))
	if errors.Is(err, store.ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	if t.Failures < AccountThrottle.LockAfter || !s.now().Before(t.BlockedUntil) {
		return time.Time{}, nil
	}
	return t.BlockedUntil, nil
}
