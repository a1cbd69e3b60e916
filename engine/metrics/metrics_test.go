package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/metrics"
	"github.com/goodturn/goodturn/engine/schedule"
	"github.com/goodturn/goodturn/engine/store"
)

// The database's state is read at scrape time: the outbox by state (every
// state asked for shows, at 0 when none), dead letters by channel, pending
// proposals by ruleset (every known ruleset shows).
func TestStateAtScrapeTime(t *testing.T) {
	outbox := map[string]map[string]int{"email": {"queued": 3, "dead": 2}, "action": {"queued": 1}}
	pending := map[string]int64{"mobile": 7}
	m := metrics.New(metrics.Options{
		Outbox:       func(context.Context) (map[string]map[string]int, error) { return outbox, nil },
		OutboxStates: []string{"queued", "sending", "dead"},
		Channels:     []string{"email", "sms"},
		Pending:      func(context.Context) (map[string]int64, error) { return pending, nil },
		Next:         func() map[string]time.Time { return map[string]time.Time{"mobile": time.Unix(1800000000, 0)} },
	})
	m.Known("broadband")
	want := `# HELP goodturn_outbox_messages Outbox messages waiting, by state: queued (due now or later), sending (handed to a channel, not yet recorded), dead.
# TYPE goodturn_outbox_messages gauge
goodturn_outbox_messages{state="dead"} 2
goodturn_outbox_messages{state="queued"} 4
goodturn_outbox_messages{state="sending"} 0
# HELP goodturn_outbox_dead_letters Outbox messages that failed too often and wait for an admin to retry them, by channel.
# TYPE goodturn_outbox_dead_letters gauge
goodturn_outbox_dead_letters{channel="email"} 2
goodturn_outbox_dead_letters{channel="sms"} 0
# HELP goodturn_proposals_pending Proposals waiting for review, by ruleset.
# TYPE goodturn_proposals_pending gauge
goodturn_proposals_pending{ruleset="broadband"} 0
goodturn_proposals_pending{ruleset="mobile"} 7
# HELP goodturn_schedule_next_slot_timestamp_seconds When the ruleset's next slot is due, in Unix seconds.
# TYPE goodturn_schedule_next_slot_timestamp_seconds gauge
goodturn_schedule_next_slot_timestamp_seconds{ruleset="mobile"} 1.8e+09
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "goodturn_outbox_messages", "goodturn_outbox_dead_letters",
		"goodturn_proposals_pending", "goodturn_schedule_next_slot_timestamp_seconds"); err != nil {
		t.Error(err)
	}
}

// The job queue's jobs show by queue and state, every known queue and state
// at 0 when it has none.
func TestJobsAtScrapeTime(t *testing.T) {
	m := metrics.New(metrics.Options{
		Jobs: func(context.Context) (map[string]map[string]int, error) {
			return map[string]map[string]int{"shards": {"running": 2, "available": 10}, "send": {"discarded": 1}}, nil
		},
		JobQueues: []string{"shards", "schedule"},
		JobStates: []string{"available", "running"},
	})
	want := `# HELP goodturn_jobs Jobs of the job queue (River) by queue and state: available ones wait for a worker, running ones are being worked, retryable ones failed and wait to be tried again, discarded ones failed for good.
# TYPE goodturn_jobs gauge
goodturn_jobs{queue="schedule",state="available"} 0
goodturn_jobs{queue="schedule",state="running"} 0
goodturn_jobs{queue="send",state="discarded"} 1
goodturn_jobs{queue="shards",state="available"} 10
goodturn_jobs{queue="shards",state="running"} 2
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "goodturn_jobs"); err != nil {
		t.Error(err)
	}
}

// A query that fails or hangs leaves its metrics out, after the timeout,
// and is counted; the scrape still answers with the rest.
func TestFailingQuery(t *testing.T) {
	m := metrics.New(metrics.Options{
		Outbox: func(ctx context.Context) (map[string]map[string]int, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
		OutboxStates: []string{"queued"},
		Pending:      func(context.Context) (map[string]int64, error) { return nil, errors.New("no such table: proposals") },
		Timeout:      50 * time.Millisecond,
	})
	start := time.Now()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK || time.Since(start) > 5*time.Second {
		t.Fatalf("scrape: %d after %s", rec.Code, time.Since(start))
	}
	if strings.Contains(body, "goodturn_outbox_messages{") || strings.Contains(body, "goodturn_proposals_pending{") {
		t.Errorf("failed queries' metrics shown:\n%s", body)
	}
	for _, w := range []string{`goodturn_metrics_query_errors_total{query="outbox"} 1`, `goodturn_metrics_query_errors_total{query="pending"} 1`, "go_goroutines "} {
		if !strings.Contains(body, w) {
			t.Errorf("scrape lacks %q:\n%s", w, body)
		}
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", rec.Header().Get("Cache-Control"))
	}
}

// A run's counts add up; a settled slot counts a run only when it ran.
func TestRunAndSlots(t *testing.T) {
	m := metrics.New(metrics.Options{})
	m.Known("mobile")
	done := m.Started("mobile")
	res := &engine.Result{Run: store.Run{Ruleset: "mobile", Status: store.RunSucceeded, Customers: 100, Refused: 2,
		Rules: []store.RunRule{{RuleID: "cheaper-plan", Proposals: 5, Errors: 1}}},
		Duration: 3 * time.Second, Held: map[string]map[string]int64{"cheaper-plan": {"cooldown": 4, "frequency_cap": 1}}}
	m.Run(res, time.Unix(1800000000, 0))
	done()
	m.Observe(schedule.Event{Slot: schedule.Slot{Ruleset: "mobile"}, Outcome: schedule.SlotSucceeded})
	m.Observe(schedule.Event{Slot: schedule.Slot{Ruleset: "mobile"}, Outcome: schedule.OutcomeTaken})
	m.Sent("email", "sent")
	want := `# HELP goodturn_held_total Matches of scheduled runs held back, by ruleset, rule and reason (cooldown, frequency_cap, broken_promise, unhealthy, ...).
# TYPE goodturn_held_total counter
goodturn_held_total{reason="cooldown",rule="cheaper-plan",ruleset="mobile"} 4
goodturn_held_total{reason="frequency_cap",rule="cheaper-plan",ruleset="mobile"} 1
# HELP goodturn_run_customers_total Customers evaluated by scheduled runs.
# TYPE goodturn_run_customers_total counter
goodturn_run_customers_total{ruleset="mobile"} 100
# HELP goodturn_runs_in_progress Scheduled runs going on in this process.
# TYPE goodturn_runs_in_progress gauge
goodturn_runs_in_progress{ruleset="mobile"} 0
# HELP goodturn_runs_total Scheduled runs finished, by ruleset and status (succeeded, failed, cancelled).
# TYPE goodturn_runs_total counter
goodturn_runs_total{ruleset="mobile",status="failed"} 0
goodturn_runs_total{ruleset="mobile",status="succeeded"} 1
# HELP goodturn_slots_total Schedule slots this process settled, by ruleset and outcome (succeeded, failed, cancelled, skipped, missed, taken).
# TYPE goodturn_slots_total counter
goodturn_slots_total{outcome="succeeded",ruleset="mobile"} 1
goodturn_slots_total{outcome="taken",ruleset="mobile"} 1
# HELP goodturn_sends_total Runs of outbox messages' send jobs, by channel and result (sent, deferred, limited, retry, dead, done, lost).
# TYPE goodturn_sends_total counter
goodturn_sends_total{channel="email",result="sent"} 1
# HELP goodturn_run_last_success_timestamp_seconds When the latest successful scheduled run finished, in Unix seconds.
# TYPE goodturn_run_last_success_timestamp_seconds gauge
goodturn_run_last_success_timestamp_seconds{ruleset="mobile"} 1.8e+09
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "goodturn_held_total", "goodturn_run_customers_total",
		"goodturn_runs_in_progress", "goodturn_runs_total", "goodturn_slots_total", "goodturn_sends_total",
		"goodturn_run_last_success_timestamp_seconds"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(m.Registry(), "goodturn_run_duration_seconds"); n != 1 || err != nil {
		t.Errorf("%d duration series (%v), want 1", n, err)
	}
}
