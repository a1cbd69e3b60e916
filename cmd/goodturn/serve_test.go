package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/sample"
	"github.com/goodturn/goodturn/engine/schedule"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/outbox"
	dto "github.com/prometheus/client_model/go"
)

// sampleBilling fills a database with a sample operator of n customers.
func sampleBilling(t *testing.T, dsn string, n int, now time.Time) {
	t.Helper()
	ctx := context.Background()
	db, err := database.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := billing.CreateSchema(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := sample.Generate(ctx, db, sample.Options{Customers: n, Seed: 1, Now: now}); err != nil {
		t.Fatal(err)
	}
}

// testConfig returns the shared flags' defaults with the database and the
// shipped rulesets.
// serveCall returns the call of `goodturn serve --db dsn --rulesets
// rulesets`, parsed, for tests that build a server with newServer.
func serveCall(t *testing.T, env *Env, dsn, rulesets string) *call {
	t.Helper()
	var serve *command
	for _, c := range commands {
		if c.name == "serve" {
			serve = c
		}
	}
	x := &call{Env: env, cmd: serve, path: "serve", args: []string{"--db", dsn, "--rulesets", rulesets}}
	x.Flags = x.flagSet(env, "serve", "", serve.needs.sharedFlags()...)
	if _, err := x.Parse(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.close)
	return x
}

func writeSchedule(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "schedule.conf")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// lockedBuffer is a bytes.Buffer safe to write from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testEnv() (*Env, *lockedBuffer, *lockedBuffer) {
	var out, errOut lockedBuffer
	return &Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}, &out, &errOut
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

// serve's wiring end to end on a tiny sample: at 02:30 London time the
// scheduler runs the real engine over the mobile ruleset, records the run
// and its slot, and /metrics counts it.
func TestServeRunsScheduledRuleset(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		day := time.Date(2026, 11, 23, 0, 0, 0, 0, london)
		sampleBilling(t, dsn, 50, day)
		env, _, errOut := testEnv()
		env.Logger = newLogger(env)
		clk := &testClock{t: day.Add(2 * time.Hour)}
		x := serveCall(t, env, dsn, "../../rulesets")
		sv, err := newServer(context.Background(), x, serveOptions{
			schedule: writeSchedule(t, "mobile: \"CRON_TZ=Europe/London 30 2 * * *\"\n"), catchUp: -1, now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		defer sv.close()
		ctx := context.Background()
		for _, at := range []time.Duration{2 * time.Hour, 2*time.Hour + 29*time.Minute, 2*time.Hour + 31*time.Minute, 3 * time.Hour} {
			clk.Set(day.Add(at))
			if err := sv.sched.Step(ctx); err != nil {
				t.Fatal(err)
			}
			sv.sched.Wait()
		}
		slot, err := schedule.GetSlot(ctx, sv.db, "mobile", "2026-11-23 02:30")
		if err != nil {
			t.Fatalf("%v\n%s", err, errOut)
		}
		if slot.Status != schedule.SlotSucceeded || slot.RunID == 0 || slot.Zone != "Europe/London" {
			t.Fatalf("slot: %+v\n%s", slot, errOut)
		}
		run, err := store.GetRun(ctx, sv.db, slot.RunID)
		if err != nil {
			t.Fatal(err)
		}
		if run.Status != store.RunSucceeded || run.Customers != 50 || run.Ruleset != "mobile" || run.Proposals == 0 {
			t.Errorf("run: %+v", run)
		}
		list, err := schedule.ListSlots(ctx, sv.db, "", time.Time{})
		if err != nil || len(list) != 1 {
			t.Errorf("slots: %+v %v", list, err)
		}

		body, fams := scrape(t, sv.handler())
		checkExposition(t, body)
		want := []series{
			{"goodturn_runs_total", []string{"ruleset", "mobile", "status", "succeeded"}, 1},
			{"goodturn_runs_total", []string{"ruleset", "mobile", "status", "failed"}, 0},
			{"goodturn_slots_total", []string{"ruleset", "mobile", "outcome", "succeeded"}, 1},
			{"goodturn_jobs", []string{"queue", "schedule", "state", "completed"}, 1},
			{"goodturn_jobs", []string{"queue", "schedule", "state", "available"}, 0},
			{"goodturn_jobs", []string{"queue", "shards", "state", "running"}, 0},
			{"goodturn_run_duration_seconds", []string{"ruleset", "mobile"}, 1}, // a histogram's count
			{"goodturn_runs_in_progress", []string{"ruleset", "mobile"}, 0},
			{"goodturn_run_customers_total", []string{"ruleset", "mobile"}, 50},
			{"goodturn_run_refused_customers_total", []string{"ruleset", "mobile"}, 0},
			// Next slot: 02:30 tomorrow, London time (GMT in November).
			{"goodturn_schedule_next_slot_timestamp_seconds", []string{"ruleset", "mobile"}, float64(time.Date(2026, 11, 24, 2, 30, 0, 0, time.UTC).Unix())},
			{"goodturn_run_last_success_timestamp_seconds", []string{"ruleset", "mobile"}, float64(day.Add(2*time.Hour + 31*time.Minute).Unix())}, // the step that ran it,
			{"goodturn_proposals_pending", []string{"ruleset", "mobile"}, float64(run.Proposals)},
			{"goodturn_outbox_messages", []string{"state", "queued"}, 0},
			{"goodturn_outbox_dead_letters", []string{"channel", "email"}, 0},
			{"goodturn_metrics_query_errors_total", []string{"query", "outbox"}, 0},
		}
		var total int64
		for _, rr := range run.Rules {
			total += rr.Proposals
			want = append(want, series{"goodturn_proposals_total", []string{"ruleset", "mobile", "rule", rr.RuleID}, float64(rr.Proposals)},
				series{"goodturn_rule_errors_total", []string{"ruleset", "mobile", "rule", rr.RuleID}, float64(rr.Errors)})
		}
		held, err := store.Held(ctx, sv.db, run.ID)
		if err != nil || len(held) == 0 {
			t.Fatalf("the run held nothing back (%v); the test wants holds to count", err)
		}
		for rule, reasons := range held {
			for reason, n := range reasons {
				want = append(want, series{"goodturn_held_total", []string{"ruleset", "mobile", "rule", rule, "reason", reason}, float64(n)})
			}
		}
		checkSamples(t, fams, want)
		if total != run.Proposals {
			t.Errorf("proposals by rule add up to %d, run says %d", total, run.Proposals)
		}
		if typ := fams["goodturn_run_duration_seconds"].GetType(); typ != dto.MetricType_HISTOGRAM {
			t.Errorf("goodturn_run_duration_seconds is a %v, want a histogram", typ)
		}
		if n, ok := metricValue(fams, "go_goroutines"); !ok || n < 1 {
			t.Errorf("go_goroutines %v %v", n, ok)
		}
		if n, ok := metricValue(fams, "process_start_time_seconds"); !ok || n < 1 {
			t.Errorf("process_start_time_seconds %v %v", n, ok)
		}

		// Marketing approves a rule's batch and the sender enqueues it: the
		// outbox has its messages queued, and fewer proposals wait.
		res, err := sv.db.Exec(`UPDATE proposals SET status = 'approved' WHERE status = 'pending' AND rule_id = 'cheaper-plan'`)
		if err != nil {
			t.Fatal(err)
		}
		approved, _ := res.RowsAffected()
		sets, err := x.loadRulesets([]string{"mobile"})
		if err != nil {
			t.Fatal(err)
		}
		enq := &outbox.Enqueuer{DB: sv.db, Customers: &billing.Reader{DB: sv.bdb}, Rulesets: sets, Jobs: sv.jobs, Now: clk.Now}
		er, err := enq.Enqueue(ctx)
		if err != nil || er.Proposals != int(approved) || er.Messages == 0 {
			t.Fatalf("enqueue: %+v %v; %d approved", er, err, approved)
		}
		var emails float64
		if err := sv.db.QueryRow(`SELECT count(*) FROM outbox WHERE channel = 'email' AND status = 'queued'`).Scan(&emails); err != nil || emails == 0 {
			t.Fatalf("%v queued emails: %v", emails, err)
		}
		_, fams = scrape(t, sv.handler())
		checkSamples(t, fams, []series{
			// Each queued message has its send job waiting in its
			// channel's queue.
			{"goodturn_jobs", []string{"queue", "send_email", "state", "available"}, emails},
			{"goodturn_jobs", []string{"queue", "send_email", "state", "discarded"}, 0},
			{"goodturn_outbox_messages", []string{"state", "queued"}, float64(er.Messages + er.Actions - er.Skipped)},
			{"goodturn_outbox_messages", []string{"state", "dead"}, 0},
			{"goodturn_proposals_pending", []string{"ruleset", "mobile"}, float64(run.Proposals - approved)},
		})
	})
}

// checkExposition checks every line is a comment or `name{labels} value`.
func checkExposition(t *testing.T, body string) {
	t.Helper()
	sample := regexp.MustCompile(`^[a-z_]+(\{([a-z_]+="(?:[^"\\]|\\.)*",?)*\})? -?[0-9.e+-]+$`)
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
			continue
		}
		if !sample.MatchString(line) {
			t.Errorf("not a metric line: %q", line)
		}
	}
}

func TestServeHealthz(t *testing.T) {
	env, _, _ := testEnv()
	env.Logger = newLogger(&Env{Stderr: io.Discard})
	dsn := dbtest.SQLiteDSN(t)
	x := serveCall(t, env, dsn, "../../rulesets")
	sv, err := newServer(context.Background(), x, serveOptions{schedule: writeSchedule(t, "# nothing yet\n"), catchUp: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sv.handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Errorf("/healthz: %d %q", resp.StatusCode, body)
	}
	resp, err = http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") ||
		!strings.Contains(string(body), "# TYPE goodturn_outbox_messages gauge\n") || !strings.Contains(string(body), "go_goroutines ") {
		t.Errorf("/metrics: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	checkExposition(t, string(body))
	// The database goes away: 503.
	sv.close()
	resp, err = http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/healthz without a database: %d %q", resp.StatusCode, body)
	}
	if resp, err := http.Post(srv.URL+"/metrics", "text/plain", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %v %v", resp, err)
	}
}

func TestServeScheduleErrors(t *testing.T) {
	path := writeSchedule(t, "mobile: \"CRON_TZ=Europe/London 30 2 * * *\"\nmobil: \"30 2 * * *\"\n")
	code, _, errOut := run(t, "serve", "--db", dbtest.SQLiteDSN(t), "--rulesets", "../../rulesets", "--schedule", path)
	want := fmt.Sprintf("goodturn serve: %s:2:1: ruleset \"mobil\": no such ruleset folder (did you mean \"mobile\"?)\n"+
		"%s:2:8: ruleset \"mobil\": cron spec \"30 2 * * *\" has no time zone: start it with one, such as \"CRON_TZ=Europe/London 30 2 * * *\"\n", path, path)
	if code != 1 || errOut != want {
		t.Errorf("bad schedule: exit %d\n%s\nwant\n%s", code, errOut, want)
	}
	code, _, errOut = run(t, "serve", "--db", dbtest.SQLiteDSN(t), "--rulesets", "testdata")
	if code != 1 || errOut != "goodturn serve: no schedule file testdata/schedule.conf: write one (see docs/scheduling.md) or give --schedule\n" {
		t.Errorf("no schedule: exit %d %q", code, errOut)
	}
	if code, _, _ := run(t, "serve", "--listen"); code != 2 {
		t.Errorf("serve --listen without a value exited %d", code)
	}
}

// `goodturn serve` as a user starts it: on a fresh database it runs the
// slot of the last 24 hours (catch-up), serves the endpoints, and stops
// cleanly when its context is cancelled (SIGTERM).
func TestServeCommand(t *testing.T) {
	dsn := dbtest.SQLiteDSN(t)
	sampleBilling(t, dsn, 50, time.Now())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env, out, errOut := testEnv()
	env.Logger = newLogger(env)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exit := make(chan int, 1)
	go func() {
		exit <- Main(ctx, env, []string{"serve", "--db", dsn, "--rulesets", "../../rulesets", "--listen", addr,
			"--schedule", writeSchedule(t, "mobile: \"CRON_TZ=Europe/London 30 2 * * *\"\n")})
	}()
	deadline := time.Now().Add(60 * time.Second)
	var metrics string
	for {
		select {
		case code := <-exit:
			t.Fatalf("serve exited %d early\n%s\n%s", code, out, errOut)
		default:
		}
		if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			metrics = string(b)
			if strings.Contains(metrics, `goodturn_runs_total{ruleset="mobile",status="succeeded"} 1`) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the catch-up run did not finish:\n%s\n%s\n%s", metrics, out, errOut)
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Errorf("serve exited %d after SIGTERM\n%s", code, errOut)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(out.String(), "Serving http://"+addr+"/healthz and /metrics; scheduling 1 ruleset(s)") ||
		!strings.Contains(out.String(), "  mobile: CRON_TZ=Europe/London 30 2 * * *; next ") {
		t.Errorf("stdout:\n%s", out)
	}
	for _, w := range []string{"slot started", "slot finished", "status=succeeded", "stopped"} {
		if !strings.Contains(errOut.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, errOut)
		}
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("the HTTP server still answers after shutdown")
	}
}

// A scheduled ruleset with errors is reported at start, and its slots fail
// with the errors recorded.
func TestServeBrokenRuleset(t *testing.T) {
	env, _, errOut := testEnv()
	env.Logger = newLogger(&Env{Stderr: io.Discard})
	x := serveCall(t, env, dbtest.SQLiteDSN(t), "testdata")
	clk := &testClock{t: time.Date(2026, 6, 1, 0, 59, 0, 0, time.UTC)}
	sv, err := newServer(context.Background(), x, serveOptions{schedule: writeSchedule(t, "bad: \"CRON_TZ=UTC 0 * * * *\"\n"), catchUp: -1, now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer sv.close()
	if !strings.Contains(errOut.String(), "goodturn serve: ruleset bad has errors and will not run until they are fixed:\ntestdata/bad/broken.yaml:2:5: rule \"broken\": missing field \"when\"") {
		t.Errorf("stderr:\n%s", errOut)
	}
	ctx := context.Background()
	sv.sched.Step(ctx)
	clk.Set(time.Date(2026, 6, 1, 1, 0, 0, 0, time.UTC))
	if err := sv.sched.Step(ctx); err != nil {
		t.Fatal(err)
	}
	sv.sched.Wait()
	slot, err := schedule.GetSlot(ctx, sv.db, "bad", "2026-06-01 01:00")
	if err != nil {
		t.Fatal(err)
	}
	if slot.Status != schedule.SlotFailed || !strings.Contains(slot.Error, "ruleset bad has errors and did not run:\ntestdata/bad/broken.yaml:2:5:") {
		t.Errorf("slot: %+v", slot)
	}
	if _, body := get(t, sv.handler(), "/metrics"); !strings.Contains(body, `goodturn_runs_total{ruleset="bad",status="failed"} 1`+"\n") {
		t.Errorf("/metrics:\n%s", body)
	}
}

// `goodturn serve` delivers approved proposals: its sender turns them into
// outbox messages and sends them, here through the log channel.
func TestServeSendsApprovedProposals(t *testing.T) {
	dsn := dbtest.SQLiteDSN(t)
	if code, out, errOut := run(t, "demo", "--db", dsn, "--rulesets", "../../rulesets", "--customers", "300"); code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
	}
	db, err := database.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(`UPDATE proposals SET status = 'approved' WHERE rule_id = 'late-fee-waiver' AND status = 'pending'`)
	if err != nil {
		t.Fatal(err)
	}
	approved, _ := res.RowsAffected()
	if approved == 0 {
		t.Fatal("the demo made no late-fee-waiver proposals to approve")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env, out, errOut := testEnv()
	env.Logger = newLogger(env)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exit := make(chan int, 1)
	go func() {
		exit <- Main(ctx, env, []string{"serve", "--db", dsn, "--rulesets", "../../rulesets", "--listen", addr,
			"--catch-up", "0", "--schedule", writeSchedule(t, "mobile: \"CRON_TZ=UTC 0 0 1 1 *\"\n"),
			"--log", "--send-hours", "always", "--send-every", "100ms", "--log-format", "json", "--log-level", "debug"})
	}()
	// Each late fee waiver is an email and a billing action; without a
	// billing webhook the action waits, and the emails go to the log.
	deadline := time.Now().Add(30 * time.Second)
	var sent int64
	for time.Now().Before(deadline) {
		db.QueryRow(`SELECT count(*) FROM outbox WHERE status = 'sent' AND channel = 'email'`).Scan(&sent)
		if sent == approved {
			break
		}
		select {
		case code := <-exit:
			t.Fatalf("serve exited %d early\n%s\n%s", code, out, errOut)
		case <-time.After(100 * time.Millisecond):
		}
	}
	// /metrics counts the deliveries by channel and result.
	_, fams := scrape(t, proxyTo(t, addr))
	checkSamples(t, fams, []series{
		{"goodturn_sends_total", []string{"channel", "email", "result", "sent"}, float64(approved)},
		{"goodturn_sends_total", []string{"channel", "email", "result", "dead"}, 0},
		{"goodturn_outbox_messages", []string{"state", "dead"}, 0},
	})
	// The access log has the request without its query or cookie.
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/login?next=/secret-next", nil)
	req.AddCookie(&http.Cookie{Name: "goodturn_session", Value: "secret-cookie"})
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	cancel()
	if code := <-exit; code != 0 {
		t.Errorf("serve exited %d\n%s", code, errOut)
	}
	checkAccessLog(t, errOut.String())
	if sent != approved {
		t.Fatalf("%d emails sent, want one for each of the %d approved proposals\n%s\n%s", sent, approved, out, errOut)
	}
	if !strings.Contains(out.String(), "Sending approved messages as River jobs; looking for approved proposals without messages every 100ms.") || !strings.Contains(out.String(), "late fee") {
		t.Errorf("stdout:\n%s", out)
	}
}
