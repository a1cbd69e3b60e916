package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/channel"
	"github.com/goodturn/goodturn/notify/outbox/outboxdb"
)

// Sender delivers outbox messages through their channels, one send job at
// a time: River runs the jobs (SendWorker), retries them after a failure,
// and gives them up after their last attempt; the Sender decides what one
// run of a job does.
//
// The order of one run is: read the message; if it is sent already (a job
// that runs twice), do nothing; if it is a customer message outside the
// customer's quiet hours, snooze the job to the next allowed time; if the
// channel's rate limit has no token, snooze it until one is due; record
// the message sending with the attempt number; hand it to the channel
// with its idempotency key; record it sent, or queued again for River's
// retry, or dead when the attempt was the job's last or the failure is
// permanent. A process that stops between the channel and the record
// leaves the message sending and its job running; River rescues the job
// once it has run for longer than its rescue time, and the next run, by
// the rule in docs/sending.md, sends the message again with the same key
// (Resend is set) — or, for email with HoldUncertainEmail, makes it dead
// for an admin to decide.
type Sender struct {
	DB *database.DB
	// Channels deliver the messages of each outbox channel (email, sms,
	// webhook, action). A process works the send queues of these channels
	// only (Queues); the messages of others wait.
	Channels map[string]channel.Channel
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Quiet keeps customer messages to the allowed hours of the customer's
	// time zone. Billing actions are not held.
	Quiet QuietHours
	// Limits rate-limit channels; a channel with no limiter is unlimited.
	Limits map[string]*Limiter
	// HoldUncertainEmail makes an email left sending by a stopped process
	// dead instead of sending it again (see docs/sending.md).
	HoldUncertainEmail bool
	// MaxAttempts, when above 0, caps the attempts of the jobs this sender
	// works, below the attempts each was inserted with: the attempt that
	// reaches it is the last, and its failure makes the message dead (the
	// job cancelled, since River would still retry it).
	MaxAttempts int
	Logger      *slog.Logger
	// Observe, when set, is told every outcome as a job records it (serve
	// counts them in its metrics).
	Observe func(Outcome)

	mu sync.Mutex
	// report collects the outcomes of a RunOnce under way.
	report *Report
}

// Outcome is what one run of a send job did.
type Outcome struct {
	ID      int64
	Key     string
	Channel string
	// Result is sent, deferred (quiet hours), limited (rate limit), retry,
	// dead, done (the message needed nothing: sent already, or skipped) or
	// lost (another run of the job changed it first).
	Result string
	// Resend is true when an earlier attempt may have been delivered.
	Resend  bool
	Attempt int
	// At is when the job is next due (deferred, limited).
	At    time.Time
	Error string
}

// Outcome results.
const (
	ResultSent     = "sent"
	ResultDeferred = "deferred"
	ResultLimited  = "limited"
	ResultRetry    = "retry"
	ResultDead     = "dead"
	ResultDone     = "done"
	ResultLost     = "lost"
)

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

// tries says whether a run of a send job is its last: River's (the job's
// own attempts are used up) or the sender's (MaxAttempts).
type tries struct {
	last, riverLast bool
}

// Deliver runs the send job of outbox message id once, as attempt number
// attempt of the job's maxAttempts, and returns what River should do with
// the job: nil when it is done, river.JobSnooze for quiet hours and rate
// limits, river.JobCancel for a permanent failure, a held email or the
// sender's last attempt (the message is dead), or the channel's error for
// River to retry (or, on the job's last attempt, discard: the message is
// then dead).
func (s *Sender) Deliver(ctx context.Context, id int64, attempt, maxAttempts int) error {
	t := tries{riverLast: attempt >= maxAttempts}
	t.last = t.riverLast || (s.MaxAttempts > 0 && attempt >= s.MaxAttempts)
	o, err := s.deliver(ctx, id, t)
	if o.Result == "" {
		return err
	}
	if s.Observe != nil {
		s.Observe(o)
	}
	s.mu.Lock()
	if s.report != nil {
		s.report.Outcomes = append(s.report.Outcomes, o)
	}
	s.mu.Unlock()
	return err
}

func (s *Sender) deliver(ctx context.Context, id int64, t tries) (Outcome, error) {
	m, err := outboxdb.Get(ctx, s.DB, id)
	if errors.Is(err, store.ErrNotFound) {
		// The demo's fresh start deleted it: nothing to send.
		s.logger().Info("outbox: the send job's message is gone", "id", id)
		return Outcome{}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	o := Outcome{ID: m.ID, Key: m.Key, Channel: m.Channel, Attempt: m.Attempts}
	if m.Status == outboxdb.Dead {
		// Its job was given up and now runs again: an admin retried it
		// in River's UI. The message is queued again, as Jobs.Retry does.
		if m, err = outboxdb.Retry(ctx, s.DB, m.ID); err != nil {
			return o, err
		}
	}
	if m.Status != outboxdb.Queued && m.Status != outboxdb.Sending {
		// Sent already by an earlier run of the job, or skipped: a job
		// that runs twice sends once.
		o.Result = ResultDone
		return o, nil
	}
	ch := s.Channels[m.Channel]
	if ch == nil {
		return o, fmt.Errorf("message %d: no %s transport in this process", m.ID, m.Channel)
	}
	// The records after a send must be written even when ctx is cancelled
	// meanwhile.
	rec := context.WithoutCancel(ctx)
	uncertain := m.Status == outboxdb.Sending
	o.Resend = uncertain
	now := s.now()
	if m.Channel != ActionChannel {
		if next, ok := s.Quiet.Next(now, m.Timezone); !ok {
			o.Result, o.At = ResultDeferred, next
			return o, river.JobSnooze(next.Sub(now))
		}
	}
	if uncertain && m.Channel == "email" && s.HoldUncertainEmail {
		msg := fmt.Sprintf("attempt %d may or may not have been delivered: the sender stopped before recording it; retry if the customer did not get it", m.Attempts)
		if err := outboxdb.MarkDead(rec, s.DB, m.ID, msg); err != nil {
			return lost(o, err)
		}
		o.Result, o.Error = ResultDead, msg
		return o, river.JobCancel(errors.New(msg))
	}
	if l := s.Limits[m.Channel]; l != nil {
		if wait := l.Take(); wait > 0 {
			o.Result, o.At = ResultLimited, now.Add(wait)
			return o, river.JobSnooze(wait)
		}
	}
	return s.send(ctx, rec, m, ch, o, t)
}

// send records the attempt, hands the message to its channel and records
// what became of it.
func (s *Sender) send(ctx, rec context.Context, m outboxdb.Message, ch channel.Channel, o Outcome, t tries) (Outcome, error) {
	uncertain := m.Status == outboxdb.Sending
	if err := outboxdb.MarkSending(rec, s.DB, m.ID, m.Attempts); err != nil {
		return lost(o, err)
	}
	n := m.Attempts + 1
	o.Attempt = n
	msg := channel.Message{Key: m.Key, Channel: m.Channel, ProposalID: m.ProposalID, CustomerID: m.CustomerID, AccountNo: m.AccountNo,
		To: m.Recipient, Name: m.RecipientName, Subject: m.Subject, Text: m.Text, HTML: m.HTML, SMS: m.SMS,
		Attempt: n, Resend: uncertain}
	if m.Payload != "" {
		msg.Payload = []byte(m.Payload)
	}
	sendErr := ch.Send(ctx, msg)
	if sendErr == nil {
		if err := outboxdb.MarkSent(rec, s.DB, m.ID, n, s.now()); err != nil {
			s.logger().Warn("outbox: sent, but another run of the job had changed the message meanwhile", "id", m.ID, "key", m.Key, "err", err)
			return lost(o, err)
		}
		s.logger().Info("outbox: sent", "id", m.ID, "key", m.Key, "channel", m.Channel, "attempt", n, "resend", uncertain)
		o.Result = ResultSent
		return o, nil
	}
	o.Error = sendErr.Error()
	permanent := channel.IsPermanent(sendErr)
	if !permanent && !t.last {
		if err := outboxdb.MarkFailed(rec, s.DB, m.ID, n, sendErr.Error()); err != nil {
			return lost(o, err)
		}
		o.Result = ResultRetry
		s.logger().Info("outbox: failed, River retries it", "id", m.ID, "key", m.Key, "channel", m.Channel, "attempt", n, "err", sendErr)
		return o, sendErr
	}
	if err := outboxdb.MarkDead(rec, s.DB, m.ID, sendErr.Error()); err != nil {
		return lost(o, err)
	}
	o.Result = ResultDead
	s.logger().Warn("outbox: dead", "id", m.ID, "key", m.Key, "channel", m.Channel, "attempts", n, "permanent", permanent, "err", sendErr)
	if permanent || !t.riverLast {
		return o, river.JobCancel(sendErr)
	}
	return o, sendErr
}

// lost turns a message changed under the job into an outcome, the job
// done, and passes other errors up for River to retry.
func lost(o Outcome, err error) (Outcome, error) {
	if errors.Is(err, outboxdb.ErrLostClaim) {
		o.Result, o.Error = ResultLost, err.Error()
		return o, nil
	}
	return Outcome{}, err
}
