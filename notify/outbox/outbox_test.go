package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/database/dbtest"
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
		ctx := context.Background()
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
		rep, err := s.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Count(ResultSent) != 5 {
			t.Fatalf("report: %+v", rep)
		}
		// A second pass sends nothing more.
		if rep, err := s.RunOnce(ctx); err != nil || len(rep.Outcomes) != 0 {
			t.Fatalf("second pass: %+v %v", rep, err)
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
		}

		// With the server down the messages wait, and go out when it is back.
		addr := srv.addr
		srv.stop()
		for i := int64(6); i <= 8; i++ {
			f.addCustomer(i, fmt.Sprintf("Later%d Jones", i), "en-GB")
			f.approve(f.cheaperPlan(i, "pending", "GBP"))
		}
		f.enqueue()
		rep, err = s.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Count(ResultRetry) != 3 {
			t.Fatalf("server down: %+v", rep)
		}
		for _, m := range f.rows(outboxdb.Filter{Status: outboxdb.Queued, Channel: "email"}) {
			if m.Attempts != 1 || !m.NextAttemptAt.After(noon) || m.LastError == "" {
				t.Errorf("waiting row: %+v", m)
			}
		}
		srv.start(addr)
		// Nothing is due until the backoff has passed.
		if rep, _ := s.RunOnce(ctx); len(rep.Outcomes) != 0 {
			t.Errorf("retried before the backoff: %+v", rep)
		}
		f.clock.Add(time.Minute)
		rep, err = s.RunOnce(ctx)
		if err != nil || rep.Count(ResultSent) != 3 {
			t.Fatalf("server back: %+v %v", rep, err)
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
	var ids []int64
	for i := int64(1); i <= 60; i++ {
		f.addCustomer(i, "Sam Poe", "en-GB")
		ids = append(ids, f.cheaperPlan(i, "pending", "GBP"))
	}
	f.approve(ids...)
	f.enqueue()
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
			s := &Sender{DB: f.db, Now: f.clock.Now, Batch: 5, Channels: map[string]channel.Channel{"email": ch, "sms": ch}}
			if _, err := s.RunOnce(ctx); err != nil {
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
	ctx := context.Background()
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
	rep, err := s.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The billing action is not held by quiet hours; the email is.
	if len(sent) != 1 || sent[0].Channel != "action" {
		t.Fatalf("sent %+v", sent)
	}
	wantAt := time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC) // 08:00 in New York
	if rep.Count(ResultDeferred) != 1 || !rep.Outcomes[0].At.Equal(wantAt) {
		t.Fatalf("report %+v, want the email deferred to %v", rep, wantAt)
	}
	if m := f.rows(outboxdb.Filter{Channel: "email"})[0]; m.Attempts != 0 || m.Status != outboxdb.Queued || !m.NextAttemptAt.Equal(wantAt) {
		t.Errorf("deferred row: %+v", m)
	}
	if !strings.Contains(f.rows(outboxdb.Filter{Channel: "email"})[0].Text, "November 1, 2026") {
		t.Errorf("en-US date: %s", f.rows(outboxdb.Filter{Channel: "email"})[0].Text)
	}
	f.clock.t = wantAt.Add(-time.Minute)
	if rep, _ := s.RunOnce(ctx); len(rep.Outcomes) != 0 {
		t.Errorf("sent early: %+v", rep)
	}
	f.clock.t = wantAt
	if rep, err := s.RunOnce(ctx); err != nil || rep.Count(ResultSent) != 1 {
		t.Fatalf("at 08:00: %+v %v", rep, err)
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
	f.addCustomer(1, "Rae Fail", "en-GB")
	f.approve(f.lateFee(1))
	f.enqueue()
	var fail atomic.Bool
	fail.Store(true)
	var sends int
	ch := channel.Func(func(context.Context, channel.Message) error {
		sends++
		if fail.Load() {
			return errors.New("connection refused")
		}
		return nil
	})
	s := &Sender{DB: f.db, Now: f.clock.Now, MaxAttempts: 4, Channels: map[string]channel.Channel{"email": ch}}
	var delays []time.Duration
	for i := 1; i <= 4; i++ {
		rep, err := s.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Outcomes) != 1 {
			t.Fatalf("pass %d: %+v", i, rep)
		}
		o := rep.Outcomes[0]
		if i < 4 {
			if o.Result != ResultRetry || o.Attempt != i {
				t.Fatalf("pass %d: %+v", i, o)
			}
			d := o.At.Sub(f.clock.Now())
			// base·2^(i-1), the upper half of it random.
			full := time.Minute << (i - 1)
			if d < full/2 || d > full {
				t.Errorf("attempt %d: backoff %v, want between %v and %v", i, d, full/2, full)
			}
			delays = append(delays, d)
			f.clock.t = o.At
		} else if o.Result != ResultDead {
			t.Fatalf("pass %d: %+v, want dead", i, o)
		}
	}
	m := f.rows(outboxdb.Filter{Status: outboxdb.Dead})
	if len(m) != 1 || m[0].Attempts != 4 || m[0].LastError != "connection refused" {
		t.Fatalf("dead rows: %+v", m)
	}
	f.clock.Add(24 * time.Hour)
	if rep, _ := s.RunOnce(ctx); len(rep.Outcomes) != 0 {
		t.Errorf("a dead message was tried again: %+v", rep)
	}
	// An admin retries it.
	if err := outboxdb.Retry(ctx, f.db, m[0].ID, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := outboxdb.Retry(ctx, f.db, m[0].ID, f.clock.Now()); err == nil || !strings.Contains(err.Error(), "not dead") {
		t.Errorf("retry of a queued message: %v", err)
	}
	fail.Store(false)
	if rep, err := s.RunOnce(ctx); err != nil || rep.Count(ResultSent) != 1 {
		t.Fatalf("after retry: %+v %v", rep, err)
	}
	if sends != 5 {
		t.Errorf("%d sends, want 5", sends)
	}
}

func TestPermanentFailureIsDeadAtOnce(t *testing.T) {
	ctx := context.Background()
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
	rep, err := s.RunOnce(ctx)
	if err != nil || rep.Count(ResultDead) != 1 || !strings.Contains(rep.Outcomes[0].Error, "422") {
		t.Fatalf("%+v %v", rep, err)
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
	ctx := context.Background()
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
	rep, err := s.RunOnce(ctx)
	if err != nil || rep.Count(ResultSent) != 2 {
		t.Fatalf("%+v %v", rep, err)
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
		ctx := context.Background()
		f := newFixture(t, dbtest.SQLiteDSN(t))
		f.addCustomer(1, "Cat Crash", "en-GB")
		p := f.lateFee(1)
		f.enqueue()
		secret := []byte("k")
		recv := &dedupReceiver{t: t, secret: secret, processed: map[string][]byte{}}
		hook := httptest.NewServer(recv)
		defer hook.Close()
		chans := map[string]channel.Channel{"action": &channel.Billing{Webhook: channel.Webhook{URL: hook.URL, Secret: secret}}}
		crashing := f.crashing(&Sender{DB: f.db, Now: f.clock.Now, Channels: chans})
		crashing.RunOnce(ctx) // dies after the send: what it reports is lost
		m := f.rows(outboxdb.Filter{Channel: "action"})[0]
		if m.Status != outboxdb.Sending || m.Attempts != 1 {
			t.Fatalf("after the crash: %+v", m)
		}
		s := &Sender{DB: f.db, Now: f.clock.Now, Channels: chans}
		// While the lease runs, a restarted sender leaves the row alone.
		if rep, err := s.RunOnce(ctx); err != nil || len(rep.Outcomes) != 0 {
			t.Fatalf("within the lease: %+v %v", rep, err)
		}
		f.clock.Add(DefaultLease)
		rep, err := s.RunOnce(ctx)
		if err != nil || rep.Count(ResultSent) != 1 || !rep.Outcomes[0].Resend || rep.Outcomes[0].Attempt != 2 {
			t.Fatalf("after the lease: %+v %v", rep, err)
		}
		if recv.requests != 2 || len(recv.processed) != 1 || recv.keys[0] != Key(p, "action") || recv.keys[1] != recv.keys[0] {
			t.Errorf("receiver: %d requests, keys %v, processed %d", recv.requests, recv.keys, len(recv.processed))
		}
	})
	t.Run("email resends with the same Message-ID", func(t *testing.T) {
		ctx := context.Background()
		f := newFixture(t, dbtest.SQLiteDSN(t))
		srv := startSMTP(t, "")
		f.addCustomer(1, "Cat Crash", "en-GB")
		f.addCustomer(2, "Dan Crash", "en-GB")
		f.approve(f.cheaperPlan(1, "pending", "GBP"), f.cheaperPlan(2, "pending", "GBP"))
		f.enqueue()
		crashing := f.crashing(smtpSender(f, srv))
		crashing.RunOnce(ctx) // dies after the send: what it reports is lost
		s := smtpSender(f, srv)
		// Both rows were claimed by the crashed pass: nothing goes out
		// until their leases run out.
		if rep, _ := s.RunOnce(ctx); len(rep.Outcomes) != 0 {
			t.Fatalf("within the lease: %+v", rep)
		}
		f.clock.Add(DefaultLease)
		rep, err := s.RunOnce(ctx)
		if err != nil || rep.Count(ResultSent) != 2 {
			t.Fatalf("after the lease: %+v %v", rep, err)
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
		ctx := context.Background()
		f := newFixture(t, dbtest.SQLiteDSN(t))
		srv := startSMTP(t, "")
		f.addCustomer(1, "Cat Crash", "en-GB")
		f.approve(f.cheaperPlan(1, "pending", "GBP"))
		f.enqueue()
		crashing := f.crashing(smtpSender(f, srv))
		crashing.RunOnce(ctx) // dies after the send: what it reports is lost
		s := smtpSender(f, srv)
		s.HoldUncertainEmail = true
		f.clock.Add(DefaultLease)
		rep, err := s.RunOnce(ctx)
		if err != nil || rep.Count(ResultDead) != 1 || !strings.Contains(rep.Outcomes[0].Error, "may or may not have been delivered") {
			t.Fatalf("%+v %v", rep, err)
		}
		if n := len(srv.received()); n != 1 {
			t.Errorf("server received %d, want 1", n)
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
		if err := l.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Errorf("25 tokens at 20/s with a burst of 20 took %v", d)
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
