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
			{Key: "proposal-1-email", ProposalID: 1, CustomerID: 10, Channel: "email", Recipient: "a@example.com", Subject: "Hi", CreatedAt: now},
			{Key: "proposal-1-action", ProposalID: 1, CustomerID: 10, Channel: "action", Payload: `{"action":"waive_charge"}`, CreatedAt: now},
			{Key: "proposal-2-email", ProposalID: 2, CustomerID: 11, Channel: "email", Status: outboxdb.Skipped, CreatedAt: now},
		}
		added, err := outboxdb.Enqueue(ctx, db, ms)
		if err != nil || len(added) != 3 || added[0].ID == 0 || added[0].ID == added[1].ID || added[0].Status != outboxdb.Queued {
			t.Fatalf("enqueue: %+v %v", added, err)
		}
		if again, err := outboxdb.Enqueue(ctx, db, ms); err != nil || len(again) != 0 {
			t.Fatalf("enqueue again: %+v %v", again, err)
		}
		// The messages that wait without a send job: not the skipped one.
		waiting, err := outboxdb.Unscheduled(ctx, db, 0, 10)
		if err != nil || len(waiting) != 2 || waiting[0].Key != "proposal-1-email" || waiting[0].Subject != "Hi" {
			t.Fatalf("unscheduled: %+v %v", waiting, err)
		}
		m := added[0]
		if err := outboxdb.SetJob(ctx, db, m.ID, 77); err != nil {
			t.Fatal(err)
		}
		if waiting, err := outboxdb.Unscheduled(ctx, db, 0, 10); err != nil || len(waiting) != 1 || waiting[0].Key != "proposal-1-action" {
			t.Fatalf("unscheduled after SetJob: %+v %v", waiting, err)
		}
		if err := outboxdb.MarkSending(ctx, db, m.ID, 0); err != nil {
			t.Fatal(err)
		}
		// A second run of the job that read the row before cannot mark it
		// again.
		if err := outboxdb.MarkSending(ctx, db, m.ID, 0); !errors.Is(err, outboxdb.ErrLostClaim) {
			t.Errorf("second mark: %v", err)
		}
		if err := outboxdb.MarkSent(ctx, db, m.ID, 1, now); err != nil {
			t.Fatal(err)
		}
		sent, err := outboxdb.Get(ctx, db, m.ID)
		if err != nil || sent.Status != outboxdb.Sent || sent.Attempts != 1 || !sent.SentAt.Equal(now) || sent.JobID != 77 {
			t.Fatalf("sent: %+v %v", sent, err)
		}
		// The action fails, then fails for good, and an admin retries it.
		act := added[1]
		if err := outboxdb.MarkSending(ctx, db, act.ID, 0); err != nil {
			t.Fatal(err)
		}
		if err := outboxdb.MarkFailed(ctx, db, act.ID, 1, "timeout"); err != nil {
			t.Fatal(err)
		}
		if got, _ := outboxdb.Get(ctx, db, act.ID); got.Status != outboxdb.Queued || got.LastError != "timeout" || got.Attempts != 1 {
			t.Errorf("failed once: %+v", got)
		}
		if err := outboxdb.MarkSending(ctx, db, act.ID, 1); err != nil {
			t.Fatal(err)
		}
		if err := outboxdb.MarkDead(ctx, db, act.ID, "gone"); err != nil {
			t.Fatal(err)
		}
		if err := outboxdb.MarkDead(ctx, db, m.ID, "late"); !errors.Is(err, outboxdb.ErrLostClaim) {
			t.Errorf("a sent message made dead: %v", err)
		}
		dead, err := outboxdb.List(ctx, db, outboxdb.Filter{Status: outboxdb.Dead})
		if err != nil || len(dead) != 1 || dead[0].LastError != "gone" {
			t.Fatalf("dead: %+v %v", dead, err)
		}
		retried, err := outboxdb.Retry(ctx, db, act.ID)
		if err != nil || retried.ID != act.ID || retried.Status != outboxdb.Queued || retried.Attempts != 2 {
			t.Fatalf("retry: %+v %v", retried, err)
		}
		if _, err := outboxdb.Retry(ctx, db, m.ID); err == nil {
			t.Error("retried a sent message")
		}
		if _, err := outboxdb.Retry(ctx, db, 999); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("retry of no message: %v", err)
		}
		counts, err := outboxdb.Counts(ctx, db)
		if err != nil || counts["email"][outboxdb.Sent] != 1 || counts["email"][outboxdb.Skipped] != 1 || counts["action"][outboxdb.Queued] != 1 {
			t.Errorf("counts: %v %v", counts, err)
		}
	})
}

func TestRetryDeadFilters(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.MustOpenMigrated(t, dsn)
		now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
		var ms []outboxdb.Message
		for i, c := range []struct{ ch, err string }{{"email", "550 Mailbox_unavailable"}, {"email", "421 try later"}, {"sms", "550 mailbox_unavailable"}} {
			ms = append(ms, outboxdb.Message{Key: "k" + string(rune('a'+i)), ProposalID: int64(i + 1), Channel: c.ch, CreatedAt: now,
				Status: outboxdb.Dead, LastError: c.err})
		}
		if _, err := outboxdb.Enqueue(ctx, db, ms); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			f    outboxdb.DeadFilter
			want int
		}{
			{outboxdb.DeadFilter{Channel: "email", ErrorContains: "MAILBOX_"}, 1},
			{outboxdb.DeadFilter{ErrorContains: "mailbox%"}, 0},
			{outboxdb.DeadFilter{}, 2},
			{outboxdb.DeadFilter{}, 0},
		} {
			got, err := outboxdb.RetryDead(ctx, db, tc.f)
			if err != nil || len(got) != tc.want {
				t.Errorf("RetryDead(%+v): %d %v, want %d", tc.f, len(got), err, tc.want)
			}
			for _, m := range got {
				if m.Status != outboxdb.Queued {
					t.Errorf("retried %s is %s", m.Key, m.Status)
				}
			}
		}
	})
}
