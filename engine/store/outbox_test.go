package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/store"
)

func TestOutboxLifecycle(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.MustOpenMigrated(t, dsn)
		now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
		ms := []store.OutboxMessage{
			{Key: "proposal-1-email", ProposalID: 1, CustomerID: 10, Channel: "email", Recipient: "a@example.com", Subject: "Hi",
				NextAttemptAt: now, CreatedAt: now},
			{Key: "proposal-1-action", ProposalID: 1, CustomerID: 10, Channel: "action", Payload: `{"action":"waive_charge"}`,
				NextAttemptAt: now, CreatedAt: now},
			{Key: "proposal-2-email", ProposalID: 2, CustomerID: 11, Channel: "email", NextAttemptAt: now.Add(time.Hour), CreatedAt: now},
		}
		if n, err := store.EnqueueOutbox(ctx, db, ms); err != nil || n != 3 {
			t.Fatalf("enqueue: %d %v", n, err)
		}
		if n, err := store.EnqueueOutbox(ctx, db, ms); err != nil || n != 0 {
			t.Fatalf("enqueue again: %d %v", n, err)
		}
		// Only due rows of the asked channels are claimed, once per lease.
		got, err := store.ClaimOutbox(ctx, db, []string{"email"}, now, now.Add(time.Minute), 10)
		if err != nil || len(got) != 1 || got[0].Key != "proposal-1-email" || got[0].Subject != "Hi" {
			t.Fatalf("claim: %+v %v", got, err)
		}
		if again, err := store.ClaimOutbox(ctx, db, []string{"email"}, now, now.Add(time.Minute), 10); err != nil || len(again) != 0 {
			t.Fatalf("claimed twice: %+v %v", again, err)
		}
		m := got[0]
		if err := store.MarkOutboxSending(ctx, db, m.ID, 0, now.Add(10*time.Minute)); err != nil {
			t.Fatal(err)
		}
		// A stale claim cannot mark it again.
		if err := store.MarkOutboxSending(ctx, db, m.ID, 0, now.Add(10*time.Minute)); !errors.Is(err, store.ErrLostClaim) {
			t.Errorf("second mark: %v", err)
		}
		if err := store.MarkOutboxSent(ctx, db, m.ID, 1, now); err != nil {
			t.Fatal(err)
		}
		sent, err := store.GetOutbox(ctx, db, m.ID)
		if err != nil || sent.Status != store.OutboxSent || sent.Attempts != 1 || !sent.SentAt.Equal(now) {
			t.Fatalf("sent: %+v %v", sent, err)
		}
		// The action fails for good, and an admin retries it.
		act, err := store.ClaimOutbox(ctx, db, []string{"action"}, now, now.Add(time.Minute), 10)
		if err != nil || len(act) != 1 || act[0].Payload != `{"action":"waive_charge"}` {
			t.Fatalf("claim action: %+v %v", act, err)
		}
		if err := store.MarkOutboxSending(ctx, db, act[0].ID, 0, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := store.MarkOutboxFailed(ctx, db, act[0].ID, 1, "gone", now, true); err != nil {
			t.Fatal(err)
		}
		dead, err := store.ListOutbox(ctx, db, store.OutboxFilter{Status: store.OutboxDead})
		if err != nil || len(dead) != 1 || dead[0].LastError != "gone" {
			t.Fatalf("dead: %+v %v", dead, err)
		}
		if err := store.RetryOutbox(ctx, db, act[0].ID, now); err != nil {
			t.Fatal(err)
		}
		if err := store.RetryOutbox(ctx, db, m.ID, now); err == nil {
			t.Error("retried a sent message")
		}
		if err := store.RetryOutbox(ctx, db, 999, now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("retry of no message: %v", err)
		}
		counts, err := store.OutboxCounts(ctx, db)
		if err != nil || counts["email"][store.OutboxSent] != 1 || counts["email"][store.OutboxQueued] != 1 || counts["action"][store.OutboxQueued] != 1 {
			t.Errorf("counts: %v %v", counts, err)
		}
	})
}
