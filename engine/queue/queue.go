// Package queue is goodturn's job queue: River
// (github.com/riverqueue/river) over goodturn's own database, PostgreSQL
// through River's database/sql driver on lib/pq, or SQLite through River's
// SQLite driver. It runs River's migrations beside goodturn's, makes River
// clients for either dialect, and inserts jobs in a goodturn transaction, so
// that a job is there exactly when the change that asked for it is.
//
// River's tables go where goodturn's go: no schema is named, so on
// PostgreSQL they live in the first schema of the connection's search_path
// (current_schema()), as goodturn's own tables do.
package queue

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/goodturn/goodturn/engine/database"
)

// Client is a River client on goodturn's database. Both of River's
// database/sql drivers work on *sql.Tx, so one client type serves SQLite
// and PostgreSQL.
type Client = river.Client[*sql.Tx]

// Config is what a goodturn River client needs to know.
type Config struct {
	// Workers are the job kinds this client works (and may insert); every
	// kind declared with Kind is added. Nil makes a client that inserts
	// any kind without checking for a worker.
	Workers *river.Workers
	// Queues are the queues this client works and how many jobs of each
	// at once; nil makes an insert-only client, which is never started.
	Queues map[string]river.QueueConfig
	// Logger receives River's warnings and errors, and its routine lines
	// when it logs at debug level; nil writes warnings and errors to
	// standard error.
	Logger *slog.Logger
	// Now, when set, is River's clock (tests stub time with it); such a
	// client's finished jobs are never deleted.
	Now func() time.Time
	// JobTimeout is how long a job may work before its context is
	// cancelled; zero is River's default (one minute), negative none.
	JobTimeout time.Duration
	// RescueStuckJobsAfter is how long a job may stay running before River
	// takes it for stuck (its worker died) and retries it; zero is River's
	// default (an hour, or JobTimeout plus an hour).
	RescueStuckJobsAfter time.Duration
	// FetchPollInterval is how often an idle client looks for jobs; zero
	// is River's default (one second). Neither driver listens for
	// notifications, so polling is how jobs are found.
	FetchPollInterval time.Duration
	// ID names the client in River's tables and logs; River makes one up
	// when empty.
	ID string
}

// driver returns River's driver for the database's dialect.
func driver(db *database.DB) riverdriver.Driver[*sql.Tx] {
	if db.IsPostgres() {
		return riverdatabasesql.New(db.DB.DB)
	}
	return riversqlite.New(db.DB.DB)
}

// Migrate applies River's own migrations the database has not had yet,
// for its dialect, and returns how many it applied.
func Migrate(ctx context.Context, db *database.DB) (int, error) {
	m, err := migrator(db)
	if err != nil {
		return 0, err
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return 0, fmt.Errorf("migrate job queue: %w", err)
	}
	return len(res.Versions), nil
}

// Pending returns how many of River's migrations the database has not
// applied.
func Pending(ctx context.Context, db *database.DB) (int, error) {
	m, err := migrator(db)
	if err != nil {
		return 0, err
	}
	have, err := m.ExistingVersions(ctx)
	if err != nil {
		// No river_migration table yet: none applied.
		return len(m.AllVersions()), nil
	}
	return len(m.AllVersions()) - len(have), nil
}

func migrator(db *database.DB) (*rivermigrate.Migrator[*sql.Tx], error) {
	m, err := rivermigrate.New(driver(db), &rivermigrate.Config{Logger: quiet()})
	if err != nil {
		return nil, fmt.Errorf("job queue migrations: %w", err)
	}
	return m, nil
}

// quiet is the logger for River when none is given: warnings and errors
// only, on standard error.
func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// warnUnlessDebug passes River's warnings and errors to a handler, and
// River's routine lines (a producer's job counts every few seconds) only
// when the handler logs at debug level.
type warnUnlessDebug struct{ slog.Handler }

func (h warnUnlessDebug) Enabled(ctx context.Context, l slog.Level) bool {
	if l < slog.LevelWarn && !h.Handler.Enabled(ctx, slog.LevelDebug) {
		return false
	}
	return h.Handler.Enabled(ctx, l)
}

func (h warnUnlessDebug) WithAttrs(as []slog.Attr) slog.Handler {
	return warnUnlessDebug{h.Handler.WithAttrs(as)}
}

func (h warnUnlessDebug) WithGroup(name string) slog.Handler {
	return warnUnlessDebug{h.Handler.WithGroup(name)}
}

// NewClient returns a River client on the database. It works jobs once
// started when cfg names queues; otherwise it only inserts.
func NewClient(db *database.DB, cfg Config) (*Client, error) {
	logger := quiet()
	if cfg.Logger != nil {
		logger = slog.New(warnUnlessDebug{cfg.Logger.Handler()})
	}
	if cfg.Workers != nil {
		addKinds(cfg.Workers)
	}
	rc := &river.Config{
		ID:                   cfg.ID,
		Logger:               logger,
		Queues:               cfg.Queues,
		Workers:              cfg.Workers,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueStuckJobsAfter,
		FetchPollInterval:    cfg.FetchPollInterval,
		SkipUnknownJobCheck:  cfg.Workers == nil,
	}
	if cfg.FetchPollInterval > 0 && cfg.FetchPollInterval < 100*time.Millisecond {
		// River fetches at most once per cooldown; a quicker poll asks
		// for a shorter one.
		rc.FetchCooldown = cfg.FetchPollInterval
	}
	if cfg.Now != nil {
		rc.Test.Time = clock(cfg.Now)
		// River's cleaner measures how long ago a job finished by the
		// real clock, against the stubbed time it finished at: it would
		// delete a stubbed client's jobs at random. They are kept.
		rc.CompletedJobRetentionPeriod, rc.CancelledJobRetentionPeriod, rc.DiscardedJobRetentionPeriod = -1, -1, -1
	}
	c, err := river.NewClient(driver(db), rc)
	if err != nil {
		return nil, fmt.Errorf("job queue client: %w", err)
	}
	return c, nil
}

// clock is a River time generator reading a goodturn clock.
type clock func() time.Time

func (c clock) Now() time.Time { return c() }

func (c clock) NowOrNil() *time.Time {
	t := c()
	return &t
}

// InsertTx inserts a job in a goodturn transaction: it exists if, and only
// if, the transaction commits.
func InsertTx(ctx context.Context, c *Client, tx *database.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	res, err := c.InsertTx(ctx, tx.Tx.Tx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("insert %s job: %w", args.Kind(), err)
	}
	return res, nil
}

// InsertManyTx inserts several jobs in a goodturn transaction.
func InsertManyTx(ctx context.Context, c *Client, tx *database.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	res, err := c.InsertManyTx(ctx, tx.Tx.Tx, params)
	if err != nil {
		return nil, fmt.Errorf("insert %d jobs: %w", len(params), err)
	}
	return res, nil
}

// CompleteTx marks a job its worker is working completed in a goodturn
// transaction, with whatever output the worker recorded
// (river.RecordOutput): the job is done exactly when the work the
// transaction writes is. It must be called from the job's Work. A job that
// is no longer running (River rescued it and another attempt completed
// it) is rivertype.ErrNotFound.
func CompleteTx[T river.JobArgs](ctx context.Context, tx *database.Tx, job *river.Job[T]) error {
	// The driver type only names the transaction type, *sql.Tx, which
	// both of River's database/sql drivers share.
	if _, err := river.JobCompleteTx[*riverdatabasesql.Driver](ctx, tx.Tx.Tx, job); err != nil {
		return fmt.Errorf("complete %s job %d: %w", job.Kind, job.ID, err)
	}
	return nil
}

// Unfinished are the job states River has not finalized: the job will
// still run, or is running.
var Unfinished = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
	rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled}

// List returns every job params selects, page after page, read in tx when
// it is not nil (so that the transaction's own changes count).
func List(ctx context.Context, c *Client, tx *database.Tx, params *river.JobListParams) ([]*rivertype.JobRow, error) {
	const page = 1000
	params = params.First(page)
	var out []*rivertype.JobRow
	for {
		var res *river.JobListResult
		var err error
		if tx != nil {
			res, err = c.JobListTx(ctx, tx.Tx.Tx, params)
		} else {
			res, err = c.JobList(ctx, params)
		}
		if err != nil {
			return nil, fmt.Errorf("list jobs: %w", err)
		}
		out = append(out, res.Jobs...)
		if len(res.Jobs) < page {
			return out, nil
		}
		params = params.After(res.LastCursor)
	}
}

// States names River's job states, in the order of a job's life.
var States = []string{string(rivertype.JobStatePending), string(rivertype.JobStateScheduled), string(rivertype.JobStateAvailable),
	string(rivertype.JobStateRunning), string(rivertype.JobStateRetryable), string(rivertype.JobStateCompleted),
	string(rivertype.JobStateCancelled), string(rivertype.JobStateDiscarded)}

// Counts counts River's jobs by queue and state, in one query: what
// /metrics shows of the queue. Completed, cancelled and discarded jobs
// count until River's cleaner deletes them (a day for completed ones, a
// week for discarded ones, by default).
func Counts(ctx context.Context, q database.Querier) (map[string]map[string]int, error) {
	out, err := database.GroupCounts[int](ctx, q, `SELECT queue, state, count(*) FROM river_job GROUP BY queue, state`)
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	return out, nil
}
