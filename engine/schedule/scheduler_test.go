package schedule_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/queue"
	"github.com/goodturn/goodturn/engine/schedule"
	"github.com/goodturn/goodturn/engine/store"
)

// clock is a settable clock shared by the schedulers of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// runs is a fake job that counts the runs of each slot and when they began.
type runs struct {
	mu    sync.Mutex
	clock *clock
	count map[string]int
	at    map[string]time.Time
	by    map[string][]string
	// hook, when set, runs inside the job.
	hook func(ctx context.Context, sl schedule.Slot) error
}

func newRuns(c *clock) *runs {
	return &runs{clock: c, count: map[string]int{}, at: map[string]time.Time{}, by: map[string][]string{}}
}

func (r *runs) job(name string) schedule.Job {
	return func(ctx context.Context, sl schedule.Slot) (int64, error) {
		r.mu.Lock()
		k := sl.Ruleset + " " + sl.Nominal
		r.count[k]++
		r.at[k] = r.clock.Now()
		r.by[k] = append(r.by[k], name)
		hook := r.hook
		r.mu.Unlock()
		if hook != nil {
			return 0, hook(ctx, sl)
		}
		return 0, nil
	}
}

func (r *runs) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.count {
		out[k] = v
	}
	return out
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newScheduler(t *testing.T, db *database.DB, c *clock, job schedule.Job, id string, specs ...string) *schedule.Scheduler {
	t.Helper()
	s := &schedule.Scheduler{DB: db, Job: job, Now: c.Now, ID: id, CatchUp: -1, Logger: quiet, JobPoll: 20 * time.Millisecond}
	t.Cleanup(s.Stop)
	for _, spec := range specs {
		name, spec, _ := strings.Cut(spec, "=")
		s.Entries = append(s.Entries, mustEntry(t, name, spec))
	}
	return s
}

// step moves the clock minute by minute from from to to, stepping each
// scheduler at every minute and waiting for their jobs.
func step(t *testing.T, c *clock, from, to time.Time, ss ...*schedule.Scheduler) {
	t.Helper()
	ctx := context.Background()
	for at := from; !at.After(to); at = at.Add(time.Minute) {
		c.Set(at)
		for _, s := range ss {
			if err := s.Step(ctx); err != nil {
				t.Fatalf("step at %v: %v", at, err)
			}
		}
		for _, s := range ss {
			s.Wait()
		}
	}
}

func slotsOf(t *testing.T, db *database.DB, ruleset string) map[string]schedule.SlotRecord {
	t.Helper()
	list, err := schedule.ListSlots(context.Background(), db, ruleset, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]schedule.SlotRecord{}
	for _, s := range list {
		out[s.Nominal] = s
	}
	return out
}

// A ruleset scheduled at 02:30 London time runs exactly once each night,
// across both daylight-saving changes of 2026, at 02:30 on the clock.
func TestDailyRunAcrossDST(t *testing.T) {
	london := mustLoc(t, "Europe/London")
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		db := dbtest.MustOpenMigrated(t, dsn)
		c := &clock{}
		r := newRuns(c)
		var want []string
		for _, period := range [][2]time.Time{
			{time.Date(2026, 3, 26, 12, 0, 0, 0, london), time.Date(2026, 4, 1, 12, 0, 0, 0, london)},
			{time.Date(2026, 10, 22, 12, 0, 0, 0, london), time.Date(2026, 10, 28, 12, 0, 0, 0, london)},
		} {
			s := newScheduler(t, db, c, r.job("a"), "a", "mobile=CRON_TZ=Europe/London 30 2 * * *")
			step(t, c, period[0], period[1], s)
			for d := period[0].AddDate(0, 0, 1); !d.After(period[1]); d = d.AddDate(0, 0, 1) {
				want = append(want, "mobile "+d.Format(time.DateOnly)+" 02:30")
			}
		}
		got := r.counts()
		if len(got) != len(want) {
			t.Errorf("%d slots ran, want %d: %v", len(got), len(want), got)
		}
		for _, k := range want {
			if got[k] != 1 {
				t.Errorf("%s ran %d times, want once", k, got[k])
			}
			if at := r.at[k].In(london).Format("15:04"); at != "02:30" {
				t.Errorf("%s ran at %s London time", k, at)
			}
		}
		for nominal, sl := range slotsOf(t, db, "mobile") {
			if sl.Status != schedule.SlotSucceeded || sl.Zone != "Europe/London" || sl.FinishedAt.IsZero() || sl.ClaimedBy != "a" {
				t.Errorf("slot %s: %+v", nominal, sl)
			}
		}
	})
}

// 01:30 London time does not exist on 29 March (it runs at 02:00 BST) and
// happens twice on 25 October (it runs once, at the first).
func TestSkippedAndRepeatedHour(t *testing.T) {
	london := mustLoc(t, "Europe/London")
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		db := dbtest.MustOpenMigrated(t, dsn)
		c := &clock{}
		r := newRuns(c)
		spring := newScheduler(t, db, c, r.job("a"), "a", "mobile=CRON_TZ=Europe/London 30 1 * * *")
		step(t, c, time.Date(2026, 3, 28, 12, 0, 0, 0, london), time.Date(2026, 3, 30, 12, 0, 0, 0, london), spring)
		autumn := newScheduler(t, db, c, r.job("a"), "a", "mobile=CRON_TZ=Europe/London 30 1 * * *")
		step(t, c, time.Date(2026, 10, 24, 12, 0, 0, 0, london), time.Date(2026, 10, 26, 12, 0, 0, 0, london), autumn)
		want := map[string]string{
			"mobile 2026-03-29 01:30": "2026-03-29T02:00:00+01:00",
			"mobile 2026-03-30 01:30": "2026-03-30T01:30:00+01:00",
			"mobile 2026-10-25 01:30": "2026-10-25T01:30:00+01:00",
			"mobile 2026-10-26 01:30": "2026-10-26T01:30:00Z",
		}
		got := r.counts()
		if len(got) != len(want) {
			t.Errorf("ran %v, want %v", got, want)
		}
		for k, at := range want {
			if got[k] != 1 || r.at[k].In(london).Format(time.RFC3339) != at {
				t.Errorf("%s ran %d times, at %v; want once at %s", k, got[k], r.at[k].In(london), at)
			}
		}
	})
}

// A scheduler started after a missed night runs the missed slot once; one
// started again later does not run it again.
func TestCatchUpAfterRestart(t *testing.T) {
	london := mustLoc(t, "Europe/London")
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		db := dbtest.MustOpenMigrated(t, dsn)
		c := &clock{}
		r := newRuns(c)
		spec := "mobile=CRON_TZ=Europe/London 30 2 * * *"
		first := newScheduler(t, db, c, r.job("first"), "first", spec)
		step(t, c, time.Date(2026, 6, 1, 0, 0, 0, 0, london), time.Date(2026, 6, 1, 12, 0, 0, 0, london), first)
		// Down from noon on 1 June to 08:00 on 2 June: the night is missed.
		first.Stop()
		second := newScheduler(t, db, c, r.job("second"), "second", spec)
		second.CatchUp = 0 // the default, 24 hours
		step(t, c, time.Date(2026, 6, 2, 8, 0, 0, 0, london), time.Date(2026, 6, 2, 8, 10, 0, 0, london), second)
		if got := r.counts()["mobile 2026-06-02 02:30"]; got != 1 {
			t.Fatalf("missed slot ran %d times on restart, want once", got)
		}
		if at := r.at["mobile 2026-06-02 02:30"]; !at.Equal(time.Date(2026, 6, 2, 8, 0, 0, 0, london)) {
			t.Errorf("missed slot ran at %v, want at the restart", at)
		}
		// Another restart does not run it again, and the next night runs.
		second.Stop()
		third := newScheduler(t, db, c, r.job("third"), "third", spec)
		third.CatchUp = 0
		step(t, c, time.Date(2026, 6, 2, 9, 0, 0, 0, london), time.Date(2026, 6, 3, 9, 0, 0, 0, london), third)
		got := r.counts()
		want := map[string]int{"mobile 2026-06-01 02:30": 1, "mobile 2026-06-02 02:30": 1, "mobile 2026-06-03 02:30": 1}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("runs %v, want %v", got, want)
		}
		if by := r.by["mobile 2026-06-02 02:30"]; len(by) != 1 || by[0] != "second" {
			t.Errorf("missed slot run by %v", by)
		}
	})
}

// After a longer pause, only the latest missed slot runs; the earlier ones
// of the last 24 hours are recorded as missed.
func TestCatchUpRunsLatestOnly(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		db := dbtest.MustOpenMigrated(t, dsn)
		c := &clock{}
		r := newRuns(c)
		var events []schedule.Event
		s := newScheduler(t, db, c, r.job("a"), "a", "hourly=CRON_TZ=UTC 0 * * * *")
		s.CatchUp = 5*time.Hour + 30*time.Minute
		s.Observe = func(ev schedule.Event) { events = append(events, ev) }
		c.Set(time.Date(2026, 6, 1, 12, 10, 0, 0, time.UTC))
		if err := s.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.Wait()
		if got := r.counts(); len(got) != 1 || got["hourly 2026-06-01 12:00"] != 1 {
			t.Errorf("ran %v, want only the 12:00 slot", got)
		}
		slots := slotsOf(t, db, "hourly")
		var missed []string
		for n, sl := range slots {
			if sl.Status == schedule.SlotMissed {
				missed = append(missed, n)
			}
		}
		sort.Strings(missed)
		if strings.Join(missed, ",") != "2026-06-01 07:00,2026-06-01 08:00,2026-06-01 09:00,2026-06-01 10:00,2026-06-01 11:00" {
			t.Errorf("missed slots: %v", missed)
		}
		if len(events) != 6 || events[5].Outcome != schedule.SlotSucceeded {
			t.Errorf("events: %+v", events)
		}
	})
}

// Two schedulers sharing a database — two `goodturn serve` processes —
// run each slot once between them.
func TestTwoSchedulersOneRunPerSlot(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		dbA, dbB := dbtest.MustOpenMigrated(t, dsn), dbtest.MustOpenMigrated(t, dsn)
		c := &clock{}
		r := newRuns(c)
		r.hook = func(ctx context.Context, sl schedule.Slot) error {
			time.Sleep(2 * time.Millisecond)
			return nil
		}
		specs := []string{"mobile=CRON_TZ=Europe/London */20 * * * *", "uk-best-tariff=CRON_TZ=Europe/London */30 * * * *"}
		var mu sync.Mutex
		outcomes := map[string]int{}
		observe := func(ev schedule.Event) {
			mu.Lock()
			outcomes[ev.Outcome]++
			mu.Unlock()
		}
		a := newScheduler(t, dbA, c, r.job("a"), "a", specs...)
		b := newScheduler(t, dbB, c, r.job("b"), "b", specs...)
		a.Observe, b.Observe = observe, observe
		ctx := context.Background()
		start := time.Date(2026, 10, 24, 20, 0, 0, 0, time.UTC)
		for at := start; at.Before(start.Add(12 * time.Hour)); at = at.Add(time.Minute) {
			c.Set(at)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, s := range []*schedule.Scheduler{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = s.Step(ctx)
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			a.Wait()
			b.Wait()
		}
		got := r.counts()
		// 12 hours from 21:00 BST on 24 October, when the clocks go back
		// an hour, cover 11 hours of wall clock, (21:00, 07:59]: 32 slots
		// of mobile and 21 of uk-best-tariff; the repeated hour adds none.
		if len(got) != 32+21 {
			t.Errorf("%d slots ran, want %d", len(got), 32+21)
		}
		for k, n := range got {
			if n != 1 {
				t.Errorf("%s ran %d times (by %v)", k, n, r.by[k])
			}
		}
		if outcomes[schedule.SlotSucceeded] != 53 || outcomes[schedule.OutcomeTaken] != 53 {
			t.Errorf("outcomes %v, want 53 succeeded and 53 taken", outcomes)
		}
	})
}

// A panicking job is recovered and recorded as a failed slot, and the
// scheduler goes on.
func TestPanicRecovered(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		db := dbtest.MustOpenMigrated(t, dsn)
		c := &clock{}
		r := newRuns(c)
		r.hook = func(ctx context.Context, sl schedule.Slot) error {
			if strings.HasSuffix(sl.Nominal, "01:00") {
				panic("boom")
			}
			return nil
		}
		var events []schedule.Event
		s := newScheduler(t, db, c, r.job("a"), "a", "mobile=CRON_TZ=UTC 0 * * * *")
		s.Observe = func(ev schedule.Event) { events = append(events, ev) }
		step(t, c, time.Date(2026, 6, 1, 0, 30, 0, 0, time.UTC), time.Date(2026, 6, 1, 2, 30, 0, 0, time.UTC), s)
		slots := slotsOf(t, db, "mobile")
		if sl := slots["2026-06-01 01:00"]; sl.Status != schedule.SlotFailed || sl.Error != "panic: boom" || sl.FinishedAt.IsZero() {
			t.Errorf("panicked slot: %+v", sl)
		}
		if sl := slots["2026-06-01 02:00"]; sl.Status != schedule.SlotSucceeded {
			t.Errorf("next slot: %+v", sl)
		}
		if len(events) != 2 || events[0].Outcome != schedule.SlotFailed || events[0].Err != "panic: boom" {
			t.Errorf("events: %+v", events)
		}
		// The lock was released despite the panic.
		lock, ok, err := store.TryLockRuleset(context.Background(), db, "mobile")
		if err != nil || !ok {
			t.Fatalf("lock after a panic: %v %v", ok, err)
		}
		lock.Unlock()
	})
}

// A slot that comes due while the ruleset's previous run is still going is
// skipped and recorded so.
func TestSkippedWhilePreviousRuns(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		db := dbtest.MustOpenMigrated(t, dsn)
		c := &clock{}
		r := newRuns(c)
		release := make(chan struct{})
		r.hook = func(ctx context.Context, sl schedule.Slot) error {
			if strings.HasSuffix(sl.Nominal, "01:00") {
				<-release
			}
			return nil
		}
		s := newScheduler(t, db, c, r.job("a"), "a", "mobile=CRON_TZ=UTC 0 * * * *")
		ctx := context.Background()
		c.Set(time.Date(2026, 6, 1, 0, 59, 0, 0, time.UTC))
		if err := s.Step(ctx); err != nil {
			t.Fatal(err)
		}
		for _, h := range []int{1, 2} {
			c.Set(time.Date(2026, 6, 1, h, 0, 0, 0, time.UTC))
			if err := s.Step(ctx); err != nil {
				t.Fatal(err)
			}
		}
		close(release)
		s.Wait()
		c.Set(time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC))
		if err := s.Step(ctx); err != nil {
			t.Fatal(err)
		}
		s.Wait()
		slots := slotsOf(t, db, "mobile")
		for n, want := range map[string]string{"2026-06-01 01:00": schedule.SlotSucceeded, "2026-06-01 02:00": schedule.SlotSkipped, "2026-06-01 03:00": schedule.SlotSucceeded} {
			if slots[n].Status != want {
				t.Errorf("slot %s: %+v, want %s", n, slots[n], want)
			}
		}
		if e := slots["2026-06-01 02:00"].Error; e != "the previous run of mobile is still going" {
			t.Errorf("skipped slot's reason: %q", e)
		}
		if got := r.counts(); len(got) != 2 {
			t.Errorf("ran %v", got)
		}
	})
}

// A run cancelled by a shutdown leaves its slot cancelled, and the next
// start runs it again.
func TestCancelledSlotRunsAgain(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		db := dbtest.MustOpenMigrated(t, dsn)
		c := &clock{}
		r := newRuns(c)
		started := make(chan struct{})
		r.hook = func(ctx context.Context, sl schedule.Slot) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		}
		spec := "mobile=CRON_TZ=Europe/London 30 2 * * *"
		s := newScheduler(t, db, c, r.job("a"), "a", spec)
		s.CatchUp = time.Hour
		ctx, cancel := context.WithCancel(context.Background())
		c.Set(time.Date(2026, 6, 1, 1, 31, 0, 0, time.UTC))
		if err := s.Step(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("the slot did not start")
		}
		cancel()
		s.Wait()
		if sl := slotsOf(t, db, "mobile")["2026-06-01 02:30"]; sl.Status != schedule.SlotCancelled || sl.Error != "context canceled" {
			t.Fatalf("slot after shutdown: %+v", sl)
		}
		r.mu.Lock()
		r.hook = nil
		r.mu.Unlock()
		again := newScheduler(t, db, c, r.job("b"), "b", spec)
		again.CatchUp = 0
		c.Set(time.Date(2026, 6, 1, 1, 40, 0, 0, time.UTC))
		if err := again.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		again.Wait()
		if sl := slotsOf(t, db, "mobile")["2026-06-01 02:30"]; sl.Status != schedule.SlotSucceeded || sl.ClaimedBy != "b" {
			t.Errorf("slot after restart: %+v", sl)
		}
		if got := r.counts()["mobile 2026-06-01 02:30"]; got != 2 {
			t.Errorf("ran %d times, want twice (cancelled, then again)", got)
		}
	})
}

// A run that takes longer than its limit is cancelled, and its slot fails
// for good: it is not run again (it would take as long again, holding the
// ruleset's lock through the slots after it), and the next slot runs.
func TestSlotOutOfTimeFails(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		db := dbtest.MustOpenMigrated(t, dsn)
		c := &clock{}
		r := newRuns(c)
		r.hook = func(ctx context.Context, sl schedule.Slot) error {
			if strings.HasSuffix(sl.Nominal, "01:00") {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}
		s := newScheduler(t, db, c, r.job("a"), "a", "mobile=CRON_TZ=UTC 0 * * * *")
		s.RescueAfter = 300 * time.Millisecond
		step(t, c, time.Date(2026, 6, 1, 0, 59, 0, 0, time.UTC), time.Date(2026, 6, 1, 1, 0, 0, 0, time.UTC), s)
		// Were the slot's job to run again, it would by now.
		time.Sleep(time.Second)
		s.Wait()
		sl := slotsOf(t, db, "mobile")["2026-06-01 01:00"]
		if sl.Status != schedule.SlotFailed || !strings.HasPrefix(sl.Error, "out of time: the run took longer than its limit of 300ms") {
			t.Errorf("slot out of time: %+v", sl)
		}
		if got := r.counts()["mobile 2026-06-01 01:00"]; got != 1 {
			t.Errorf("the slot out of time ran %d times, want once", got)
		}
		step(t, c, time.Date(2026, 6, 1, 2, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 2, 0, 0, 0, time.UTC), s)
		if sl := slotsOf(t, db, "mobile")["2026-06-01 02:00"]; sl.Status != schedule.SlotSucceeded {
			t.Errorf("the next slot: %+v", sl)
		}
	})
}

// Run sleeps until the next slot and stops when its context is cancelled,
// after the running job has finished.
func TestRunLoop(t *testing.T) {
	db := dbtest.MustOpenMigrated(t, dbtest.SQLiteDSN(t))
	var mu sync.Mutex
	ran := 0
	finished := false
	job := func(ctx context.Context, sl schedule.Slot) (int64, error) {
		mu.Lock()
		ran++
		mu.Unlock()
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		finished = true
		mu.Unlock()
		return 0, ctx.Err()
	}
	// Every minute, with a clock at 59.9 s past: the first slot is due
	// within a fraction of a second.
	base := time.Now()
	offset := time.Date(2026, 6, 1, 10, 0, 59, 900_000_000, time.UTC).Sub(base)
	s := &schedule.Scheduler{DB: db, Job: job, CatchUp: -1, Logger: quiet, JobPoll: 20 * time.Millisecond,
		Now: func() time.Time { return time.Now().Add(offset) }}
	s.Entries = []*schedule.Entry{mustEntry(t, "mobile", "CRON_TZ=UTC * * * * *")}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.Run(ctx)
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := ran
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slot did not run")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if !finished {
		t.Error("Run returned before the job finished")
	}
	if sl := slotsOf(t, db, "mobile")["2026-06-01 10:01"]; sl.Status != schedule.SlotCancelled {
		t.Errorf("slot: %+v", sl)
	}
}

// killedWhileRunning inserts a slot's job and has it taken by a River
// client that records the slot as running, as claimed by "killed", and is
// then gone without finishing it: the job stays running in River, as that
// of a process killed with kill -9 does, and no run lock is held.
func killedWhileRunning(t *testing.T, db *database.DB, sl schedule.SlotArgs) {
	t.Helper()
	ctx := context.Background()
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	started := make(chan struct{})
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[schedule.SlotArgs]) error {
		if err := schedule.StartSlot(ctx, db, &schedule.SlotRecord{Ruleset: sl.Ruleset, Nominal: sl.Nominal, Zone: sl.Zone,
			DueAt: sl.At, ClaimedAt: sl.At, ClaimedBy: "killed", Status: schedule.SlotRunning}); err != nil {
			t.Error(err)
		}
		close(started)
		<-hang
		return nil
	}))
	killed, err := queue.NewClient(db, queue.Config{Workers: workers, FetchPollInterval: 20 * time.Millisecond, JobTimeout: -1,
		Queues: map[string]river.QueueConfig{schedule.SlotQueue: {MaxWorkers: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := killed.Insert(ctx, sl, nil); err != nil {
		t.Fatal(err)
	}
	if err := killed.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the slot's job was not taken")
	}
	// Gone: the client stops waiting for its job, which stays running.
	stop, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	killed.StopAndCancel(stop)
}

// A slot whose process was killed while running it is rescued by River
// and run by a scheduler that is alive.
func TestKilledSlotRescued(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		db := dbtest.MustOpenMigrated(t, dsn)
		due := time.Date(2026, 6, 1, 1, 30, 0, 0, time.UTC) // 02:30 BST
		killedWhileRunning(t, db, schedule.SlotArgs{Ruleset: "mobile", Nominal: "2026-06-01 02:30", Zone: "Europe/London", At: due})
		time.Sleep(1500 * time.Millisecond) // longer than RescueAfter below

		c := &clock{}
		r := newRuns(c)
		s := newScheduler(t, db, c, r.job("new"), "new", "mobile=CRON_TZ=Europe/London 30 2 * * *")
		s.CatchUp, s.RescueAfter = 0, time.Second
		c.Set(due.Add(2 * time.Minute))
		if err := s.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.Wait()
		if got := r.counts(); len(got) != 1 || got["mobile 2026-06-01 02:30"] != 1 {
			t.Errorf("ran %v, want the killed process's slot once", got)
		}
		if sl := slotsOf(t, db, "mobile")["2026-06-01 02:30"]; sl.Status != schedule.SlotSucceeded || sl.ClaimedBy != "new" {
			t.Errorf("rescued slot: %+v", sl)
		}
	})
}

// A killed process's slot whose ruleset has had a later slot since is
// recorded as failed when River rescues it, not run.
func TestKilledSlotAbandoned(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		db := dbtest.MustOpenMigrated(t, dsn)
		due := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		killedWhileRunning(t, db, schedule.SlotArgs{Ruleset: "hourly", Nominal: "2026-06-01 00:00", Zone: "UTC", At: due})
		time.Sleep(1500 * time.Millisecond)

		c := &clock{}
		r := newRuns(c)
		s := newScheduler(t, db, c, r.job("new"), "new", "hourly=CRON_TZ=UTC 0 * * * *")
		s.CatchUp, s.RescueAfter = 0, time.Second
		c.Set(due.Add(time.Hour + 5*time.Minute))
		if err := s.Step(context.Background()); err != nil { // runs 01:00; River rescues 00:00
			t.Fatal(err)
		}
		s.Wait()
		for deadline := time.Now().Add(30 * time.Second); slotsOf(t, db, "hourly")["2026-06-01 00:00"].Status == schedule.SlotRunning; {
			if time.Now().After(deadline) {
				t.Fatal("the killed process's slot was not rescued within 30s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		slots := slotsOf(t, db, "hourly")
		if sl := slots["2026-06-01 00:00"]; sl.Status != schedule.SlotFailed || !strings.HasPrefix(sl.Error, "abandoned: the process running it (killed) stopped") {
			t.Errorf("orphan: %+v", sl)
		}
		if got := r.counts(); len(got) != 1 || got["hourly 2026-06-01 01:00"] != 1 {
			t.Errorf("ran %v", got)
		}
	})
}
