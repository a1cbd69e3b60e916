package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/notify/channel"
	"github.com/goodturn/goodturn/notify/outbox/outboxdb"
)

// Defaults of a Sender.
const (
	DefaultMaxAttempts = 6
	DefaultLease       = 10 * time.Minute
	DefaultBackoffBase = time.Minute
	DefaultBackoffMax  = 6 * time.Hour
)

// Sender delivers due outbox rows through their channels.
//
// The order of one delivery is: claim the row; if it is a customer message
// outside the customer's quiet hours, defer it to the next allowed time;
// wait for the channel's rate limit; record the row as sending with the
// attempt number and a lease; hand it to the channel with its idempotency
// key; record it sent, or queued again after a backoff, or dead. A process
// that stops between the channel and the record leaves the row sending;
// when its lease has run out another pass claims it and, by the rule in
// docs/sending.md, sends it again with the same key (Resend is set) — or,
// for email with HoldUncertainEmail, marks it dead for an admin to decide.
type Sender struct {
	DB *database.DB
	// Channels deliver the rows of each outbox channel (email, sms,
	// webhook, action). Rows of channels not in the map wait.
	Channels map[string]channel.Channel
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// MaxAttempts is how many failures make a message dead;
	// DefaultMaxAttempts when zero.
	MaxAttempts int
	// Lease is how long a row stays sending before a pass takes it for a
	// process that stopped mid-send; longer than any channel's timeout.
	// DefaultLease when zero.
	Lease time.Duration
	// BackoffBase and BackoffMax shape the retry delays: base·2^(n-1)
	// after the nth failure, capped at max, of which a random half is
	// jitter.
	BackoffBase, BackoffMax time.Duration
	// Quiet keeps customer messages to the allowed hours of the customer's
	// time zone. Billing actions are not held.
	Quiet QuietHours
	// Limits rate-limit channels; a channel with no limiter is unlimited.
	Limits map[string]*Limiter
	// HoldUncertainEmail marks an email left sending by a stopped process
	// dead instead of sending it again (see docs/sending.md).
	HoldUncertainEmail bool
	// Batch is how many rows a claim takes; 100 when zero.
	Batch  int
	Logger *slog.Logger
	// Observe, when set, is told every outcome as its pass records it
	// (serve counts them in its metrics).
	Observe func(Outcome)
}

// Outcome is what happened to one row in a pass.
type Outcome struct {
	ID      int64
	Key     string
	Channel string
	// Result is sent, deferred (quiet hours), retry, dead or lost (another
	// sender took the row).
	Result string
	// Resend is true when an earlier attempt may have been delivered.
	Resend  bool
	Attempt int
	// At is when the row is next due (deferred, retry).
	At    time.Time
	Error string
}

// Outcome results.
const (
	ResultSent     = "sent"
	ResultDeferred = "deferred"
	ResultRetry    = "retry"
	ResultDead     = "dead"
	ResultLost     = "lost"
)

// Report is what one pass did.
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

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Sender) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// RunOnce delivers every row that is due now, once each, and reports what
// happened. Rows deferred or retried in the pass are left for a later one.
func (s *Sender) RunOnce(ctx context.Context) (Report, error) {
	var rep Report
	chans := make([]string, 0, len(s.Channels))
	for c := range s.Channels {
		chans = append(chans, c)
	}
	sort.Strings(chans)
	batch := s.Batch
	if batch <= 0 {
		batch = 100
	}
	seen := map[int64]bool{}
	for {
		now := s.now()
		// The claim lease covers the rate-limited wait of a whole batch.
		rows, err := outboxdb.Claim(ctx, s.DB, chans, now, now.Add(s.lease()), batch)
		if err != nil {
			return rep, err
		}
		var fresh []outboxdb.Message
		for _, m := range rows {
			if !seen[m.ID] {
				seen[m.ID] = true
				fresh = append(fresh, m)
			}
		}
		if len(fresh) == 0 {
			return rep, nil
		}
		outs, err := s.deliverAll(ctx, fresh)
		rep.Outcomes = append(rep.Outcomes, outs...)
		if s.Observe != nil {
			for _, o := range outs {
				s.Observe(o)
			}
		}
		if err != nil {
			return rep, err
		}
	}
}

// deliverAll delivers a claimed batch, each channel in its own goroutine so
// that a slow or rate-limited channel does not hold up the others.
func (s *Sender) deliverAll(ctx context.Context, rows []outboxdb.Message) ([]Outcome, error) {
	byChannel := map[string][]outboxdb.Message{}
	for _, m := range rows {
		byChannel[m.Channel] = append(byChannel[m.Channel], m)
	}
	var (
		mu       sync.Mutex
		outs     []Outcome
		firstErr error
		wg       sync.WaitGroup
	)
	for _, ms := range byChannel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, m := range ms {
				o, err := s.deliver(ctx, m)
				mu.Lock()
				if o.Result != "" {
					outs = append(outs, o)
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	sort.Slice(outs, func(i, j int) bool { return outs[i].ID < outs[j].ID })
	return outs, firstErr
}

func (s *Sender) lease() time.Duration {
	if s.Lease > 0 {
		return s.Lease
	}
	return DefaultLease
}

func (s *Sender) maxAttempts() int {
	if s.MaxAttempts > 0 {
		return s.MaxAttempts
	}
	return DefaultMaxAttempts
}

// Backoff returns the delay after the nth failure: base·2^(n-1) capped at
// max, the upper half of it random (jitter), so that messages that failed
// together do not all come back at once.
func (s *Sender) Backoff(n int) time.Duration {
	base, max := s.BackoffBase, s.BackoffMax
	if base <= 0 {
		base = DefaultBackoffBase
	}
	if max <= 0 {
		max = DefaultBackoffMax
	}
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	half := d / 2
	return half + rand.N(half+1)
}

// deliver delivers one claimed row. It returns an error only when the store
// fails (or the simulated crash happens); a channel's failure is an outcome.
func (s *Sender) deliver(ctx context.Context, m outboxdb.Message) (Outcome, error) {
	o := Outcome{ID: m.ID, Key: m.Key, Channel: m.Channel}
	// The records after a send must be written even when ctx is cancelled
	// meanwhile.
	rec := context.WithoutCancel(ctx)
	uncertain := m.Status == outboxdb.Sending
	o.Resend = uncertain
	now := s.now()
	if m.Channel != ActionChannel {
		if next, ok := s.Quiet.Next(now, m.Timezone); !ok {
			if err := outboxdb.Defer(rec, s.DB, m.ID, m.Attempts, next); err != nil {
				return lost(o, err)
			}
			o.Result, o.At, o.Attempt = ResultDeferred, next, m.Attempts
			return o, nil
		}
	}
	if uncertain && m.Channel == "email" && s.HoldUncertainEmail {
		msg := fmt.Sprintf("attempt %d may or may not have been delivered: the sender stopped before recording it; retry if the customer did not get it", m.Attempts)
		if err := outboxdb.MarkFailed(rec, s.DB, m.ID, m.Attempts, msg, now, true); err != nil {
			return lost(o, err)
		}
		o.Result, o.Error, o.Attempt = ResultDead, msg, m.Attempts
		return o, nil
	}
	if l := s.Limits[m.Channel]; l != nil {
		if err := l.Wait(ctx); err != nil {
			return Outcome{}, err
		}
	}
	attempt := m.Attempts + 1
	if err := outboxdb.MarkSending(rec, s.DB, m.ID, m.Attempts, s.now().Add(s.lease())); err != nil {
		return lost(o, err)
	}
	o.Attempt = attempt
	msg := channel.Message{Key: m.Key, Channel: m.Channel, ProposalID: m.ProposalID, CustomerID: m.CustomerID, AccountNo: m.AccountNo,
		To: m.Recipient, Name: m.RecipientName, Subject: m.Subject, Text: m.Text, HTML: m.HTML, SMS: m.SMS,
		Attempt: attempt, Resend: uncertain}
	if m.Payload != "" {
		msg.Payload = []byte(m.Payload)
	}
	sendErr := s.Channels[m.Channel].Send(ctx, msg)
	now = s.now()
	if sendErr == nil {
		if err := outboxdb.MarkSent(rec, s.DB, m.ID, attempt, now); err != nil {
			s.logger().Warn("outbox: sent, but another sender had taken the row meanwhile; raise the lease", "id", m.ID, "key", m.Key, "err", err)
			return lost(o, err)
		}
		s.logger().Info("outbox: sent", "id", m.ID, "key", m.Key, "channel", m.Channel, "attempt", attempt, "resend", uncertain)
		o.Result = ResultSent
		return o, nil
	}
	dead := channel.IsPermanent(sendErr) || attempt >= s.maxAttempts()
	next := now.Add(s.Backoff(attempt))
	if dead {
		next = now
	}
	if err := outboxdb.MarkFailed(rec, s.DB, m.ID, attempt, sendErr.Error(), next, dead); err != nil {
		return lost(o, err)
	}
	o.Error = sendErr.Error()
	if dead {
		o.Result = ResultDead
		s.logger().Warn("outbox: dead", "id", m.ID, "key", m.Key, "channel", m.Channel, "attempts", attempt, "err", sendErr)
	} else {
		o.Result, o.At = ResultRetry, next
		s.logger().Info("outbox: failed, will retry", "id", m.ID, "key", m.Key, "channel", m.Channel, "attempt", attempt, "at", next, "err", sendErr)
	}
	return o, nil
}

// lost turns a lost claim into an outcome and passes other errors up.
func lost(o Outcome, err error) (Outcome, error) {
	if errors.Is(err, outboxdb.ErrLostClaim) {
		o.Result, o.Error = ResultLost, err.Error()
		return o, nil
	}
	return Outcome{}, err
}

// Run enqueues approved proposals (when enq is not nil) and delivers due
// messages every interval until ctx ends. Failures are logged and tried
// again on the next tick.
func Run(ctx context.Context, every time.Duration, enq *Enqueuer, s *Sender) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if enq != nil {
			res, err := enq.Enqueue(ctx)
			if err != nil && ctx.Err() == nil {
				s.logger().Error("outbox: enqueue", "err", err)
			}
			for _, f := range res.Failed {
				s.logger().Error("outbox: enqueue", "err", f)
			}
		}
		if _, err := s.RunOnce(ctx); err != nil && ctx.Err() == nil {
			s.logger().Error("outbox: send", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
