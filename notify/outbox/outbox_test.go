package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/queue"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/channel"
	"github.com/goodturn/goodturn/notify/outbox/outboxdb"
)

func TestEnqueueTwiceAddsNothing(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		f.addCustomer(1, "Ann Lee", "en-GB")
		f.addCustomer(2, "Élise <script>alert(1)</script> Martin", "fr-FR")
		f.addCustomer(3, "Bob Stone", "en-GB")
		out := f.addCustomer(4, "Opted Out", "en-GB")
		out.ContactOptOut = true
		f.custs[4] = out
		a := f.cheaperPlan(1, "approved", "GBP")
		b := f.cheaperPlan(2, "approved", "EUR")
		f.cheaperPlan(3, "pending", "GBP") // not approved: not enqueued
		c := f.lateFee(3)
		d := f.cheaperPlan(4, "approved", "GBP")

		res := f.enqueue()
		if res.Proposals != 4 || res.Messages != 5 || res.Actions != 1 || res.Skipped != 2 {
			t.Errorf("first enqueue: %+v", res)
		}
		again := f.enqueue()
		if again.Proposals != 0 || again.Messages != 0 || again.Actions != 0 {
			t.Errorf("second enqueue added %+v", again)
		}
		rows := f.rows(outboxdb.Filter{})
		if len(rows) != 8 {
			t.Fatalf("%d rows, want 8", len(rows))
		}
		byKey := map[string]outboxdb.Message{}
		for _, m := range rows {
			byKey[m.Key] = m
		}
		for _, k := range []string{Key(a, "email"), Key(a, "sms"), Key(b, "email"), Key(b, "sms"), Key(c, "email"), Key(c, "action"), Key(d, "email"), Key(d, "sms")} {
			if _, ok := byKey[k]; !ok {
				t.Errorf("no row %s", k)
			}
		}
		gb := byKey[Key(a, "email")]
		if gb.Subject != "You could pay £2.50 a month less on SIM only 20GB saver" || !strings.Contains(gb.Text, "SIM only 20GB saver plan at £7.50 a month") ||
			gb.Recipient != "c1@example.com" || gb.Status != outboxdb.Queued {
			t.Errorf("en-GB email: %+v", gb)
		}
		if !strings.Contains(gb.HTML, "<p>Hi Ann,</p>") || !strings.Contains(gb.HTML, "<p>Thanks for being with us,<br>\nThe team</p>") {
			t.Errorf("HTML part:\n%s", gb.HTML)
		}
		fr := byKey[Key(b, "email")]
		if !strings.Contains(fr.Text, "at 7,50 € a month") || !strings.Contains(fr.Subject, "2,50 €") {
			t.Errorf("fr-FR amounts: %q / %q", fr.Subject, fr.Text)
		}
		if !strings.Contains(fr.HTML, "Hi Élise,") || strings.Contains(fr.HTML, "<script>") {
			t.Errorf("customer data in the HTML part must be escaped:\n%s", fr.HTML)
		}
		if sms := byKey[Key(b, "sms")]; sms.Recipient != "+447700900002" || !strings.Contains(sms.SMS, "7,50 €/month") {
			t.Errorf("sms: %+v", sms)
		}
		if m := byKey[Key(c, "email")]; !strings.Contains(m.Text, "waived the £10.00 late fee from 1 November 2026") ||
			!strings.Contains(m.Text, "with us for 6 years") {
			t.Errorf("late fee email: %q", m.Text)
		}
		act := byKey[Key(c, "action")]
		var payload map[string]any
		if err := json.Unmarshal([]byte(act.Payload), &payload); err != nil {
			t.Fatal(err)
		}
		if payload["action"] != "waive_charge" || payload["key"] != Key(c, "action") || payload["offer"].(map[string]any)["charge_id"] != 91.0 {
			t.Errorf("action payload: %s", act.Payload)
		}
		if m := byKey[Key(d, "email")]; m.Status != outboxdb.Skipped || !strings.Contains(m.LastError, "opted out") {
			t.Errorf("opted-out customer: %+v", m)
		}
		// Every message to send has one send job in its channel's queue;
		// a skipped one has none.
		jobs := map[int64]bool{}
		for _, m := range rows {
			if m.Status == outboxdb.Skipped {
				if m.JobID != 0 {
					t.Errorf("skipped %s has job %d", m.Key, m.JobID)
				}
				continue
			}
			j := f.job(m)
			var args SendArgs
			if err := json.Unmarshal(j.EncodedArgs, &args); err != nil {
				t.Fatal(err)
			}
			if j.Kind != JobKind || j.Queue != Queue(m.Channel) || args.MessageID != m.ID || j.State != rivertype.JobStateAvailable ||
				j.MaxAttempts != DefaultMaxAttempts || jobs[j.ID] {
				t.Errorf("job of %s: %s in %s for message %d, %s, max %d attempts", m.Key, j.Kind, j.Queue, args.MessageID, j.State, j.MaxAttempts)
			}
			jobs[j.ID] = true
		}
		if len(jobs) != 6 {
			t.Errorf("%d send jobs, want 6", len(jobs))
		}
	})
}

// The messages and their send jobs are enqueued in the caller's
// transaction (an approval's): rolled back, neither is there; committed,
// both are.
func TestEnqueueInTheCallersTransaction(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn)
		f.addCustomer(1, "Ann Lee", "en-GB")
		f.addCustomer(2, "Bob Stone", "en-GB")
		a := f.cheaperPlan(1, "approved", "GBP")
		b := f.cheaperPlan(2, "approved", "GBP")
		countJobs := func() int {
			res, err := f.jobs.Client.JobList(ctx, river.NewJobListParams().Kinds(JobKind).First(100))
			if err != nil {
				t.Fatal(err)
			}
			return len(res.Jobs)
		}
		for _, commit := range []bool{false, true} {
			tx, err := database.Begin(ctx, f.db)
			if err != nil {
				t.Fatal(err)
			}
			res, err := f.enq.EnqueueIn(ctx, tx, outboxdb.Approved{ProposalID: a})
			if err != nil || res.Proposals != 1 || res.Messages != 2 {
				t.Fatalf("enqueue proposal %d: %+v %v", a, res, err)
			}
			if commit {
				err = tx.Commit()
			} else {
				err = tx.Rollback()
			}
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if commit {
				want = 2
			}
			if n, j := len(f.rows(outboxdb.Filter{})), countJobs(); n != want || j != want {
				t.Errorf("committed %v: %d messages and %d jobs, want %d", commit, n, j, want)
			}
		}
		// Only the selected proposal: b waits for the next Enqueue.
		if rows := f.rows(outboxdb.Filter{ProposalID: b}); len(rows) != 0 {
			t.Errorf("proposal %d enqueued with %d: %+v", b, a, rows)
		}
	})
}

// smtpSender returns a sender delivering email to the test server.
func smtpSender(f *fixture, srv *smtpServer) *Sender {
	host, port := srv.hostPort()
	return &Sender{DB: f.db, Now: f.clock.Now, Quiet: DefaultQuietHours,
		Channels: map[string]channel.Channel{"email": &channel.Email{Host: host, Port: port, TLS: channel.TLSNone,
			From: "Goodturn Mobile <hello@mobile.example>", Timeout: 5 * time.Second}}}
}

func TestSMTPBatchExactlyOnce(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		srv := startSMTP(t, "")
		var ids []int64
		for i := int64(1); i <= 5; i++ {
			f.addCustomer(i, fmt.Sprintf("Customer%d Smith", i), "en-GB")
			ids = append(ids, f.cheaperPlan(i, "pending", "GBP"))
		}
		f.approve(ids...)
		f.enqueue()
		s := smtpSender(f, srv)
		rep := f.pass(s)
		if rep.Count(ResultSent) != 5 {
			t.Fatalf("report: %+v", rep)
		}
		// A second pass sends nothing more.
		if rep := f.pass(s); len(rep.Outcomes) != 0 {
			t.Fatalf("second pass: %+v", rep)
		}
		got := srv.received()
		if len(got) != 5 {
			t.Fatalf("server received %d messages, want 5", len(got))
		}
		seen := map[string]bool{}
		for i, m := range got {
			if seen[m.To] {
				t.Errorf("second message to %s", m.To)
			}
			seen[m.To] = true
			if m.Subject != "You could pay £2.50 a month less on SIM only 20GB saver" {
				t.Errorf("subject %q", m.Subject)
			}
			if !strings.Contains(m.Text, "our SIM only 20GB saver plan at £7.50 a month; you pay £10.00 a month on SIM only 80GB") ||
				!strings.Contains(m.Text, "- October 2026: £10.00 on SIM only 80GB, £7.50 on SIM only 20GB saver") || !strings.Contains(m.Text, "or £30.00 a year, back") {
				t.Errorf("text part of message %d:\n%s", i, m.Text)
			}
			if !strings.Contains(m.HTML, "<p>") || !strings.Contains(m.HTML, "£7.50 a month") {
				t.Errorf("HTML part of message %d:\n%s", i, m.HTML)
			}
			if !strings.HasPrefix(m.Key, "proposal-") || m.MessageID != "<"+m.Key+"@mobile.example>" {
				t.Errorf("Message-ID %q for key %q", m.MessageID, m.Key)
			}
		}
		for _, m := range f.rows(outboxdb.Filter{Channel: "email"}) {
			if m.Status != outboxdb.Sent || m.Attempts != 1 || !m.SentAt.Equal(noon) {
				t.Errorf("row %d: %s after %d attempts at %v", m.ID, m.Status, m.Attempts, m.SentAt)
			}
			if j := f.job(m); j.State != rivertype.JobStateCompleted || j.Attempt != 1 {
				t.Errorf("job of row %d: %s after %d attempts", m.ID, j.State, j.Attempt)
			}
		}

		// With the server down the messages wait, and go out when it is back.
		addr := srv.addr
		srv.stop()
		for i := int64(6); i <= 8; i++ {
			f.addCustomer(i, fmt.Sprintf("Later%d Jones", i), "en-GB")
			f.approve(f.cheaperPlan(i, "pending", "GBP"))
		}
		f.enqueue()
		rep = f.pass(s)
		if rep.Count(ResultRetry) != 3 {
			t.Fatalf("server down: %+v", rep)
		}
		waiting := f.rows(outboxdb.Filter{Status: outboxdb.Queued, Channel: "email"})
		for _, m := range waiting {
			j := f.job(m)
			if m.Attempts != 1 || m.LastError == "" || !j.ScheduledAt.After(noon) || len(j.Errors) != 1 || j.State == rivertype.JobStateDiscarded {
				t.Errorf("waiting row: %+v, its job %s at %v with %d errors", m, j.State, j.ScheduledAt, len(j.Errors))
			}
		}
		if len(waiting) != 3 {
			t.Errorf("%d rows wait, want 3", len(waiting))
		}
		srv.start(addr)
		// Nothing is due until the backoff has passed.
		if rep := f.pass(s); len(rep.Outcomes) != 0 {
			t.Errorf("retried before the backoff: %+v", rep)
		}
		f.clock.Add(time.Minute)
		rep = f.pass(s)
		if rep.Count(ResultSent) != 3 {
			t.Fatalf("server back: %+v", rep)
		}
		if n := len(srv.received()); n != 8 {
			t.Errorf("server received %d messages in all, want 8", n)
		}
	})
}

func TestConcurrentSendersSendOnce(t *testing.T) {
	dsn := dbtest.PostgresDSN(t) // SKIP LOCKED needs PostgreSQL; SQLite has one sender
	ctx := context.Background()
	f := newFixture(t, dsn)
	f.cheaperPlans(60, "Sam Poe")
	var mu sync.Mutex
	count := map[string]int{}
	ch := channel.Func(func(_ context.Context, m channel.Message) error {
		mu.Lock()
		count[m.Key]++
		mu.Unlock()
		time.Sleep(time.Millisecond)
		return nil
	})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &Sender{DB: f.db, Now: f.clock.Now, Channels: map[string]channel.Channel{"email": ch, "sms": ch}}
			if _, err := s.RunOnce(ctx, f.client(s)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(count) != 120 {
		t.Errorf("%d messages sent, want 120", len(count))
	}
	for k, n := range count {
		if n != 1 {
			t.Errorf("%s sent %d times", k, n)
		}
	}
}

func TestQuietHours(t *testing.T) {
	f := newFixture(t, dbtest.SQLiteDSN(t))
	c := f.addCustomer(1, "Kai Night", "en-US")
	c.Timezone = "America/New_York"
	f.custs[1] = c
	f.approve(f.lateFee(1))
	f.enqueue()
	// 01:30 UTC is 20:30 the day before in New York: too late.
	f.clock.t = time.Date(2026, 11, 25, 1, 30, 0, 0, time.UTC)
	var sent []channel.Message
	ch := channel.Func(func(_ context.Context, m channel.Message) error { sent = append(sent, m); return nil })
	s := &Sender{DB: f.db, Now: f.clock.Now, Quiet: DefaultQuietHours, Channels: map[string]channel.Channel{"email": ch, "action": ch}}
	rep := f.pass(s)
	// The billing action is not held by quiet hours; the email is.
	if len(sent) != 1 || sent[0].Channel != "action" {
		t.Fatalf("sent %+v", sent)
	}
	wantAt := time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC) // 08:00 in New York
	if rep.Count(ResultDeferred) != 1 || !rep.Outcomes[0].At.Equal(wantAt) {
		t.Fatalf("report %+v, want the email deferred to %v", rep, wantAt)
	}
	// The job is snoozed, not failed: no attempt, no error.
	if m := f.rows(outboxdb.Filter{Channel: "email"})[0]; m.Attempts != 0 || m.Status != outboxdb.Queued {
		t.Errorf("deferred row: %+v", m)
	} else if j := f.job(m); j.State != rivertype.JobStateScheduled || !j.ScheduledAt.Equal(wantAt) || len(j.Errors) != 0 || j.Attempt != 0 {
		t.Errorf("deferred job: %s at %v, attempt %d, errors %v", j.State, j.ScheduledAt, j.Attempt, j.Errors)
	}
	if !strings.Contains(f.rows(outboxdb.Filter{Channel: "email"})[0].Text, "November 1, 2026") {
		t.Errorf("en-US date: %s", f.rows(outboxdb.Filter{Channel: "email"})[0].Text)
	}
	f.clock.t = wantAt.Add(-time.Minute)
	if rep := f.pass(s); len(rep.Outcomes) != 0 {
		t.Errorf("sent early: %+v", rep)
	}
	f.clock.t = wantAt
	if rep := f.pass(s); rep.Count(ResultSent) != 1 {
		t.Fatalf("at 08:00: %+v", rep)
	}
}

func TestQuietHoursNext(t *testing.T) {
	q := DefaultQuietHours
	london := "Europe/London"
	for _, tc := range []struct {
		now  time.Time
		ok   bool
		want time.Time
	}{
		{time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC), true, time.Time{}},                                   // 08:00 BST
		{time.Date(2026, 6, 1, 6, 59, 0, 0, time.UTC), false, time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC)}, // 07:59 BST
		{time.Date(2026, 6, 1, 19, 0, 0, 0, time.UTC), false, time.Date(2026, 6, 2, 7, 0, 0, 0, time.UTC)}, // 20:00 BST
		{time.Date(2026, 12, 1, 19, 59, 0, 0, time.UTC), true, time.Time{}},
		// The night the clocks go forward: next 08:00 is BST.
		{time.Date(2026, 3, 28, 22, 0, 0, 0, time.UTC), false, time.Date(2026, 3, 29, 7, 0, 0, 0, time.UTC)},
	} {
		got, ok := q.Next(tc.now, london)
		if ok != tc.ok || (!ok && !got.Equal(tc.want)) {
			t.Errorf("Next(%v) = %v %v, want %v %v", tc.now, got, ok, tc.want, tc.ok)
		}
	}
	// An unknown zone falls back to the default.
	if _, ok := q.Next(time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC), "Nowhere/Atlantis"); ok {
		t.Error("03:00 UTC allowed")
	}
	if w, err := ParseWindow("09:30-18:00"); err != nil || w.Start != 9*time.Hour+30*time.Minute || w.End != 18*time.Hour {
		t.Errorf("ParseWindow: %+v %v", w, err)
	}
	if _, err := ParseWindow("9-5"); err == nil {
		t.Error("ParseWindow accepted 9-5")
	}
}

func TestBackoffDeadRetry(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, dbtest.SQLiteDSN(t))
	f.jobs.MaxAttempts = 4
	f.addCustomer(1, "Rae Fail", "en-GB")
	f.approve(f.lateFee(1))
	f.enqueue()
	var fail atomic.Bool
	fail.Store(true)
	var sends atomic.Int32
	ch := channel.Func(func(context.Context, channel.Message) error {
		sends.Add(1)
		if fail.Load() {
			return errors.New("connection refused")
		}
		return nil
	})
	s := &Sender{DB: f.db, Now: f.clock.Now, Channels: map[string]channel.Channel{"email": ch}}
	for i := 1; i <= 4; i++ {
		rep := f.pass(s)
		if len(rep.Outcomes) != 1 {
			t.Fatalf("pass %d: %+v", i, rep)
		}
		o := rep.Outcomes[0]
		m := f.rows(outboxdb.Filter{Channel: "email"})[0]
		j := f.job(m)
		if i < 4 {
			if o.Result != ResultRetry || o.Attempt != i || m.Status != outboxdb.Queued {
				t.Fatalf("pass %d: %+v, row %s", i, o, m.Status)
			}
			// River's retry policy: about i⁴ seconds, give or take a tenth.
			d := j.ScheduledAt.Sub(f.clock.Now())
			full := time.Duration(i*i*i*i) * time.Second
			if d < full*9/10 || d > full*11/10 || j.Attempt != i || len(j.Errors) != i {
				t.Errorf("attempt %d: retried in %v, want about %v; job attempt %d with %d errors", i, d, full, j.Attempt, len(j.Errors))
			}
			f.clock.t = j.ScheduledAt
		} else if o.Result != ResultDead || j.State != rivertype.JobStateDiscarded {
			t.Fatalf("pass %d: %+v, job %s, want dead and discarded", i, o, j.State)
		}
	}
	m := f.rows(outboxdb.Filter{Status: outboxdb.Dead})
	if len(m) != 1 || m[0].Attempts != 4 || m[0].LastError != "connection refused" {
		t.Fatalf("dead rows: %+v", m)
	}
	f.clock.Add(24 * time.Hour)
	if rep := f.pass(s); len(rep.Outcomes) != 0 {
		t.Errorf("a dead message was tried again: %+v", rep)
	}
	// An admin retries it: the row is queued and River's job available.
	if err := f.jobs.Retry(ctx, f.db, m[0].ID); err != nil {
		t.Fatal(err)
	}
	if j := f.job(m[0]); j.State != rivertype.JobStateAvailable || f.rows(outboxdb.Filter{Channel: "email"})[0].Status != outboxdb.Queued {
		t.Errorf("after retry: job %s", j.State)
	}
	if err := f.jobs.Retry(ctx, f.db, m[0].ID); err == nil || !strings.Contains(err.Error(), "not dead") {
		t.Errorf("retry of a queued message: %v", err)
	}
	fail.Store(false)
	if rep := f.pass(s); rep.Count(ResultSent) != 1 {
		t.Fatalf("after retry: %+v", rep)
	}
	if n := sends.Load(); n != 5 {
		t.Errorf("%d sends, want 5", n)
	}
	if j := f.job(m[0]); j.State != rivertype.JobStateCompleted {
		t.Errorf("job after the retry sent: %s", j.State)
	}
}

// TestDefaultRetriesSpanADay: with the default attempts and River's retry
// policy, a message is given up only after more than a day of failures,
// however the jitter falls.
func TestDefaultRetriesSpanADay(t *testing.T) {
	policy := &river.DefaultClientRetryPolicy{}
	var span time.Duration
	for failures := 1; failures < DefaultMaxAttempts; failures++ {
		job := &rivertype.JobRow{Attempt: failures, Errors: make([]rivertype.AttemptError, failures-1)}
		full := time.Duration(failures*failures*failures*failures) * time.Second
		d := policy.NextRetry(job).Sub(time.Now())
		if d < full*9/10-time.Second || d > full*11/10+time.Second {
			t.Fatalf("after %d failures River retries in %v, not about %v: the policy changed", failures, d, full)
		}
		span += full * 9 / 10 // the least the jitter allows
	}
	if span < 24*time.Hour {
		t.Errorf("%d attempts give up after %v at the earliest, less than a day", DefaultMaxAttempts, span)
	}
}

func TestPermanentFailureIsDeadAtOnce(t *testing.T) {
	f := newFixture(t, dbtest.SQLiteDSN(t))
	f.addCustomer(1, "Pat Reject", "en-GB")
	f.approve(f.lateFee(1))
	f.enqueue()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "unknown charge", http.StatusUnprocessableEntity)
	}))
	defer hook.Close()
	s := &Sender{DB: f.db, Now: f.clock.Now, Channels: map[string]channel.Channel{
		"action": &channel.Billing{Webhook: channel.Webhook{URL: hook.URL, Secret: []byte("s")}}}}
	rep := f.pass(s)
	if rep.Count(ResultDead) != 1 || !strings.Contains(rep.Outcomes[0].Error, "422") {
		t.Fatalf("%+v", rep)
	}
	m := f.rows(outboxdb.Filter{Channel: "action"})[0]
	if j := f.job(m); m.Status != outboxdb.Dead || j.State != rivertype.JobStateCancelled || j.Attempt != 1 {
		t.Errorf("row %s, job %s after %d attempts; want dead and cancelled after 1", m.Status, j.State, j.Attempt)
	}
}

// dedupReceiver is a webhook receiver that checks signatures and processes
// each idempotency key once, as the receivers goodturn posts to must.
type dedupReceiver struct {
	t         *testing.T
	secret    []byte
	mu        sync.Mutex
	requests  int
	processed map[string][]byte
	keys      []string
}

func (d *dedupReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := channel.Verify(d.secret, r.Header.Get(channel.SignatureHeader), body, time.Now(), 5*time.Minute); err != nil {
		d.t.Errorf("receiver: %v", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	key := r.Header.Get(channel.IdempotencyHeader)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.requests++
	d.keys = append(d.keys, key)
	if _, dup := d.processed[key]; dup {
		w.WriteHeader(http.StatusOK) // already done: acknowledge, do nothing
		return
	}
	d.processed[key] = body
	w.WriteHeader(http.StatusAccepted)
}

func TestWebhookSignedWithKey(t *testing.T) {
	f := newFixture(t, dbtest.SQLiteDSN(t))
	f.addCustomer(1, "Wes Hook", "en-GB")
	p := f.lateFee(1)
	f.enqueue()
	secret := []byte("webhook-secret")
	recv := &dedupReceiver{t: t, secret: secret, processed: map[string][]byte{}}
	hook := httptest.NewServer(recv)
	defer hook.Close()
	s := &Sender{DB: f.db, Now: f.clock.Now, Channels: map[string]channel.Channel{
		"email":  &channel.Webhook{URL: hook.URL + "/messages", Secret: secret},
		"action": &channel.Billing{Webhook: channel.Webhook{URL: hook.URL + "/billing", Secret: secret}}}}
	if rep := f.pass(s); rep.Count(ResultSent) != 2 {
		t.Fatalf("%+v", rep)
	}
	var msg channel.Message
	if err := json.Unmarshal(recv.processed[Key(p, "email")], &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Key != Key(p, "email") || msg.Subject != "We've taken the late fee off your bill" || msg.CustomerID != 1 || msg.Attempt != 1 {
		t.Errorf("message body: %+v", msg)
	}
	var action map[string]any
	if err := json.Unmarshal(recv.processed[Key(p, "action")], &action); err != nil {
		t.Fatal(err)
	}
	if action["action"] != "waive_charge" || action["key"] != Key(p, "action") {
		t.Errorf("action body: %v", action)
	}
	// A wrong secret or a changed body fails verification.
	body := recv.processed[Key(p, "action")]
	sig := channel.Sign(secret, time.Now(), body)
	if err := channel.Verify([]byte("other"), sig, body, time.Now(), time.Minute); err == nil {
		t.Error("verified with the wrong secret")
	}
	if err := channel.Verify(secret, sig, append(body, ' '), time.Now(), time.Minute); err == nil {
		t.Error("verified a changed body")
	}
	if err := channel.Verify(secret, sig, body, time.Now().Add(time.Hour), time.Minute); err == nil {
		t.Error("verified an old signature")
	}
}

// TestCrashBetweenSendAndRecord stops the sender right after the channel
// accepted each message and before the send is recorded — what kill -9
// does there — then starts again.
func TestCrashBetweenSendAndRecord(t *testing.T) {
	t.Run("webhook resends with the same key and the receiver deduplicates", func(t *testing.T) {
		f := newFixture(t, dbtest.SQLiteDSN(t))
		f.addCustomer(1, "Cat Crash", "en-GB")
		p := f.lateFee(1)
		f.enqueue()
		secret := []byte("k")
		recv := &dedupReceiver{t: t, secret: secret, processed: map[string][]byte{}}
		hook := httptest.NewServer(recv)
		defer hook.Close()
		chans := map[string]channel.Channel{"action": &channel.Billing{Webhook: channel.Webhook{URL: hook.URL, Secret: secret}}}
		f.crash(&Sender{DB: f.db, Now: f.clock.Now, Channels: chans})
		m := f.rows(outboxdb.Filter{Channel: "action"})[0]
		if j := f.job(m); m.Status != outboxdb.Sending || m.Attempts != 1 || j.State != rivertype.JobStateRunning {
			t.Fatalf("after the crash: %+v, job %s", m, j.State)
		}
		s := &Sender{DB: f.db, Now: f.clock.Now, Channels: chans}
		// While its job runs, as far as River knows, a restarted sender
		// leaves the message alone.
		if rep := f.pass(s); len(rep.Outcomes) != 0 {
			t.Fatalf("before River rescued the job: %+v", rep)
		}
		f.passRescueTime()
		rep := f.serveUntil(s, ResultSent)
		if rep.Count(ResultSent) != 1 || !rep.Outcomes[0].Resend || rep.Outcomes[0].Attempt != 2 {
			t.Fatalf("after River rescued the job: %+v", rep)
		}
		if recv.requests != 2 || len(recv.processed) != 1 || recv.keys[0] != Key(p, "action") || recv.keys[1] != recv.keys[0] {
			t.Errorf("receiver: %d requests, keys %v, processed %d", recv.requests, recv.keys, len(recv.processed))
		}
	})
	t.Run("email resends with the same Message-ID", func(t *testing.T) {
		f := newFixture(t, dbtest.SQLiteDSN(t))
		srv := startSMTP(t, "")
		f.addCustomer(1, "Cat Crash", "en-GB")
		f.addCustomer(2, "Dan Crash", "en-GB")
		f.approve(f.cheaperPlan(1, "pending", "GBP"), f.cheaperPlan(2, "pending", "GBP"))
		f.enqueue()
		f.crash(smtpSender(f, srv))
		s := smtpSender(f, srv)
		// The message whose send the crash interrupted waits for River to
		// rescue its job; the other goes.
		rep := f.pass(s)
		if rep.Count(ResultSent) != 1 || rep.Outcomes[0].Resend {
			t.Fatalf("before River rescued the job: %+v", rep)
		}
		f.passRescueTime()
		after := f.serveUntil(s, ResultSent)
		rep.Outcomes = append(rep.Outcomes, after.Outcomes...)
		if rep.Count(ResultSent) != 2 {
			t.Fatalf("after River rescued the job: %+v", rep)
		}
		resent := 0
		for _, o := range rep.Outcomes {
			if o.Resend {
				resent++
			}
		}
		if resent != 1 {
			t.Errorf("%d resends, want 1: %+v", resent, rep)
		}
		got := srv.received()
		ids := map[string]int{}
		for _, m := range got {
			ids[m.MessageID]++
		}
		// Three deliveries: the crashed one was accepted and is sent again,
		// as the same message (Message-ID and key) that a receiver or a
		// mailbox folds into one; the other once.
		if len(got) != 3 || len(ids) != 2 {
			t.Fatalf("received %d messages with %d Message-IDs: %v", len(got), len(ids), ids)
		}
		for _, m := range f.rows(outboxdb.Filter{Channel: "email"}) {
			if m.Status != outboxdb.Sent {
				t.Errorf("row %s: %s", m.Key, m.Status)
			}
		}
	})
	t.Run("email held for an admin with HoldUncertainEmail", func(t *testing.T) {
		f := newFixture(t, dbtest.SQLiteDSN(t))
		srv := startSMTP(t, "")
		f.addCustomer(1, "Cat Crash", "en-GB")
		f.approve(f.cheaperPlan(1, "pending", "GBP"))
		f.enqueue()
		f.crash(smtpSender(f, srv))
		s := smtpSender(f, srv)
		s.HoldUncertainEmail = true
		f.passRescueTime()
		rep := f.serveUntil(s, ResultDead)
		if rep.Count(ResultDead) != 1 || !strings.Contains(rep.Outcomes[0].Error, "may or may not have been delivered") {
			t.Fatalf("%+v", rep)
		}
		if n := len(srv.received()); n != 1 {
			t.Errorf("server received %d, want 1", n)
		}
		m := f.rows(outboxdb.Filter{Channel: "email"})[0]
		if j := f.job(m); m.Status != outboxdb.Dead || j.State != rivertype.JobStateCancelled {
			t.Errorf("held email: row %s, job %s", m.Status, j.State)
		}
	})
}

func TestRateLimit(t *testing.T) {
	ls, err := ParseRates("email=20/s, sms=60/m")
	if err != nil || len(ls) != 2 {
		t.Fatalf("%v %v", ls, err)
	}
	if _, err := ParseRates("email=fast"); err == nil {
		t.Error("ParseRates accepted email=fast")
	}
	l := ls["email"]
	start := time.Now()
	for i := 0; i < 25; i++ { // a burst of 20, then 5 at 20/s
		for {
			wait := l.Take()
			if wait == 0 {
				break
			}
			if i < 20 || wait > 50*time.Millisecond {
				t.Fatalf("token %d: wait %v", i, wait)
			}
			time.Sleep(wait)
		}
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Errorf("25 tokens at 20/s with a burst of 20 took %v", d)
	}
}

// A channel over its rate limit snoozes its jobs until a token is due:
// no attempt is spent and nothing fails.
func TestRateLimitSnoozes(t *testing.T) {
	f := newFixture(t, dbtest.SQLiteDSN(t))
	f.cheaperPlans(3, "Lim Ted")
	limits, err := ParseRates("email=1/h")
	if err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int32
	ch := channel.Func(func(context.Context, channel.Message) error { sent.Add(1); return nil })
	s := &Sender{DB: f.db, Now: f.clock.Now, Limits: limits, Channels: map[string]channel.Channel{"email": ch}}
	rep := f.pass(s)
	if rep.Count(ResultSent) != 1 || rep.Count(ResultLimited) != 2 || sent.Load() != 1 {
		t.Fatalf("one an hour: %+v", rep)
	}
	for _, m := range f.rows(outboxdb.Filter{Channel: "email", Status: outboxdb.Queued}) {
		j := f.job(m)
		wait := j.ScheduledAt.Sub(f.clock.Now())
		if m.Attempts != 0 || j.Attempt != 0 || len(j.Errors) != 0 || wait < 59*time.Minute || wait > time.Hour {
			t.Errorf("limited %s: %d attempts, job attempt %d, errors %v, due in %v", m.Key, m.Attempts, j.Attempt, j.Errors, wait)
		}
	}
}

// A customer's preferences can change while a proposal waits for review:
// marketing consent withdrawn, or a suppression added, keeps a promotional
// message from going out; a service message still goes.
func TestEnqueueRechecksConsentAndSuppressions(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		f.addCustomer(1, "Ann Lee", "en-GB")
		withdrawn := f.addCustomer(2, "Bob Stone", "en-GB")
		withdrawn.MarketingOptIn = false
		f.custs[2] = withdrawn
		f.addCustomer(3, "Cat Ray", "en-GB")
		a := f.cheaperPlan(1, "approved", "GBP")
		b := f.cheaperPlan(2, "approved", "GBP")
		c := f.cheaperPlan(3, "approved", "GBP")
		fee := f.lateFee(2) // a service message: consent does not matter
		s := store.Suppression{CustomerID: 3, RuleID: "cheaper-plan", Owner: "ana", Reason: "complaint open", Created: noon}
		if err := store.AddSuppression(context.Background(), f.db, &s); err != nil {
			t.Fatal(err)
		}
		f.enqueue()
		rows, err := outboxdb.List(context.Background(), f.db, outboxdb.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		byKey := map[string]outboxdb.Message{}
		for _, m := range rows {
			byKey[m.Key] = m
		}
		if m := byKey[Key(a, "email")]; m.Status != outboxdb.Queued {
			t.Errorf("consenting customer: %s %s", m.Status, m.LastError)
		}
		if m := byKey[Key(b, "email")]; m.Status != outboxdb.Skipped || !strings.Contains(m.LastError, "withdrawn marketing consent") {
			t.Errorf("consent withdrawn: %s %s", m.Status, m.LastError)
		}
		if m := byKey[Key(c, "email")]; m.Status != outboxdb.Skipped || m.LastError != "suppressed: complaint open (by ana)" {
			t.Errorf("suppressed: %s %s", m.Status, m.LastError)
		}
		if m := byKey[Key(fee, "email")]; m.Status != outboxdb.Queued {
			t.Errorf("service message to a customer without marketing consent: %s %s", m.Status, m.LastError)
		}
	})
}

// TestSMTPDownFortyMinutes: the SMTP server is down for forty minutes —
// stopped for twenty (every connection dropped), then up but refusing
// every message with 421 for twenty — while the sender runs, as serve's does (two of them on
// PostgreSQL, one on SQLite) on a clock that runs fast. River retries
// every message; when the server is back each one is delivered exactly
// once, and none is lost or dead.
func TestSMTPDownFortyMinutes(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn)
		srv := startSMTP(t, "")
		const n = 12
		f.cheaperPlans(n, "Outage Jones")
		srv.down()
		senders := 1
		if f.db.IsPostgres() {
			senders = 2
		}
		for i := 0; i < senders; i++ {
			s := smtpSender(f, srv)
			s.Channels = map[string]channel.Channel{"email": s.Channels["email"]}
			c := f.client(s)
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Stop(context.Background()) })
		}
		// tick runs the clock a minute on, every 100ms, for minutes.
		tick := func(minutes int) {
			for i := 0; i < minutes; i++ {
				time.Sleep(100 * time.Millisecond)
				f.clock.Add(time.Minute)
			}
		}
		tick(20)
		srv.refuse.Store(true)
		srv.up()
		tick(20)
		if got := srv.received(); len(got) != 0 {
			t.Fatalf("received %d messages while down", len(got))
		}
		for _, m := range f.rows(outboxdb.Filter{Channel: "email"}) {
			if j := f.job(m); m.Status != outboxdb.Queued || m.Attempts < 2 || len(j.Errors) < 2 || j.State == rivertype.JobStateDiscarded {
				t.Errorf("after forty minutes down, %s is %s after %d attempts, its job %s with %d errors", m.Key, m.Status, m.Attempts, j.State, len(j.Errors))
			}
		}
		srv.refuse.Store(false)
		// River's next retries come within the next hour and a half.
		for i := 0; i < 180 && len(f.rows(outboxdb.Filter{Channel: "email", Status: outboxdb.Sent})) < n; i++ {
			tick(1)
		}
		got := srv.received()
		perKey := map[string]int{}
		for _, m := range got {
			perKey[m.Key]++
		}
		if len(got) != n || len(perKey) != n {
			t.Errorf("received %d messages with %d keys, want %d of each", len(got), len(perKey), n)
		}
		for k, c := range perKey {
			if c != 1 {
				t.Errorf("%s received %d times", k, c)
			}
		}
		for _, m := range f.rows(outboxdb.Filter{Channel: "email"}) {
			if m.Status != outboxdb.Sent {
				t.Errorf("%s is %s: %s", m.Key, m.Status, m.LastError)
			}
		}
	})
}

// TestAdoptWaitingMessages: the messages an installation had queued, or
// left sending, before its sender was River's get a send job each when
// the sender starts, once; sent, dead and skipped ones get none.
func TestAdoptWaitingMessages(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn)
		var old []outboxdb.Message
		for i, st := range []string{outboxdb.Queued, outboxdb.Sending, outboxdb.Sent, outboxdb.Dead, outboxdb.Skipped, outboxdb.Queued} {
			old = append(old, outboxdb.Message{Key: Key(int64(i+1), "email"), ProposalID: int64(i + 1), CustomerID: int64(i + 1), Channel: "email",
				Recipient: fmt.Sprintf("c%d@example.com", i+1), Subject: "Hi", Text: "Hello", Status: st, CreatedAt: noon})
		}
		if _, err := outboxdb.Enqueue(ctx, f.db, old); err != nil {
			t.Fatal(err)
		}
		n, err := f.jobs.Adopt(ctx, f.db)
		if err != nil || n != 3 {
			t.Fatalf("adopt: %d %v, want 3", n, err)
		}
		if n, err := f.jobs.Adopt(ctx, f.db); err != nil || n != 0 {
			t.Fatalf("adopt again: %d %v", n, err)
		}
		for _, m := range f.rows(outboxdb.Filter{}) {
			waits := m.Status == outboxdb.Queued || m.Status == outboxdb.Sending
			if waits != (m.JobID != 0) {
				t.Errorf("%s (%s): job %d", m.Key, m.Status, m.JobID)
			}
		}
		var mu sync.Mutex
		got := map[string]channel.Message{}
		ch := channel.Func(func(_ context.Context, m channel.Message) error {
			mu.Lock()
			got[m.Key] = m
			mu.Unlock()
			return nil
		})
		if rep := f.pass(&Sender{DB: f.db, Now: f.clock.Now, Channels: map[string]channel.Channel{"email": ch}}); rep.Count(ResultSent) != 3 {
			t.Fatalf("pass: %+v", rep)
		}
		// The one left sending may have gone out: it goes again as a
		// resend, with its key.
		if len(got) != 3 || !got[Key(2, "email")].Resend || got[Key(1, "email")].Resend || got[Key(6, "email")].Resend {
			t.Errorf("sent %+v", got)
		}
	})
}

// TestSettleAbandonedMessages: a message whose send job River gave up
// without the sender recording it — cancelled in River's UI, deleted, or
// discarded by a leader that does not know the job's kind — is a dead
// letter, and says whether it may have gone out; a retry from River's UI
// of a dead message's job sends it.
func TestSettleAbandonedMessages(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn)
		ids := f.cheaperPlans(3, "Ab Andon")
		email := outboxdb.Filter{Channel: "email"}
		ms := f.byKey(email)
		cancelled, deleted, sending := ms[Key(ids[0], "email")], ms[Key(ids[1], "email")], ms[Key(ids[2], "email")]
		if _, err := f.jobs.Client.JobCancel(ctx, cancelled.JobID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.jobs.Client.JobDelete(ctx, deleted.JobID); err != nil {
			t.Fatal(err)
		}
		if err := outboxdb.MarkSending(ctx, f.db, sending.ID, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := f.jobs.Client.JobCancel(ctx, sending.JobID); err != nil {
			t.Fatal(err)
		}
		if n, err := f.jobs.Settle(ctx, f.db); err != nil || n != 3 {
			t.Fatalf("settle: %d %v, want 3", n, err)
		}
		ms = f.byKey(email)
		for k, m := range ms {
			maybe := strings.Contains(m.LastError, "may have been delivered")
			if m.Status != outboxdb.Dead || maybe != (k == sending.Key) {
				t.Errorf("%s: %s, %q", k, m.Status, m.LastError)
			}
		}
		// The sms messages' jobs are untouched: they still wait.
		for _, m := range f.rows(outboxdb.Filter{Channel: "sms"}) {
			if m.Status != outboxdb.Queued {
				t.Errorf("%s: %s", m.Key, m.Status)
			}
		}
		// An admin retries the cancelled job in River's UI: the message
		// is queued again and sent.
		if _, err := f.jobs.Client.JobRetry(ctx, cancelled.JobID); err != nil {
			t.Fatal(err)
		}
		var sent atomic.Int32
		ch := channel.Func(func(context.Context, channel.Message) error { sent.Add(1); return nil })
		if rep := f.pass(&Sender{DB: f.db, Now: f.clock.Now, Channels: map[string]channel.Channel{"email": ch}}); rep.Count(ResultSent) != 1 || sent.Load() != 1 {
			t.Fatalf("after River's retry: %+v", rep)
		}
		if m := f.byKey(email)[cancelled.Key]; m.Status != outboxdb.Sent {
			t.Errorf("retried in River's UI: %s", m.Status)
		}
	})
}

// TestSenderCapsAttempts: a sender's MaxAttempts below a job's own makes
// the attempt that reaches it the last: the message is dead and River does
// not retry the job.
func TestSenderCapsAttempts(t *testing.T) {
	f := newFixture(t, dbtest.SQLiteDSN(t))
	f.addCustomer(1, "Cap Ped", "en-GB")
	f.approve(f.lateFee(1))
	f.enqueue()
	ch := channel.Func(func(context.Context, channel.Message) error { return errors.New("connection refused") })
	s := &Sender{DB: f.db, Now: f.clock.Now, MaxAttempts: 2, Channels: map[string]channel.Channel{"email": ch}}
	if rep := f.pass(s); rep.Count(ResultRetry) != 1 {
		t.Fatalf("attempt 1: %+v", rep)
	}
	f.clock.Add(time.Minute)
	if rep := f.pass(s); rep.Count(ResultDead) != 1 {
		t.Fatalf("attempt 2: %+v", rep)
	}
	m := f.rows(outboxdb.Filter{Channel: "email"})[0]
	if j := f.job(m); m.Status != outboxdb.Dead || j.State != rivertype.JobStateCancelled || j.MaxAttempts != DefaultMaxAttempts {
		t.Errorf("row %s, job %s of %d attempts", m.Status, j.State, j.MaxAttempts)
	}
}

// A send job whose message is gone (the demo's fresh start empties the
// outbox) completes without sending: River does not retry it for a day.
func TestJobOfAGoneMessageCompletes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, dbtest.SQLiteDSN(t))
	f.cheaperPlans(1, "Gone Soon")
	m := f.rows(outboxdb.Filter{Channel: "email"})[0]
	if err := store.Reset(ctx, f.db); err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int32
	ch := channel.Func(func(context.Context, channel.Message) error { sent.Add(1); return nil })
	f.pass(&Sender{DB: f.db, Now: f.clock.Now, Channels: map[string]channel.Channel{"email": ch}})
	if j := f.job(m); j.State != rivertype.JobStateCompleted || sent.Load() != 0 {
		t.Errorf("job of a deleted message: %s after %d sends", j.State, sent.Load())
	}
}

// otherArgs is a job kind of another stage, worked on a queue of its own.
type otherArgs struct{}

func (otherArgs) Kind() string { return "other_stage" }

type otherWorker struct {
	river.WorkerDefaults[otherArgs]
}

func (otherWorker) Work(context.Context, *river.Job[otherArgs]) error { return nil }

// A River client that works only another stage's queue, leading alone,
// rescues a send job its sender died in — River's leader discards a stuck
// job of a kind it has no worker for — and a sender then sends the
// message again with its key.
func TestAnotherStagesLeaderRescuesASendJob(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, dbtest.SQLiteDSN(t))
	f.addCustomer(1, "Res Cued", "en-GB")
	f.lateFee(1)
	f.enqueue()
	var got []channel.Message
	ch := channel.Func(func(_ context.Context, m channel.Message) error { got = append(got, m); return nil })
	chans := map[string]channel.Channel{"action": ch}
	f.crash(&Sender{DB: f.db, Now: f.clock.Now, Channels: chans})
	m := f.rows(outboxdb.Filter{Channel: "action"})[0]
	workers := river.NewWorkers()
	river.AddWorker(workers, &otherWorker{})
	other, err := queue.NewClient(f.db, queue.Config{Workers: workers, Queues: map[string]river.QueueConfig{"other_stage": {MaxWorkers: 1}},
		Now: f.clock.Now, FetchPollInterval: 20 * time.Millisecond, RescueStuckJobsAfter: rescueAfter, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(rescueAfter)
	if err := other.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var j *rivertype.JobRow
	for i := 0; i < 100; i++ {
		if j = f.job(m); j.State != rivertype.JobStateRunning {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := other.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if j.State != rivertype.JobStateRetryable && j.State != rivertype.JobStateAvailable {
		t.Fatalf("the send job after the other stage's leader looked: %s", j.State)
	}
	rep := f.serveUntil(&Sender{DB: f.db, Now: f.clock.Now, Channels: chans}, ResultSent)
	if rep.Count(ResultSent) != 1 || !rep.Outcomes[0].Resend || len(got) != 2 || got[0].Key != got[1].Key {
		t.Errorf("after the rescue: %+v, deliveries %d", rep, len(got))
	}
}
