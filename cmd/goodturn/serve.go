package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
	_ "time/tzdata" // schedules' time zones even where the system has no zoneinfo

	"riverqueue.com/riverui"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/metrics"
	"github.com/goodturn/goodturn/engine/queue"
	"github.com/goodturn/goodturn/engine/schedule"
	"github.com/goodturn/goodturn/notify/outbox"
	"github.com/goodturn/goodturn/notify/outbox/outboxdb"
	"github.com/goodturn/goodturn/notify/review"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
	"github.com/goodturn/goodturn/notify/web"
	"github.com/goodturn/goodturn/rules"
	"github.com/goodturn/goodturn/rules/rulefmt"
)

func runServe(ctx context.Context, x *call) error {
	env, c, fs := x.Env, &x.config, x.Flags
	def := func(key, fallback string) string {
		if v := env.Getenv(key); v != "" {
			return v
		}
		return fallback
	}
	listen := fs.String("listen", def("GOODTURN_LISTEN", "127.0.0.1:8080"),
		"the address to serve /healthz and /metrics on (GOODTURN_LISTEN)")
	trustDefault := false
	if v := env.Getenv("GOODTURN_TRUST_PROXY"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%w: GOODTURN_TRUST_PROXY=%q: want true or false", errUsage, v)
		}
		trustDefault = b
	}
	trustProxy := fs.Bool("trust-proxy", trustDefault,
		"the review page is behind a reverse proxy: take the client's address from X-Forwarded-For and TLS from X-Forwarded-Proto (GOODTURN_TRUST_PROXY)")
	schedulePath := fs.String("schedule", def("GOODTURN_SCHEDULE", ""),
		"the schedule file; <rulesets>/"+schedule.FileName+" by default (GOODTURN_SCHEDULE)")
	catchUp := durationIn(fs, "catch-up", schedule.DefaultCatchUp, 0,
		"on start, run a slot missed within this long; 0 runs none")
	workers := intIn(fs, "workers", 0, 0, maxWorkers, "evaluating goroutines per run; the number of CPUs by default")
	rescueAfter := durationIn(fs, "rescue-after", schedule.DefaultRescueAfter, time.Nanosecond,
		"how long a scheduled run may take: then it is cancelled and its slot fails, not run again; and a slot whose serve died this long ago runs in another serve")
	secondAbove := intIn(fs, "second-reviewer-above", review.DefaultSecondReviewerAbove, -1, math.MaxInt,
		"on the review page, approving a batch of more pending proposals than this takes two different reviewers; -1 never")
	expireAfter := fs.String("expire-after", rulefmt.FormatDuration(review.DefaultExpireAfter),
		"proposals pending longer than this expire, like 14d; 0 never")
	sendEvery := durationIn(fs, "send-every", time.Minute, 0, "how often the sender turns approved proposals into messages and delivers what is due; 0 sends nothing")
	var sf sendFlags
	sf.bind(env, fs)
	_, err := x.Parse()
	if err != nil {
		return err
	}
	if *catchUp == 0 {
		*catchUp = -1 // the scheduler's "none"
	}
	expire, err := rulefmt.ParseDuration(*expireAfter)
	if err != nil {
		return fmt.Errorf("%w: --expire-after: %v", errUsage, err)
	}
	if expire == 0 {
		expire = -1
	}
	if _, err := c.policy(); err != nil {
		return err
	}
	tuneGC(env)
	sv, err := newServer(ctx, x, serveOptions{schedule: *schedulePath, catchUp: *catchUp, workers: *workers, rescueAfter: *rescueAfter,
		secondAbove: *secondAbove, expireAfter: expire, trustProxy: *trustProxy, from: sf.smtpFrom})
	if err != nil {
		return err
	}
	defer sv.close()
	sv.jobs.MaxAttempts = sf.maxAttempts
	if *sendEvery > 0 {
		snd, missing, err := sf.sender(env, c)
		if err != nil {
			return err
		}
		for _, m := range missing {
			sv.log.Warn("sender: no transport; its messages wait", "channel", m)
		}
		snd.DB = sv.db
		snd.Now = sv.now // serve runs on the real clock, --now or not
		snd.Observe = func(o outbox.Outcome) { sv.metrics.Sent(o.Channel, o.Result) }
		if sv.sendClient, _, err = sf.client(snd, sv.log); err != nil {
			return err
		}
		sv.sendEvery = *sendEvery
	}
	return sv.serve(ctx, *listen)
}

// serveOptions are serve's settings beyond the shared flags; tests set the
// clock.
type serveOptions struct {
	schedule string
	catchUp  time.Duration
	workers  int
	now      func() time.Time
	// rescueAfter is schedule.Scheduler.RescueAfter: how long a slot's run
	// may take, and how long a dead serve's slot waits for another.
	rescueAfter time.Duration
	// secondAbove and expireAfter are the review's rules (review.Config);
	// 0 means the defaults.
	secondAbove int
	expireAfter time.Duration
	// trustProxy is web.Config.TrustProxy.
	trustProxy bool
	// timeouts bound the HTTP server's connections; defaultTimeouts when
	// zero.
	timeouts httpTimeouts
	// from is the From of every email (--smtp-from), which the review
	// page shows on each email.
	from string
}

// httpTimeouts bound each connection of serve's HTTP server, so that a
// client sending its request slowly, or never reading the answer, or
// keeping an idle connection, holds it no longer.
type httpTimeouts struct {
	// readHeader is for the request's headers, read for the whole request
	// with its body, write from the end of the headers to the end of the
	// answer, and idle between requests on a kept-alive connection.
	readHeader, read, write, idle time.Duration
}

// defaultTimeouts leave the slowest page (a batch of a large run, read
// from the billing data) two minutes to be written.
var defaultTimeouts = httpTimeouts{readHeader: 10 * time.Second, read: 30 * time.Second, write: 2 * time.Minute, idle: 2 * time.Minute}

// server is a running `goodturn serve`: the scheduler, the runs it starts
// and the HTTP endpoints.
type server struct {
	env     *Env
	c       *config
	log     *slog.Logger
	db, bdb *database.DB
	// health holds a one-connection pool per database for /healthz.
	health  []*database.DB
	closeDB func()
	sched   *schedule.Scheduler
	metrics *metrics.Metrics
	// review is the review page, served on every path but /healthz and
	// /metrics.
	review *web.Server
	// jobsUI is River's UI, for admins, on jobsUIPath.
	jobsUI  *riverui.Handler
	workers int
	now     func() time.Time
	// jobs inserts and retries send jobs; enqueuer turns approved
	// proposals into messages, on approval and every sendEvery.
	jobs     *outbox.Jobs
	enqueuer *outbox.Enqueuer
	// sendClient works the send queues; nil sends nothing.
	sendClient *queue.Client
	sendEvery  time.Duration
	timeouts   httpTimeouts
	// expirer expires overdue proposals every expireEvery.
	expirer *review.Service
}

// newServer opens what serve needs through x, the serve command's call,
// and returns the server; closing it closes x's databases.
func newServer(ctx context.Context, x *call, opts serveOptions) (*server, error) {
	env, c := x.Env, &x.config
	log := env.Logger
	if env.Interactive {
		// The other commands print results on a terminal and log only
		// warnings; serve has nothing else to say, so it logs its work.
		log = env.logger(slog.LevelInfo)
	}
	now := opts.now
	if now == nil {
		now = time.Now
		if c.now != "" {
			log.Warn("serve ignores GOODTURN_NOW: it runs on the real clock")
		}
	}
	path := opts.schedule
	if path == "" {
		path = filepath.Join(c.rulesets, schedule.FileName)
	}
	known, err := rulesetNames(c.rulesets)
	if err != nil {
		return nil, err
	}
	entries, err := schedule.Load(path, known)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no schedule file %s: write one (see docs/scheduling.md) or give --schedule", path)
	}
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		log.Warn("the schedule is empty: nothing will run", "schedule", path)
	}
	// A broken ruleset is reported now; its slots fail until it is fixed.
	// Each run loads its ruleset afresh, so a fix needs no restart.
	for _, e := range entries {
		if _, err := c.loadRulesetsPartly([]string{e.Ruleset}); err != nil {
			fmt.Fprintf(env.Stderr, "goodturn serve: ruleset %s has errors and will not run until they are fixed:\n%v\n", e.Ruleset, err)
		}
	}
	db, bdb, err := x.Databases(ctx)
	if err != nil {
		return nil, err
	}
	// The health check has connections of its own: a run can hold every
	// connection of the main pools, and a busy database is not a dead one.
	health, closeHealth, err := c.healthDatabases(ctx)
	if err != nil {
		return nil, err
	}
	closeAll := func() { closeHealth(); x.close() }
	sv := &server{env: env, c: c, log: log, db: db, bdb: bdb, health: health, closeDB: closeAll, workers: opts.workers, now: now,
		timeouts: opts.timeouts}
	// The scrape-time queries use the health check's connection: a run
	// holding every connection of the main pool does not stall a scrape.
	sv.metrics = metrics.New(metrics.Options{
		Next: sv.nextSlots,
		Outbox: func(ctx context.Context) (map[string]map[string]int, error) {
			return outboxdb.Counts(ctx, health[0], outboxWaiting...)
		},
		OutboxStates: outboxWaiting,
		Channels:     outboxChannels,
		Pending:      func(ctx context.Context) (map[string]int64, error) { return reviewdb.PendingCounts(ctx, health[0]) },
		Jobs:         func(ctx context.Context) (map[string]map[string]int, error) { return queue.Counts(ctx, health[0]) },
		JobQueues:    append([]string{engine.ShardQueue, schedule.SlotQueue}, sendQueues()...),
		JobStates:    queue.States,
		Logger:       log,
	})
	if sv.timeouts == (httpTimeouts{}) {
		sv.timeouts = defaultTimeouts
	}
	if err := sv.outbox(log); err != nil {
		closeAll()
		return nil, err
	}
	svc := review.New(db, review.Config{ExpireAfter: opts.expireAfter, Now: now, OnApprove: enqueueApproved(sv.enqueuer, log)})
	// Set after New, which reads 0 as "the default": as with `review
	// approve`, 0 means every batch needs two reviewers.
	svc.SecondReviewerAbove = opts.secondAbove
	sv.expirer = svc
	sv.review, err = web.New(web.Config{DB: db, Billing: &billing.Reader{DB: bdb, Months: c.months}, Review: svc, Logger: log,
		TrustProxy: opts.trustProxy, From: opts.from, Rulesets: func() ([]*rules.Ruleset, error) { return c.loadRulesetsPartly(nil) },
		Retry: func(ctx context.Context, id int64) error { return sv.jobs.Retry(ctx, db, id) }})
	if err != nil {
		closeAll()
		return nil, err
	}
	if sv.jobsUI, err = newJobsUI(db, log); err != nil {
		closeAll()
		return nil, err
	}
	sv.sched = &schedule.Scheduler{DB: db, Entries: entries, Job: sv.job, Now: now, CatchUp: opts.catchUp, Logger: log, Observe: sv.metrics.Observe,
		RescueAfter: opts.rescueAfter}
	for _, e := range entries {
		sv.metrics.Known(e.Ruleset)
	}
	return sv, nil
}

func (sv *server) close() {
	sv.sched.Stop() // its job queue's client, before the database it works on
	sv.closeDB()
}

// healthDatabases opens a one-connection pool on goodturn's database and,
// if it is another, on the billing database.
func (c *config) healthDatabases(ctx context.Context) ([]*database.DB, func(), error) {
	dsns := []string{c.db}
	if c.billingDB != "" && c.billingDB != c.db {
		dsns = append(dsns, c.billingDB)
	}
	var dbs []*database.DB
	closeAll := func() {
		for _, db := range dbs {
			db.Close()
		}
	}
	for _, dsn := range dsns {
		db, err := database.Open(ctx, dsn)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		dbs = append(dbs, db)
	}
	return dbs, closeAll, nil
}

// rulesetNames lists the ruleset folders under root.
func rulesetNames(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("rulesets: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && hasRuleFiles(filepath.Join(root, e.Name())) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// job runs one slot: it loads the ruleset afresh and runs it as `goodturn
// run --ruleset NAME` would.
func (sv *server) job(ctx context.Context, sl schedule.Slot) (int64, error) {
	sets, err := sv.c.loadRulesetsPartly([]string{sl.Ruleset})
	if err != nil {
		return 0, fmt.Errorf("ruleset %s has errors and did not run:\n%w", sl.Ruleset, err)
	}
	eng := newEngine(sv.env, sv.db, sv.bdb, sv.c, sv.workers)
	eng.Now = sv.now
	eng.Logger = sv.log
	defer sv.metrics.Started(sl.Ruleset)()
	results, err := eng.RunAll(ctx, sets, engine.Options{})
	var id int64
	for _, res := range results {
		sv.metrics.Run(res, sv.now())
		id = res.ID
	}
	return id, err
}

// serve runs the scheduler and the HTTP endpoints until ctx is cancelled,
// then waits for the runs in progress to record their end and stops.
func (sv *server) serve(ctx context.Context, listen string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	t := sv.timeouts
	srv := &http.Server{Handler: sv.handler(), ReadHeaderTimeout: t.readHeader, ReadTimeout: t.read, WriteTimeout: t.write, IdleTimeout: t.idle}
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(ln) }()

	w := sv.env.Stdout
	fmt.Fprintf(w, "Serving http://%s/healthz and /metrics; scheduling %d ruleset(s) in %s.\n", ln.Addr(), len(sv.sched.Entries), sv.db.DSN)
	fmt.Fprintf(w, "Review page: http://%s/ (log in as someone added with `goodturn user add`).\n", ln.Addr())
	now := sv.now()
	for _, e := range sv.sched.Entries {
		if next, ok := e.Next(now); ok {
			fmt.Fprintf(w, "  %s: %s; next %s %s (in %s)\n", e.Ruleset, e.Spec, next.Nominal, next.Zone, next.At.Sub(now).Round(time.Second))
		}
	}
	sv.log.Info("serving", "listen", ln.Addr().String(), "rulesets", len(sv.sched.Entries))

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := sv.jobsUI.Start(runCtx); err != nil {
		return fmt.Errorf("start river's ui: %w", err)
	}
	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		sv.sched.Run(runCtx)
	}()
	expireDone := make(chan struct{})
	go func() {
		defer close(expireDone)
		sv.expireOverdue(runCtx, expireEvery)
	}()
	sendDone := make(chan struct{})
	go func() {
		defer close(sendDone)
		if sv.sendEvery > 0 {
			fmt.Fprintf(w, "Sending approved messages as River jobs; looking for approved proposals without messages every %s.\n", sv.sendEvery)
			if err := outbox.Run(runCtx, sv.sendEvery, sv.enqueuer, sv.sendClient, sv.log); err != nil {
				sv.log.Error("sender", "error", err)
			}
		}
	}()
	var httpErr error
	select {
	case <-ctx.Done():
		sv.log.Info("shutting down: no new slots; waiting for runs in progress to record their end")
	case httpErr = <-httpDone:
		sv.log.Error("the HTTP server stopped; shutting down", "error", httpErr)
		cancel()
	}
	<-schedDone
	cancel()
	<-sendDone
	<-expireDone
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		sv.log.Warn("HTTP shutdown", "error", err)
	}
	sv.log.Info("stopped")
	if httpErr != nil {
		return fmt.Errorf("http: %w", httpErr)
	}
	return nil
}

func (sv *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", sv.healthz)
	mux.Handle("GET /metrics", sv.metrics.Handler())
	// Other methods on the endpoints stay theirs: 405, not the review
	// page's login.
	for _, path := range []string{"/healthz", "/metrics"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		})
	}
	// River's UI, for admins behind the review page's login.
	mux.Handle(jobsUIPath, sv.review.Admin(sv.jobsUI))
	// Every other path is the review page, which brings its own login,
	// sessions and cross-origin protection.
	mux.Handle("/", sv.review)
	return accessLog(sv.log, mux)
}

// healthz answers 200 "ok" when the databases answer a query, else 503.
func (sv *server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	for _, db := range sv.health {
		var one int
		if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			sv.log.Warn("health check failed", "db", db.DSN, "error", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "database not answering")
			return
		}
	}
	fmt.Fprintln(w, "ok")
}

// nextSlots gives when each scheduled ruleset's next slot is due.
func (sv *server) nextSlots() map[string]time.Time {
	next := map[string]time.Time{}
	now := sv.now()
	for _, e := range sv.sched.Entries {
		if sl, ok := e.Next(now); ok {
			next[e.Ruleset] = sl.At
		}
	}
	return next
}

// outboxWaiting are the outbox states /metrics counts: the messages not
// yet settled, and the dead ones.
var outboxWaiting = []string{outboxdb.Queued, outboxdb.Sending, outboxdb.Dead}

// outbox makes the server's River client for inserting and retrying send
// jobs, and the enqueuer that turns approved proposals into messages with
// the rulesets loaded now: a broken ruleset is reported at start and its
// messages wait; the others' still go.
func (sv *server) outbox(log *slog.Logger) error {
	inserter, err := queue.NewClient(sv.db, queue.Config{Logger: log})
	if err != nil {
		return err
	}
	sv.jobs = &outbox.Jobs{Client: inserter}
	sets, _ := sv.c.loadRulesetsPartly(nil)
	sv.enqueuer = &outbox.Enqueuer{DB: sv.db, Customers: &billing.Reader{DB: sv.bdb}, Rulesets: sets, Jobs: sv.jobs, Now: sv.now}
	return nil
}

// sendQueues are the River queues of the outbox's channels.
func sendQueues() []string {
	qs := make([]string, len(outboxChannels))
	for i, ch := range outboxChannels {
		qs[i] = outbox.Queue(ch)
	}
	return qs
}
