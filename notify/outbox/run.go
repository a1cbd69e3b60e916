package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/goodturn/goodturn/engine/queue"
)

// Report is what one pass of the sender did, in message id order.
type Report struct {
	Outcomes []Outcome
}

// Count returns how many outcomes had the result.
func (r Report) Count(result string) int {
	n := 0
	for _, o := range r.Outcomes {
		if o.Result == result {
			n++
		}
	}
	return n
}

// idlePoll is how often RunOnce looks whether a send job is still due.
const idlePoll = 100 * time.Millisecond

// RunOnce is one pass of the sender (goodturn send): it starts client — a
// River client whose workers include the sender's (AddWorker) and whose
// queues are the sender's (Queues) — works the send queues until no send
// job of them is due, stops the client, and reports what the jobs did.
// Jobs that a pass snoozes (quiet hours) or that wait for a retry are due
// later, for a later pass or a running serve.
func (s *Sender) RunOnce(ctx context.Context, client *queue.Client) (Report, error) {
	var rep Report
	s.mu.Lock()
	s.report = &rep
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.report = nil
		s.mu.Unlock()
	}()
	queues := make([]string, 0, len(s.Channels))
	for ch := range s.Channels {
		queues = append(queues, Queue(ch))
	}
	if len(queues) == 0 {
		return rep, nil // no transport: every message waits
	}
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return rep, fmt.Errorf("send: start River: %w", err)
	}
	waitErr := s.waitIdle(ctx, client, queues)
	stopErr := client.Stop(context.WithoutCancel(ctx))
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Report{Outcomes: append([]Outcome(nil), rep.Outcomes...)}
	sort.SliceStable(out.Outcomes, func(i, j int) bool { return out.Outcomes[i].ID < out.Outcomes[j].ID })
	if waitErr != nil {
		return out, waitErr
	}
	if stopErr != nil {
		return out, fmt.Errorf("send: stop River: %w", stopErr)
	}
	return out, nil
}

// waitIdle returns once no job of the queues is due, twice in a row.
func (s *Sender) waitIdle(ctx context.Context, client *queue.Client, queues []string) error {
	idle := 0
	t := time.NewTicker(idlePoll)
	defer t.Stop()
	for idle < 2 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		due, err := jobDue(ctx, client, queues, s.now())
		if err != nil {
			return err
		}
		if due {
			idle = 0
		} else {
			idle++
		}
	}
	return nil
}

// jobDue reports whether a job of the queues is running in this client,
// or due at now: available, or scheduled or retryable for now or earlier
// (River's leader makes those available). Jobs running elsewhere are
// another process's, or were left by one that stopped, for River to
// rescue: they do not keep a pass going.
func jobDue(ctx context.Context, client *queue.Client, queues []string, now time.Time) (bool, error) {
	running, err := client.JobList(ctx, river.NewJobListParams().Queues(queues...).States(rivertype.JobStateRunning).First(10000))
	if err != nil {
		return false, fmt.Errorf("send: list jobs: %w", err)
	}
	for _, j := range running.Jobs {
		if n := len(j.AttemptedBy); n > 0 && j.AttemptedBy[n-1] == client.ID() {
			return true, nil
		}
	}
	next, err := client.JobList(ctx, river.NewJobListParams().Queues(queues...).
		States(rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStateRetryable).
		OrderBy(river.JobListOrderByScheduledAt, river.SortOrderAsc).First(1))
	if err != nil {
		return false, fmt.Errorf("send: list jobs: %w", err)
	}
	return len(next.Jobs) > 0 && !next.Jobs[0].ScheduledAt.After(now), nil
}

// Run is serve's sender: it gives a send job to the messages that wait
// without one (Adopt), starts client (when not nil) working the send
// queues until ctx ends, and every interval enqueues the approved proposals that have no
// messages yet — those approved without the outbox at hand, or whose
// rendering failed before. Failures are logged and tried again on the
// next tick. It returns once the client has stopped.
func Run(ctx context.Context, every time.Duration, enq *Enqueuer, client *queue.Client, log *slog.Logger) error {
	if n, err := enq.Jobs.Adopt(ctx, enq.DB); err != nil {
		log.Error("outbox: adopt messages without a send job", "err", err)
	} else if n > 0 {
		log.Info("outbox: messages queued before River got a send job each", "messages", n)
	}
	settle := func() {
		if n, err := enq.Jobs.Settle(ctx, enq.DB); err != nil && ctx.Err() == nil {
			log.Error("outbox: settle messages whose job River gave up", "err", err)
		} else if n > 0 {
			log.Warn("outbox: messages whose send job River gave up are dead letters", "messages", n)
		}
	}
	// Without a client (no transport: every message waits) it only
	// enqueues.
	working := client != nil
	if working {
		if err := client.Start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("send: start River: %w", err)
		}
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		settle()
		res, err := enq.Enqueue(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error("outbox: enqueue", "err", err)
		}
		for _, f := range res.Failed {
			log.Error("outbox: enqueue", "err", f)
		}
		select {
		case <-ctx.Done():
			if !working {
				return nil
			}
			if err := client.Stop(context.WithoutCancel(ctx)); err != nil {
				return fmt.Errorf("send: stop River: %w", err)
			}
			return nil
		case <-t.C:
		}
	}
}
