// Package metrics is what `goodturn serve` exposes on /metrics, through
// the Prometheus Go client: what the scheduler and its runs did, what the
// sender delivered, the outbox, the review queue and the job queue's jobs as
// the database has them at scrape time, and the Go runtime and the process.
//
// The counters count what this process did since it started. The gauges
// of database state are read when Prometheus scrapes, one query each with
// a timeout, by functions the caller gives, so that this package knows no
// table.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/schedule"
	"github.com/goodturn/goodturn/engine/store"
)

// DefaultTimeout bounds each query of a scrape.
const DefaultTimeout = 3 * time.Second

// DeadState is the outbox state of a dead letter: a message that failed
// too often and waits for an admin.
const DeadState = "dead"

// Options are what the metrics read at scrape time.
type Options struct {
	// Next reports when each scheduled ruleset's next slot is due.
	Next func() map[string]time.Time
	// Outbox counts outbox messages by channel and state, of the states
	// in OutboxStates.
	Outbox func(ctx context.Context) (map[string]map[string]int, error)
	// OutboxStates are the states goodturn_outbox_messages shows, at 0
	// when the outbox has none.
	OutboxStates []string
	// Channels are the channels whose dead letters show from the start,
	// at 0.
	Channels []string
	// Pending counts the proposals waiting for review, by ruleset.
	Pending func(ctx context.Context) (map[string]int64, error)
	// Jobs counts the job queue's jobs by queue and state.
	Jobs func(ctx context.Context) (map[string]map[string]int, error)
	// JobQueues and JobStates are the queues and states goodturn_jobs
	// shows from the start, at 0 when there are no such jobs.
	JobQueues, JobStates []string
	// Timeout bounds each of those queries; DefaultTimeout when zero.
	Timeout time.Duration
	// Logger is told when a query fails; none when nil.
	Logger *slog.Logger
}

// Metrics are serve's metrics, registered on a registry of their own.
type Metrics struct {
	reg *prometheus.Registry

	runs        *prometheus.CounterVec
	slots       *prometheus.CounterVec
	proposals   *prometheus.CounterVec
	ruleErrors  *prometheus.CounterVec
	held        *prometheus.CounterVec
	customers   *prometheus.CounterVec
	refused     *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	lastDur     *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
	inProgress  *prometheus.GaugeVec
	sends       *prometheus.CounterVec

	state *stateCollector
}

// runDurationBuckets span a run of a small ruleset (a second) to one over
// millions of customers (hours).
var runDurationBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400}

// New returns the metrics, with the Go and process collectors.
func New(opts Options) *Metrics {
	byRuleset := []string{"ruleset"}
	byRule := []string{"ruleset", "rule"}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "goodturn_runs_total",
			Help: "Scheduled runs finished, by ruleset and status (succeeded, failed, cancelled)."}, []string{"ruleset", "status"}),
		slots: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "goodturn_slots_total",
			Help: "Schedule slots this process settled, by ruleset and outcome (succeeded, failed, cancelled, skipped, missed, taken)."}, []string{"ruleset", "outcome"}),
		proposals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "goodturn_proposals_total",
			Help: "Proposals recorded by scheduled runs, by ruleset and rule."}, byRule),
		ruleErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "goodturn_rule_errors_total",
			Help: "Customers a rule failed on in scheduled runs, by ruleset and rule."}, byRule),
		held: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "goodturn_held_total",
			Help: "Matches of scheduled runs held back, by ruleset, rule and reason (cooldown, frequency_cap, broken_promise, unhealthy, ...)."},
			[]string{"ruleset", "rule", "reason"}),
		customers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "goodturn_run_customers_total",
			Help: "Customers evaluated by scheduled runs."}, byRuleset),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "goodturn_run_refused_customers_total",
			Help: "Customers scheduled runs left out because their billing rows break the facts contract."}, byRuleset),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "goodturn_run_duration_seconds",
			Help: "Wall time of scheduled runs.", Buckets: runDurationBuckets}, byRuleset),
		lastDur: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "goodturn_run_last_duration_seconds",
			Help: "Wall time of the latest scheduled run."}, byRuleset),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "goodturn_run_last_success_timestamp_seconds",
			Help: "When the latest successful scheduled run finished, in Unix seconds."}, byRuleset),
		inProgress: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "goodturn_runs_in_progress",
			Help: "Scheduled runs going on in this process."}, byRuleset),
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "goodturn_sends_total",
			Help: "Runs of outbox messages' send jobs, by channel and result (sent, deferred, limited, retry, dead, done, lost)."}, []string{"channel", "result"}),
	}
	m.state = newStateCollector(opts)
	m.reg.MustRegister(m.runs, m.slots, m.proposals, m.ruleErrors, m.held, m.customers, m.refused, m.duration,
		m.lastDur, m.lastSuccess, m.inProgress, m.sends, m.state,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, ch := range opts.Channels {
		for _, res := range []string{"sent", "retry", DeadState} {
			m.sends.WithLabelValues(ch, res)
		}
	}
	return m
}

// Registry is where the metrics are registered, for tests and for more.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the format the scraper asks for (the
// text format by default).
func (m *Metrics) Handler() http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// Known makes a scheduled ruleset's series show from the start, at 0, so
// that rates and alerts work before its first run.
func (m *Metrics) Known(ruleset string) {
	for _, st := range []string{schedule.SlotSucceeded, schedule.SlotFailed} {
		m.runs.WithLabelValues(ruleset, st)
	}
	m.inProgress.WithLabelValues(ruleset)
	m.customers.WithLabelValues(ruleset)
	m.state.known(ruleset)
}

// Observe counts a settled slot, and a run for each slot that ran; it is
// the scheduler's Observe.
func (m *Metrics) Observe(ev schedule.Event) {
	m.slots.WithLabelValues(ev.Slot.Ruleset, ev.Outcome).Inc()
	switch ev.Outcome {
	case schedule.SlotSucceeded, schedule.SlotFailed, schedule.SlotCancelled:
		m.runs.WithLabelValues(ev.Slot.Ruleset, ev.Outcome).Inc()
	}
}

// Started counts a run of the ruleset in progress until the returned
// function is called.
func (m *Metrics) Started(ruleset string) (done func()) {
	g := m.inProgress.WithLabelValues(ruleset)
	g.Inc()
	return g.Dec
}

// Run counts what a run did; finished is when it ended.
func (m *Metrics) Run(res *engine.Result, finished time.Time) {
	rs := res.Ruleset
	for _, rr := range res.Rules {
		m.proposals.WithLabelValues(rs, rr.RuleID).Add(float64(rr.Proposals))
		m.ruleErrors.WithLabelValues(rs, rr.RuleID).Add(float64(rr.Errors))
	}
	for rule, reasons := range res.Held {
		for reason, n := range reasons {
			m.held.WithLabelValues(rs, rule, reason).Add(float64(n))
		}
	}
	m.customers.WithLabelValues(rs).Add(float64(res.Customers))
	m.refused.WithLabelValues(rs).Add(float64(res.Refused))
	secs := res.Duration.Seconds()
	m.duration.WithLabelValues(rs).Observe(secs)
	m.lastDur.WithLabelValues(rs).Set(secs)
	if res.Status == store.RunSucceeded {
		m.lastSuccess.WithLabelValues(rs).Set(unixSeconds(finished))
	}
}

// Sent counts one delivery attempt of an outbox message.
func (m *Metrics) Sent(channel, result string) {
	m.sends.WithLabelValues(channel, result).Inc()
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// stateCollector reads, at scrape time, what the database and the
// schedule say now.
type stateCollector struct {
	opts        Options
	nextSlot    *prometheus.Desc
	outbox      *prometheus.Desc
	dead        *prometheus.Desc
	pending     *prometheus.Desc
	jobs        *prometheus.Desc
	queryErrors *prometheus.CounterVec

	mu       sync.Mutex
	rulesets map[string]bool
}

func newStateCollector(opts Options) *stateCollector {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	c := &stateCollector{
		opts: opts,
		nextSlot: prometheus.NewDesc("goodturn_schedule_next_slot_timestamp_seconds",
			"When the ruleset's next slot is due, in Unix seconds.", []string{"ruleset"}, nil),
		outbox: prometheus.NewDesc("goodturn_outbox_messages",
			"Outbox messages waiting, by state: queued (due now or later), sending (handed to a channel, not yet recorded), dead.", []string{"state"}, nil),
		dead: prometheus.NewDesc("goodturn_outbox_dead_letters",
			"Outbox messages that failed too often and wait for an admin to retry them, by channel.", []string{"channel"}, nil),
		pending: prometheus.NewDesc("goodturn_proposals_pending",
			"Proposals waiting for review, by ruleset.", []string{"ruleset"}, nil),
		jobs: prometheus.NewDesc("goodturn_jobs",
			"Jobs of the job queue (River) by queue and state: available ones wait for a worker, running ones are being worked, retryable ones failed and wait to be tried again, discarded ones failed for good.",
			[]string{"queue", "state"}, nil),
		queryErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "goodturn_metrics_query_errors_total",
			Help: "Scrapes whose query of the database failed or timed out, by query (outbox, pending, jobs); their metrics are left out."}, []string{"query"}),
		rulesets: map[string]bool{},
	}
	for _, q := range []string{"outbox", "pending", "jobs"} {
		c.queryErrors.WithLabelValues(q)
	}
	return c
}

func (c *stateCollector) known(ruleset string) {
	c.mu.Lock()
	c.rulesets[ruleset] = true
	c.mu.Unlock()
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.nextSlot
	ch <- c.outbox
	ch <- c.dead
	ch <- c.pending
	ch <- c.jobs
	c.queryErrors.Describe(ch)
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	if c.opts.Next != nil {
		for rs, at := range c.opts.Next() {
			ch <- prometheus.MustNewConstMetric(c.nextSlot, prometheus.GaugeValue, unixSeconds(at), rs)
		}
	}
	if c.opts.Outbox != nil {
		c.collectOutbox(ch)
	}
	if c.opts.Pending != nil {
		c.collectPending(ch)
	}
	if c.opts.Jobs != nil {
		c.collectJobs(ch)
	}
	// After the queries, so that a scrape counts its own failures.
	c.queryErrors.Collect(ch)
}

func (c *stateCollector) collectOutbox(ch chan<- prometheus.Metric) {
	counts, ok := query(c, "outbox", c.opts.Outbox)
	if !ok {
		return
	}
	byState := map[string]int{}
	for _, st := range c.opts.OutboxStates {
		byState[st] = 0
	}
	dead := map[string]int{}
	for _, name := range c.opts.Channels {
		dead[name] = 0
	}
	for channel, states := range counts {
		for st, n := range states {
			byState[st] += n
		}
		if n, ok := states[DeadState]; ok {
			dead[channel] = n
		}
	}
	for st, n := range byState {
		ch <- prometheus.MustNewConstMetric(c.outbox, prometheus.GaugeValue, float64(n), st)
	}
	for channel, n := range dead {
		ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(n), channel)
	}
}

func (c *stateCollector) collectPending(ch chan<- prometheus.Metric) {
	counts, ok := query(c, "pending", c.opts.Pending)
	if !ok {
		return
	}
	if counts == nil {
		counts = map[string]int64{}
	}
	c.mu.Lock()
	for rs := range c.rulesets {
		if _, ok := counts[rs]; !ok {
			counts[rs] = 0
		}
	}
	c.mu.Unlock()
	for rs, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(n), rs)
	}
}

func (c *stateCollector) collectJobs(ch chan<- prometheus.Metric) {
	counts, ok := query(c, "jobs", c.opts.Jobs)
	if !ok {
		return
	}
	type key struct{ queue, state string }
	all := map[key]int{}
	for _, q := range c.opts.JobQueues {
		for _, st := range c.opts.JobStates {
			all[key{q, st}] = 0
		}
	}
	for q, states := range counts {
		for st, n := range states {
			all[key{q, st}] = n
		}
	}
	for k, n := range all {
		ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(n), k.queue, k.state)
	}
}

// query runs one scrape-time query with the timeout; a failure is logged
// and counted, and its metrics are left out of the scrape.
func query[T any](c *stateCollector, name string, fn func(context.Context) (T, error)) (T, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	v, err := fn(ctx)
	if err != nil {
		c.queryErrors.WithLabelValues(name).Inc()
		if c.opts.Logger != nil {
			c.opts.Logger.Warn("metrics: query failed", "query", name, "error", err)
		}
		return v, false
	}
	return v, true
}
