package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/review"
)

// `goodturn user unlock` lifts a lockout after 20 failed logins at once,
// `user list` shows it until then, and the audit log records who lifted
// it.
func TestUserUnlock(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		if code, _, errOut := runUserIn(t, "password-1\n", "add", "ana", "--role", "reviewer", "--db", dsn); code != 0 {
			t.Fatalf("user add: %s", errOut)
		}
		db, err := database.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		now := time.Now()
		svc := review.New(db, review.Config{Now: func() time.Time { return now }})
		for failed := 0; failed < 20; {
			_, err := svc.Login(ctx, "ana", "wrong-password", "192.0.2.1")
			var te *review.ThrottledError
			switch {
			case errors.As(err, &te):
				now = te.Until
			case errors.Is(err, review.ErrBadLogin):
				failed++
			default:
				t.Fatal(err)
			}
		}
		if _, err := svc.Login(ctx, "ana", "password-1", "192.0.2.1"); !errors.Is(err, review.ErrThrottled) {
			t.Fatalf("locked out: %v", err)
		}
		if code, out, _ := runUserIn(t, "", "list", "--db", dsn); code != 0 || !strings.Contains(out, "locked out until") {
			t.Errorf("user list while locked out: %d\n%s", code, out)
		}
		code, out, errOut := runUserIn(t, "", "unlock", "ana", "--db", dsn)
		if code != 0 || out != "Unlocked ana: forgot 20 failed login(s); they may log in now.\n" {
			t.Fatalf("user unlock: %d %q %s", code, out, errOut)
		}
		if _, err := svc.Login(ctx, "ana", "password-1", "192.0.2.1"); err != nil {
			t.Errorf("login after unlock: %v", err)
		}
		if code, out, _ := runUserIn(t, "", "list", "--db", dsn); code != 0 || strings.Contains(out, "locked") {
			t.Errorf("user list after unlock: %d\n%s", code, out)
		}
		es, err := store.ListAudit(ctx, db, store.AuditFilter{Action: "user_unlock"})
		if err != nil || len(es) != 1 || es[0].Actor != "cli:ops" || es[0].Subject != "user ana" {
			t.Errorf("audit: %v %+v", err, es)
		}
		if code, _, errOut := runUserIn(t, "", "unlock", "zed", "--db", dsn); code != 1 || !strings.Contains(errOut, "user zed: not found") {
			t.Errorf("unlock of an unknown user: %d %s", code, errOut)
		}
		if code, out, _ := runUserIn(t, "", "unlock", "ana", "--db", dsn); code != 0 || out != "ana had no failed logins to forget.\n" {
			t.Errorf("unlock again: %d %q", code, out)
		}
	})
}
