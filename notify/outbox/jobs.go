package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/queue"
	"github.com/goodturn/goodturn/notify/outbox/outboxdb"
)

// JobKind is the River job kind of sending one outbox message.
const JobKind = "send"

// DefaultMaxAttempts is how many attempts a send job has before River
// gives it up and its message is dead. River's retry policy waits about
// attempt⁴ seconds after each failure (1s, 16s, 81s, … 10.7h after the
// 14th), so 15 attempts span about a day and a half: an SMTP server or
// webhook down for a day loses nothing.
const DefaultMaxAttempts = 15

// DefaultRescueAfter is how long a send job may run before River takes
// its sender for stopped and runs it again: longer than any channel takes
// to answer.
const DefaultRescueAfter = 10 * time.Minute

// Queue returns the River queue of a channel's send jobs. Each channel has
// its own, so that a process works only the channels it has a transport
// for and the messages of the others wait for one that has.
func Queue(channel string) string { return "send_" + channel }

// SendArgs are the arguments of a send job: the outbox message it sends.
type SendArgs struct {
	MessageID int64  `json:"message_id"`
	Channel   string `json:"channel"`
}

// Kind returns JobKind.
func (SendArgs) Kind() string { return JobKind }

// InsertOpts puts the job in its channel's queue.
func (a SendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue(a.Channel), MaxAttempts: DefaultMaxAttempts}
}

// SendWorker works send jobs through a Sender.
type SendWorker struct {
	river.WorkerDefaults[SendArgs]
	Sender *Sender
}

// Work sends the job's message once; see Sender.Deliver.
func (w *SendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	return w.Sender.Deliver(ctx, job.Args.MessageID, job.Attempt, job.MaxAttempts)
}

// Every working River client knows the send jobs, so that whichever leads
// rescues a stuck one (see queue.Kind); only those that work the send
// queues run them, with their own Sender.
func init() {
	queue.Kind(func(w *river.Workers) error { return river.AddWorkerSafely(w, &SendWorker{}) })
}

// AddWorker registers the send jobs' worker, delivering through s.
func AddWorker(workers *river.Workers, s *Sender) {
	river.AddWorker(workers, &SendWorker{Sender: s})
}

// Queues returns the send queues of the sender's channels, each worked by
// up to workers jobs at once.
func (s *Sender) Queues(workers int) map[string]river.QueueConfig {
	qs := map[string]river.QueueConfig{}
	for ch := range s.Channels {
		qs[Queue(ch)] = river.QueueConfig{MaxWorkers: workers}
	}
	return qs
}

// Jobs inserts and retries send jobs through a River client on
// goodturn's database, in the transaction of the change that asks for
// them.
type Jobs struct {
	Client *queue.Client
	// MaxAttempts is how many attempts a new send job has; DefaultMaxAttempts
	// when zero.
	MaxAttempts int
}

// insert inserts, in tx, one send job for each message that is to be sent
// (skipped ones have none) and records the job on its message.
func (j *Jobs) insert(ctx context.Context, tx *database.Tx, ms []outboxdb.Message) error {
	var params []river.InsertManyParams
	var sent []outboxdb.Message
	for _, m := range ms {
		if m.Status == outboxdb.Skipped {
			continue
		}
		a := SendArgs{MessageID: m.ID, Channel: m.Channel}
		opts := a.InsertOpts()
		if j.MaxAttempts > 0 {
			opts.MaxAttempts = j.MaxAttempts
		}
		params = append(params, river.InsertManyParams{Args: a, InsertOpts: &opts})
		sent = append(sent, m)
	}
	if len(params) == 0 {
		return nil
	}
	res, err := queue.InsertManyTx(ctx, j.Client, tx, params)
	if err != nil {
		return err
	}
	for i, r := range res {
		if err := outboxdb.SetJob(ctx, tx, sent[i].ID, r.Job.ID); err != nil {
			return err
		}
	}
	return nil
}

// Adopt gives a send job to every message that waits without one — those
// an installation queued before its sender was River's — and returns how
// many it gave one. The sender calls it when it starts; it is idempotent.
func (j *Jobs) Adopt(ctx context.Context, db *database.DB) (int, error) {
	n := 0
	var after int64
	for {
		tx, err := database.Begin(ctx, db)
		if err != nil {
			return n, fmt.Errorf("adopt messages: %w", err)
		}
		ms, err := outboxdb.Unscheduled(ctx, tx, after, 500)
		if err == nil && len(ms) > 0 {
			err = j.insert(ctx, tx, ms)
		}
		if err == nil {
			err = tx.Commit()
		}
		if err != nil {
			tx.Rollback()
			return n, fmt.Errorf("adopt messages: %w", err)
		}
		if len(ms) == 0 {
			return n, nil
		}
		n += len(ms)
		after = ms[len(ms)-1].ID
	}
}

// Settle makes dead the messages whose send job River gave up without
// this package knowing (see outboxdb.Abandoned), so that they show as dead
// letters to retry, and returns how many. The sender calls it when it
// starts and serve's on every tick.
func (j *Jobs) Settle(ctx context.Context, db *database.DB) (int64, error) {
	return outboxdb.Abandoned(ctx, db)
}

// Retry queues dead message id again and retries its send job, in one
// transaction on q: River makes the job available at once and, if it had
// used up its attempts, gives it one more. A message with no job (dead
// before its sender was River's) gets a new one.
func (j *Jobs) Retry(ctx context.Context, q database.Querier, id int64) error {
	return database.InTx(ctx, q, func(tx *database.Tx) error {
		m, err := outboxdb.Retry(ctx, tx, id)
		if err != nil {
			return err
		}
		return j.retryJobs(ctx, tx, []outboxdb.Message{m})
	})
}

// RetryDead retries, as Retry does, every dead message the filter
// selects, in one transaction on q, and returns how many.
func (j *Jobs) RetryDead(ctx context.Context, q database.Querier, f outboxdb.DeadFilter) (int, error) {
	n := 0
	err := database.InTx(ctx, q, func(tx *database.Tx) error {
		ms, err := outboxdb.RetryDead(ctx, tx, f)
		if err != nil {
			return err
		}
		n = len(ms)
		return j.retryJobs(ctx, tx, ms)
	})
	return n, err
}

// retryJobs makes the send jobs of messages just queued again available,
// or inserts jobs for those that have none left.
func (j *Jobs) retryJobs(ctx context.Context, tx *database.Tx, ms []outboxdb.Message) error {
	var orphans []outboxdb.Message
	for _, m := range ms {
		if m.JobID == 0 {
			orphans = append(orphans, m)
			continue
		}
		job, err := j.Client.JobRetryTx(ctx, tx.Tx.Tx, m.JobID)
		if errors.Is(err, rivertype.ErrNotFound) {
			// River deletes finished jobs after a while (discarded ones
			// after a week): the message gets a new one.
			orphans = append(orphans, m)
			continue
		}
		if err != nil {
			return fmt.Errorf("retry message %d: its send job %d: %w", m.ID, m.JobID, err)
		}
		if job.State == rivertype.JobStateRunning {
			// Its last run is still being recorded: River leaves a running
			// job alone, and the message would wait for nothing.
			return fmt.Errorf("retry message %d: its send job %d is still finishing its last attempt; try again in a moment", m.ID, m.JobID)
		}
	}
	return j.insert(ctx, tx, orphans)
}
