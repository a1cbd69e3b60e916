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

func TestSlotHistory(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.MustOpenMigrated(t, dsn)
		due := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
		slot := func(by string) *schedule.SlotRecord {
			return &schedule.SlotRecord{Ruleset: "mobile", Nominal: "2026-03-29 02:30", Zone: "Europe/London", DueAt: due,
				ClaimedAt: due.Add(time.Second), ClaimedBy: by, Status: schedule.SlotRunning}
		}
		a := slot("a")
		if err := schedule.StartSlot(ctx, db, a); err != nil {
			t.Fatal(err)
		}
		// Only the process running it finishes it.
		b := slot("b")
		b.Status, b.FinishedAt = schedule.SlotSucceeded, due.Add(time.Minute)
		if err := schedule.FinishSlot(ctx, db, b); err == nil {
			t.Error("another process finished the slot")
		}
		a.Status, a.Error, a.FinishedAt = schedule.SlotCancelled, "context canceled", due.Add(time.Minute)
		if err := schedule.FinishSlot(ctx, db, a); err != nil {
			t.Fatal(err)
		}
		// The next attempt of the slot's job, in another process, takes
		// the record over.
		b = slot("b")
		if err := schedule.StartSlot(ctx, db, b); err != nil {
			t.Fatal(err)
		}
		if got, err := schedule.GetSlot(ctx, db, "mobile", "2026-03-29 02:30"); err != nil || got.Status != schedule.SlotRunning ||
			got.ClaimedBy != "b" || got.Error != "" || !got.FinishedAt.IsZero() {
			t.Fatalf("slot taken over: %+v %v", got, err)
		}
		b.Status, b.RunID, b.FinishedAt = schedule.SlotSucceeded, 42, due.Add(time.Minute)
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
		// A missed slot is recorded finished, once.
		missed := func(by string) *schedule.SlotRecord {
			return &schedule.SlotRecord{Ruleset: "mobile", Nominal: "2026-03-30 02:30", Zone: "Europe/London", DueAt: due.Add(24 * time.Hour),
				ClaimedAt: due.Add(24 * time.Hour), ClaimedBy: by, Status: schedule.SlotMissed, Error: "a later slot was due"}
		}
		for _, tc := range []struct {
			by  string
			won bool
		}{{"a", true}, {"b", false}} {
			if won, err := schedule.RecordSlot(ctx, db, missed(tc.by)); err != nil || won != tc.won {
				t.Fatalf("record by %s: %v %v, want %v", tc.by, won, err, tc.won)
			}
		}
		list, err := schedule.ListSlots(ctx, db, "mobile", due)
		if err != nil || len(list) != 2 || list[1].Status != schedule.SlotMissed || list[1].FinishedAt.IsZero() || list[1].ClaimedBy != "a" {
			t.Errorf("list: %+v %v", list, err)
		}
		if _, err := schedule.GetSlot(ctx, db, "mobile", "2026-01-01 00:00"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing slot: %v", err)
		}
	})
}
