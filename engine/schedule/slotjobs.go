package schedule

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/goodturn/goodturn/engine/queue"
	"github.com/goodturn/goodturn/engine/store"
)

// SlotQueue is the River queue of scheduled slots' runs: every scheduler
// works it.
const SlotQueue = "schedule"

// DefaultRescueAfter is how long a slot's run may take when the scheduler
// does not say (see Scheduler.RescueAfter): longer than a nightly run, and
// how long the slot of a process killed outright waits for River to rescue
// it.
const DefaultRescueAfter = time.Hour

// SlotArgs is the River job of one scheduled slot: unique by ruleset and
// nominal time, so that however many schedulers insert it, it is one job
// and runs once.
type SlotArgs struct {
	Ruleset string    `json:"ruleset" river:"unique"`
	Nominal string    `json:"nominal" river:"unique"`
	Zone    string    `json:"zone"`
	At      time.Time `json:"at"`
	// Timeout is how long the slot's run may take (Scheduler.RescueAfter):
	// the job carries it, so that whichever River client leads, it does
	// not take the run for stuck sooner.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// Kind names scheduled slots' jobs in River.
func (SlotArgs) Kind() string { return "goodturn_schedule_slot" }

// InsertOpts puts slot jobs on SlotQueue, unique by ruleset and slot in any
// state but cancelled and discarded.
func (SlotArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: SlotQueue, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

func (a SlotArgs) slot() Slot {
	return Slot{Ruleset: a.Ruleset, Nominal: a.Nominal, Zone: a.Zone, At: a.At}
}

// slotQueue is a scheduler's River client and the jobs its steps inserted
// or found.
type slotQueue struct {
	once   sync.Once
	err    error
	client *queue.Client
	// life is the context of the first Step: the scheduler's lifetime.
	life context.Context
	mu   sync.Mutex
	ids  []int64
}

func (s *Scheduler) jobPoll() time.Duration {
	if s.JobPoll > 0 {
		return s.JobPoll
	}
	return time.Second
}

// rescueAfter is how long a slot's run may take: RescueAfter, or
// DefaultRescueAfter.
func (s *Scheduler) rescueAfter() time.Duration { return cmp.Or(s.RescueAfter, DefaultRescueAfter) }

// client starts the scheduler's River client, once, for ctx's lifetime.
func (s *Scheduler) client(ctx context.Context) (*queue.Client, error) {
	q := &s.queue
	q.once.Do(func() {
		rescue := s.rescueAfter()
		workers := river.NewWorkers()
		river.AddWorker(workers, &slotWorker{s: s})
		q.client, q.err = queue.NewClient(s.DB, queue.Config{Workers: workers, Logger: s.logger(), FetchPollInterval: s.jobPoll(),
			Queues: map[string]river.QueueConfig{SlotQueue: {MaxWorkers: 16}}, JobTimeout: rescue, RescueStuckJobsAfter: rescue})
		if q.err == nil {
			q.life = ctx
			q.err = q.client.Start(ctx)
		}
		if q.err != nil {
			q.err = fmt.Errorf("start the schedule's job queue: %w", q.err)
		}
	})
	return q.client, q.err
}

// start inserts a due slot's job, unique across processes, and waits until
// a scheduler's River client has taken it. A slot whose job exists already
// was inserted by another process (or an earlier start): it is taken.
func (s *Scheduler) start(ctx context.Context, sl Slot) error {
	log := s.logger().With("ruleset", sl.Ruleset, "slot", sl.Nominal, "zone", sl.Zone)
	client, err := s.client(ctx)
	if err != nil {
		return err
	}
	res, err := client.Insert(ctx, SlotArgs{Ruleset: sl.Ruleset, Nominal: sl.Nominal, Zone: sl.Zone, At: sl.At, Timeout: s.rescueAfter()}, nil)
	if err != nil {
		log.Error("slot's job not inserted", "error", err)
		return fmt.Errorf("insert the job of slot %s %s: %w", sl.Ruleset, sl.Nominal, err)
	}
	s.queue.mu.Lock()
	s.queue.ids = append(s.queue.ids, res.Job.ID)
	s.queue.mu.Unlock()
	if res.UniqueSkippedAsDuplicate {
		log.Info("slot's job inserted by another process", "job", res.Job.ID)
		s.observe(Event{Slot: sl, Outcome: OutcomeTaken})
	}
	return s.waitTaken(ctx, res.Job.ID, sl)
}

// waitTaken waits until the slot's job is taken: its slot recorded as
// running or finished by whoever took it, or the job done. So a step's
// slots start in order, and one that comes due while the ruleset's last
// run goes on finds the run lock taken.
func (s *Scheduler) waitTaken(ctx context.Context, id int64, sl Slot) error {
	for {
		row, err := GetSlot(ctx, s.DB, sl.Ruleset, sl.Nominal)
		if err == nil && row.Status != SlotCancelled {
			return nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if job, err := s.queue.client.JobGet(ctx, id); err != nil {
			return fmt.Errorf("slot %s %s: %w", sl.Ruleset, sl.Nominal, err)
		} else if job.FinalizedAt != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.queue.life.Done():
			return nil
		case <-time.After(s.jobPoll() / 4):
		}
	}
}

// Wait waits for the slots' jobs this scheduler's steps inserted or found
// to be done (by whichever process took them), or, once the scheduler's
// context is cancelled, for its River client to stop: its running jobs
// have then recorded their end.
func (s *Scheduler) Wait() {
	q := &s.queue
	if q.client == nil {
		return
	}
	q.mu.Lock()
	ids := q.ids
	q.ids = nil
	q.mu.Unlock()
	for i, id := range ids {
		for {
			if q.life.Err() != nil {
				<-q.client.Stopped()
				return
			}
			job, err := q.client.JobGet(context.WithoutCancel(q.life), id)
			if err != nil {
				// Looked for again at the next Wait.
				q.mu.Lock()
				q.ids = append(q.ids, ids[i:]...)
				q.mu.Unlock()
				return
			}
			if job.FinalizedAt != nil {
				break
			}
			time.Sleep(s.jobPoll() / 4)
		}
	}
}

// Stop stops the scheduler's River client after its running jobs have
// recorded their end. A nil scheduler, or one never stepped, has nothing
// to stop.
func (s *Scheduler) Stop() {
	if s != nil && s.queue.client != nil {
		s.queue.client.Stop(context.Background())
	}
}

// Every working River client knows the slot jobs, so that whichever leads
// rescues a stuck one instead of discarding it (see queue.Kind); only
// schedulers run them.
func init() {
	queue.Kind(func(w *river.Workers) error { return river.AddWorkerSafely(w, &slotWorker{}) })
}

// slotWorker runs scheduled slots' jobs for a scheduler.
type slotWorker struct {
	river.WorkerDefaults[SlotArgs]
	s *Scheduler
}

// Work runs a slot unless its history says there is nothing to do: it ran
// already (an earlier attempt finished it, or the job is a new one for an
// old slot, inserted again after River's cleaner deleted the completed
// job), or an attempt left it running (its process died) and a later slot
// of the ruleset has come since. It
// takes the ruleset's run lock first; a slot whose ruleset is running is
// skipped, unless an earlier attempt of its own may still hold the lock.
// Timeout is how long the slot's run may take, as the job carries it.
func (w *slotWorker) Timeout(job *river.Job[SlotArgs]) time.Duration { return job.Args.Timeout }

func (w *slotWorker) Work(ctx context.Context, job *river.Job[SlotArgs]) error {
	s, sl := w.s, job.Args.slot()
	log := s.logger().With("ruleset", sl.Ruleset, "slot", sl.Nominal, "zone", sl.Zone, "attempt", job.Attempt)
	// The scheduler shutting down cancels the run, as River's timeout does.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.queue.life, cancel)()
	now := s.now()
	prev, err := GetSlot(ctx, s.DB, sl.Ruleset, sl.Nominal)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	row := &SlotRecord{Ruleset: sl.Ruleset, Nominal: sl.Nominal, Zone: sl.Zone, DueAt: sl.At, ClaimedAt: now, ClaimedBy: s.id(), Status: SlotRunning}
	if prev != nil && prev.Status != SlotRunning && prev.Status != SlotCancelled {
		return nil // done already
	}
	orphan := prev != nil && prev.Status == SlotRunning
	if orphan && s.laterSlotDue(sl, now) {
		row.Status, row.Error = SlotFailed, "abandoned: the process running it ("+prev.ClaimedBy+") stopped, and a later slot has come since"
		return w.settle(ctx, row, log)
	}
	lock, ok, err := store.TryLockRuleset(ctx, s.DB, sl.Ruleset)
	if err != nil {
		return err
	}
	if !ok {
		if orphan {
			// The attempt River took for dead may be alive and running.
			return river.JobSnooze(s.jobPoll())
		}
		row.Status, row.Error = SlotSkipped, "the previous run of "+sl.Ruleset+" is still going"
		return w.settle(ctx, row, log)
	}
	defer func() {
		if err := lock.Unlock(); err != nil {
			log.Error("ruleset lock not released", "error", err)
		}
	}()
	if err := StartSlot(ctx, s.DB, row); err != nil {
		return err
	}
	if orphan {
		log.Warn("slot taken over: the process that ran it is gone", "claimed_by", prev.ClaimedBy)
	}
	log.Info("slot started", "claimed_by", row.ClaimedBy)
	s.run(ctx, sl, row, cmp.Or(job.Args.Timeout, s.rescueAfter()), log)
	if row.Status == SlotCancelled {
		// Shut down or out of time: River runs the slot's job again.
		return fmt.Errorf("slot %s %s: %s", sl.Ruleset, sl.Nominal, row.Error)
	}
	return nil
}

// NextRetry runs a cancelled slot again at once, in whichever process
// takes it.
func (w *slotWorker) NextRetry(*river.Job[SlotArgs]) time.Time { return time.Now().Add(time.Second) }

// settle records a slot that will not run.
func (w *slotWorker) settle(ctx context.Context, row *SlotRecord, log *slog.Logger) error {
	if err := StartSlot(ctx, w.s.DB, row); err != nil {
		return err
	}
	log.Warn("slot "+row.Status, "reason", row.Error)
	w.s.observe(Event{Slot: Slot{Ruleset: row.Ruleset, Nominal: row.Nominal, Zone: row.Zone, At: row.DueAt}, Outcome: row.Status, Err: row.Error})
	return nil
}

// laterSlotDue reports whether a later slot of the slot's ruleset has come
// due by now.
func (s *Scheduler) laterSlotDue(sl Slot, now time.Time) bool {
	e := s.entry(sl.Ruleset)
	if e == nil {
		return false
	}
	next, ok := e.Next(sl.At)
	return ok && !next.At.After(now)
}

var _ rivertype.JobArgs = SlotArgs{}
