package outboxdb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/outbox/outboxdb"
)

func TestOutboxLifecycle(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.MustOpenMigrated(t, dsn)
		now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
		ms := []outboxdb.Message{
			{Key: "proposal-1-email", ProposalID: 1, CustomerID: 10, Channel: "email", Recipient: "a@example.com", Subject: "Hi",
				NextAttemptAt: now, CreatedAt: now},
			{Key: "proposal-1-action", ProposalID: 1, CustomerID: 10, Channel: "action", Payload: `{"action":"waive_charge"}`,
				NextAttemptAt: now, CreatedAt: now},
			{Key: "proposal-2-email", ProposalID: 2, CustomerID: 11, Channel: "email", NextAttemptAt: now.Add(time.Hour), CreatedAt: now},
		}
		if n, err := outboxdb.Enqueue(ctx, db, ms); err != nil || n != 3 {
			t.Fatalf("enqueue: %d %v", n, err)
		}
		if n, err := outboxdb.Enqueue(ctx, db, ms); err != nil || n != 0 {
			t.Fatalf("enqueue again: %d %v", n, err)
		}
		// Only due rows of the asked channels are claimed, once per lease.
		got, err := outboxdb.Claim(ctx, db, []string{"email"}, now, now.Add(time.Minute), 10)
		if err != nil || len(got) != 1 || got[0].Key != "proposal-1-email" || got[0].Subject != "Hi" {
			t.Fatalf("claim: %+v %v", got, err)
		}
		if again, err := outboxdb.Claim(ctx, db, []string{"email"}, now, now.Add(time.Minute), 10); err != nil || len(again) != 0 {
			t.Fatalf("claimed twice: %+v %v", again, err)
		}
		m := got[0]
		if err := outboxdb.MarkSending(ctx, db, m.ID, 0, now.Add(10*time.Minute)); err != nil {
			t.Fatal(err)
		}
		// A stale claim cannot mark it again.
		if err := outboxdb.MarkSending(ctx, db, m.ID, 0, now.Add(10*time.Minute)); !errors.Is(err, outboxdb.ErrLostClaim) {
			t.Errorf("second mark: %v", err)
		}
		if err := outboxdb.MarkSent(ctx, db, m.ID, 1, now); err != nil {
			t.Fatal(err)
		}
		sent, err := outboxdb.Get(ctx, db, m.ID)
		if err != nil || sent.Status != outboxdb.Sent || sent.Attempts != 1 || !sent.SentAt.Equal(now) {
			t.Fatalf("sent: %+v %v", sent, err)
		}
		// The action fails for good, and an admin retries it.
		act, err := outboxdb.Claim(ctx, db, []string{"action"}, now, now.Add(time.Minute), 10)
		if err != nil || len(act) != 1 || act[0].Payload != `{"action":"waive_charge"}` {
			t.Fatalf("claim action: %+v %v", act, err)
		}
		if err := outboxdb.MarkSending(ctx, db, act[0].ID, 0, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := outboxdb.MarkFailed(ctx, db, act[0].ID, 1, "gone", now, true); err != nil {
			t.Fatal(err)
		}
		dead, err := outboxdb.List(ctx, db, outboxdb.Filter{Status: outboxdb.Dead})
		if err != nil || len(dead) != 1 || dead[0].LastError != "gone" {
			t.Fatalf("dead: %+v %v", dead, err)
		}
		if err := outboxdb.Retry(ctx, db, act[0].ID, now); err != nil {
			t.Fatal(err)
		}
		if err := outboxdb.Retry(ctx, db, m.ID, now); err == nil {
			t.Error("retried a sent message")
		}
		if err := outboxdb.Retry(ctx, db, 999, now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("retry of no message: %v", err)
		}
		counts, err := outboxdb.Counts(ctx, db)
		if err != nil || counts["email"][outboxdb.Sent] != 1 || counts["email"][outboxdb.Queued] != 1 || counts["action"][outboxdb.Queued] != 1 {
			t.Errorf("counts: %v %v", counts, err)
		}
	})
}
