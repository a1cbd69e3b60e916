package schedule_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/schedule"
	"github.com/goodturn/goodturn/engine/store"
)

func TestClaimSlot(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.MustOpenMigrated(t, dsn)
		due := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
		slot := func(by string) *schedule.SlotRecord {
			return &schedule.SlotRecord{Ruleset: "mobile", Nominal: "2026-03-29 02:30", Zone: "Europe/London", DueAt: due,
				ClaimedAt: due.Add(time.Second), ClaimedBy: by}
		}
		a := slot("a")
		if won, err := schedule.ClaimSlot(ctx, db, a); err != nil || !won {
			t.Fatalf("first claim: %v %v", won, err)
		}
		if won, err := schedule.ClaimSlot(ctx, db, slot("b")); err != nil || won {
			t.Fatalf("second claim: %v %v", won, err)
		}
		// Only the claimer finishes it.
		b := slot("b")
		b.Status, b.FinishedAt = schedule.SlotSucceeded, due.Add(time.Minute)
		if err := schedule.FinishSlot(ctx, db, b); err == nil {
			t.Error("another process finished the slot")
		}
		a.Status, a.Error, a.FinishedAt = schedule.SlotCancelled, "context canceled", due.Add(time.Minute)
		if err := schedule.FinishSlot(ctx, db, a); err != nil {
			t.Fatal(err)
		}
		// A cancelled slot may be claimed again, once.
		if won, err := schedule.ClaimSlot(ctx, db, slot("b")); err != nil || !won {
			t.Fatalf("claim of a cancelled slot: %v %v", won, err)
		}
		if won, err := schedule.ClaimSlot(ctx, db, slot("c")); err != nil || won {
			t.Fatalf("second claim of a cancelled slot: %v %v", won, err)
		}
		b.Status, b.RunID = schedule.SlotSucceeded, 42
		if err := schedule.FinishSlot(ctx, db, b); err != nil {
			t.Fatal(err)
		}
		got, err := schedule.GetSlot(ctx, db, "mobile", "2026-03-29 02:30")
		if err != nil {
			t.Fatal(err)
		}
		if got.ClaimedBy != "b" || got.Status != schedule.SlotSucceeded || got.Error != "" || got.RunID != 42 ||
			!got.DueAt.Equal(due) || !got.FinishedAt.Equal(due.Add(time.Minute)) || got.Zone != "Europe/London" {
			t.Errorf("slot: %+v", got)
		}
		// A skipped slot is recorded finished.
		skipped := &schedule.SlotRecord{Ruleset: "mobile", Nominal: "2026-03-30 02:30", Zone: "Europe/London", DueAt: due.Add(24 * time.Hour),
			ClaimedAt: due.Add(24 * time.Hour), ClaimedBy: "a", Status: schedule.SlotSkipped, Error: "still running"}
		if won, err := schedule.ClaimSlot(ctx, db, skipped); err != nil || !won {
			t.Fatalf("skipped claim: %v %v", won, err)
		}
		list, err := schedule.ListSlots(ctx, db, "mobile", due)
		if err != nil || len(list) != 2 || list[1].Status != schedule.SlotSkipped || list[1].FinishedAt.IsZero() {
			t.Errorf("list: %+v %v", list, err)
		}
		if _, err := schedule.GetSlot(ctx, db, "mobile", "2026-01-01 00:00"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing slot: %v", err)
		}
	})
}
