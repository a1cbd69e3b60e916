package schedule_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/store"
)

// Every step fails the runs whose process is gone, of any ruleset — a
// `goodturn run` killed with kill -9 — and leaves live ones alone.
func TestStepAbandonsDeadRuns(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.MustOpenMigrated(t, dsn)
		day := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		dead := &store.Run{Ruleset: "unscheduled", AsOf: day, StartedAt: day, HeartbeatAt: time.Now().Add(-time.Hour)}
		live := &store.Run{Ruleset: "other", AsOf: day, StartedAt: day}
		for _, r := range []*store.Run{dead, live} {
			if err := store.CreateRun(ctx, db, r); err != nil {
				t.Fatal(err)
			}
		}
		c := &clock{}
		c.Set(day.Add(30 * time.Minute))
		s := newScheduler(t, db, c, newRuns(c).job("s"), "s", "hourly=CRON_TZ=UTC 0 * * * *")
		if err := s.Step(ctx); err != nil {
			t.Fatal(err)
		}
		s.Wait()
		if got, _ := store.GetRun(ctx, db, dead.ID); got.Status != store.RunFailed || !strings.HasPrefix(got.Error, "abandoned: ") {
			t.Errorf("dead run: %s, %q; want failed, abandoned", got.Status, got.Error)
		}
		if got, _ := store.GetRun(ctx, db, live.ID); got.Status != store.RunRunning {
			t.Errorf("live run: %s, want running", got.Status)
		}
	})
}
