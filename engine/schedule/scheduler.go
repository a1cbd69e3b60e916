package schedule

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
)

// Job runs one slot's ruleset and returns the id of the run it recorded
// (0 if none). Its context is cancelled when the scheduler is shutting
// down; the job should then record its run as failed and return.
type Job func(ctx context.Context, slot Slot) (runID int64, err error)

// OutcomeTaken is the outcome of a slot another process claimed first. The
// other outcomes are the SlotRecord statuses.
const OutcomeTaken = "taken"

// Event says how a slot this process saw was settled.
type Event struct {
	Slot Slot
	// Outcome is SlotSucceeded, SlotFailed, SlotCancelled,
	// SlotSkipped, SlotMissed or OutcomeTaken.
	Outcome string
	RunID   int64
	Err     string
	// Duration is the job's wall time, for slots that ran.
	Duration time.Duration
}

// DefaultCatchUp is how far back a starting scheduler looks for a slot it
// missed.
const DefaultCatchUp = 24 * time.Hour

// DefaultPoll is the longest the scheduler sleeps between looks at the
// clock, so that a clock that jumps (a suspended machine) is noticed.
const DefaultPoll = time.Minute

// Scheduler runs rulesets on their schedules. Each due slot is a River job
// on SlotQueue, unique by ruleset and slot, so it runs at most once across
// every scheduler sharing the database: each scheduler inserts the jobs of
// the slots it sees come due, and works the queue with a River client of
// its own, so that a slot runs in whichever process takes its job first.
// The job takes the ruleset's run lock (store.TryLockRuleset), so a
// ruleset whose previous run is still going skips the slot instead of
// running twice at once. A slot whose process died is rescued by River
// (see RescueAfter) and run by another. Each slot's history is kept in
// schedule_slots (slots.go). Every step also fails the runs whose process
// is gone (see store.AbandonDeadRuns).
type Scheduler struct {
	// DB holds the schedule_slots table and the run locks.
	DB *database.DB
	// Entries are the schedules.
	Entries []*Entry
	// Job runs a due slot.
	Job Job
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// ID names this process in schedule_slots.claimed_by; host:pid:random
	// when empty.
	ID string
	// CatchUp is how far back the first Step looks for slots that came due
	// while no scheduler ran, and the longest window any Step looks at:
	// DefaultCatchUp when zero, none when negative (then orphaned slots
	// are not looked for either). Of several due slots of a ruleset only
	// the latest runs; the others are recorded as missed.
	CatchUp time.Duration
	// Poll is the longest Run sleeps between steps: DefaultPoll when zero.
	Poll time.Duration
	// Logger receives a line per slot; slog.Default when nil.
	Logger *slog.Logger
	// Observe, when set, is called once for each slot this scheduler
	// settles, from the goroutine that settled it.
	Observe func(Event)
	// JobPoll is how often the scheduler's River client looks for slot
	// jobs: a second when zero.
	JobPoll time.Duration
	// RescueAfter is how long a slot's run may take: then it is cancelled
	// and the slot fails, not to be run again; and River rescues the slot
	// of a process that died this long ago and gives it to another.
	// DefaultRescueAfter when zero.
	RescueAfter time.Duration

	stepMu    sync.Mutex
	last      time.Time
	started   bool
	settled   map[slotKey]bool
	settledAt map[slotKey]time.Time
	idOnce    sync.Once
	queue     slotQueue
}

func (s *Scheduler) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Scheduler) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Scheduler) id() string {
	s.idOnce.Do(func() {
		if s.ID != "" {
			return
		}
		host, _ := os.Hostname()
		var b [3]byte
		rand.Read(b[:])
		s.ID = fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	})
	return s.ID
}

// Step looks at the clock once and inserts the jobs of the slots that came
// due since the last Step (on the first, within CatchUp), each once across
// processes, and returns when each has been taken by a scheduler's River
// client; Wait waits for them to be done. The first Step starts this
// scheduler's River client for ctx's lifetime.
func (s *Scheduler) Step(ctx context.Context) error {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	now := s.now()
	catchUp := s.CatchUp
	if catchUp == 0 {
		catchUp = DefaultCatchUp
	}
	if !s.started {
		s.last = now.Add(-max(catchUp, 0))
		s.started = true
	}
	from := s.last
	if catchUp > 0 && from.Before(now.Add(-catchUp)) {
		// Stopped for longer (a suspended machine, a database down for
		// days): slots older than the catch-up window are let go.
		from = now.Add(-catchUp)
	}
	s.abandonDead(ctx)
	if !now.After(from) {
		return nil
	}
	var firstErr error
	for _, e := range s.Entries {
		due := e.Slots(from, now)
		// Slots this process has settled already: a step that failed
		// looks at its window again.
		kept := due[:0]
		for _, sl := range due {
			if !s.settled[slotKey{sl.Ruleset, sl.Nominal}] {
				kept = append(kept, sl)
			}
		}
		due = kept
		if len(due) == 0 {
			continue
		}
		// After a pause only the latest slot is worth running: each run
		// covers every customer as of its day.
		for _, sl := range due[:len(due)-1] {
			err := s.record(ctx, sl, now, SlotMissed, "a later slot of the ruleset was due when the scheduler looked")
			s.settle(sl, err)
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}
		sl := due[len(due)-1]
		err := s.start(ctx, sl)
		s.settle(sl, err)
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		// Keep the window: the slots not settled are tried again.
		return firstErr
	}
	s.last = now
	for k, at := range s.settledAt {
		if !at.After(now) {
			delete(s.settled, k)
			delete(s.settledAt, k)
		}
	}
	return nil
}

// abandonDead fails the runs, of any ruleset, whose process is gone and
// withdraws their proposals (store.AbandonDeadRuns), so that a run killed
// outside the schedule — a `goodturn run` killed with kill -9 — does not
// hold its customers back until its ruleset runs again. Heartbeats are on
// the wall clock, not on Now. A failure is logged and tried again at the
// next step.
func (s *Scheduler) abandonDead(ctx context.Context) {
	dead, err := store.AbandonDeadRuns(ctx, s.DB, nil, time.Now(), store.StaleAfter)
	if err != nil {
		s.logger().Error("dead runs not looked for", "error", err)
	}
	for _, r := range dead {
		s.logger().Warn("run abandoned", "ruleset", r.Ruleset, "run", r.ID, "reason", r.Error)
	}
}

func (s *Scheduler) entry(ruleset string) *Entry {
	for _, e := range s.Entries {
		if e.Ruleset == ruleset {
			return e
		}
	}
	return nil
}

type slotKey struct{ ruleset, nominal string }

// settle remembers a slot this step dealt with, unless dealing with it
// failed on the database.
func (s *Scheduler) settle(sl Slot, err error) {
	if err != nil {
		return
	}
	if s.settled == nil {
		s.settled, s.settledAt = map[slotKey]bool{}, map[slotKey]time.Time{}
	}
	k := slotKey{sl.Ruleset, sl.Nominal}
	s.settled[k], s.settledAt[k] = true, sl.At
}

// record records a slot that will not run with a final status.
func (s *Scheduler) record(ctx context.Context, sl Slot, now time.Time, status, why string) error {
	row := &SlotRecord{Ruleset: sl.Ruleset, Nominal: sl.Nominal, Zone: sl.Zone, DueAt: sl.At, ClaimedAt: now,
		ClaimedBy: s.id(), Status: status, Error: why}
	won, err := RecordSlot(ctx, s.DB, row)
	if err != nil {
		s.logger().Error("slot not recorded", "ruleset", sl.Ruleset, "slot", sl.Nominal, "zone", sl.Zone, "error", err)
		return err
	}
	if won {
		s.logger().Warn("slot "+status, "ruleset", sl.Ruleset, "slot", sl.Nominal, "zone", sl.Zone, "reason", why)
		s.observe(Event{Slot: sl, Outcome: status, Err: why})
	}
	return nil
}

// run runs a slot's job, the slot recorded as claimed by this process,
// and records how it ended. A panic in the job is recovered and recorded as
// a failure.
func (s *Scheduler) run(ctx context.Context, sl Slot, row *SlotRecord, limit time.Duration, log *slog.Logger) {
	began := time.Now()
	runID, err := s.safeJob(ctx, sl, log)
	took := time.Since(began)
	row.RunID = runID
	row.FinishedAt = s.now()
	switch {
	case err == nil:
		row.Status, row.Error = SlotSucceeded, ""
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		// Out of time: running it again would take as long again, and
		// hold the ruleset's lock through the slots after it.
		row.Status, row.Error = SlotFailed, fmt.Sprintf("out of time: the run took longer than its limit of %s (serve --rescue-after); not run again, the next slot runs as scheduled", limit)
	case ctx.Err() != nil:
		// Shut down during the run: the slot's job runs again.
		row.Status, row.Error = SlotCancelled, err.Error()
	default:
		row.Status, row.Error = SlotFailed, err.Error()
	}
	if ferr := s.finish(ctx, row); ferr != nil {
		log.Error("slot not recorded", "error", ferr)
	}
	attrs := []any{"status", row.Status, "run", runID, "duration", took.Round(time.Millisecond)}
	switch row.Status {
	case SlotSucceeded:
		log.Info("slot finished", attrs...)
	case SlotCancelled:
		log.Warn("slot finished", append(attrs, "error", err)...)
	default:
		log.Error("slot finished", append(attrs, "error", err)...)
	}
	s.observe(Event{Slot: sl, Outcome: row.Status, RunID: runID, Err: row.Error, Duration: took})
}

func (s *Scheduler) safeJob(ctx context.Context, sl Slot, log *slog.Logger) (runID int64, err error) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("slot job panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return s.Job(ctx, sl)
}

// finish records a slot's end even if ctx is cancelled.
func (s *Scheduler) finish(ctx context.Context, row *SlotRecord) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return FinishSlot(fctx, s.DB, row)
}

func (s *Scheduler) observe(ev Event) {
	if s.Observe != nil {
		s.Observe(ev)
	}
}

// Next returns the next slot due after t across all entries.
func (s *Scheduler) Next(t time.Time) (Slot, bool) {
	var best Slot
	found := false
	for _, e := range s.Entries {
		if sl, ok := e.Next(t); ok && (!found || sl.At.Before(best.At)) {
			best, found = sl, true
		}
	}
	return best, found
}

// Run steps the scheduler at each slot's time until ctx is cancelled, then
// stops its River client, waiting for the running jobs, whose context ctx
// cancels, to record their end.
func (s *Scheduler) Run(ctx context.Context) {
	poll := s.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	for {
		if err := s.Step(ctx); err != nil && ctx.Err() == nil {
			s.logger().Error("schedule step failed", "error", err)
		}
		wait := poll
		now := s.now()
		if next, ok := s.Next(now); ok {
			wait = min(wait, next.At.Sub(now))
		}
		t := time.NewTimer(max(wait, 10*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			s.Stop()
			return
		case <-t.C:
		}
	}
}
