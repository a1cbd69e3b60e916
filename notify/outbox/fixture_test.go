package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/queue"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/channel"
	"github.com/goodturn/goodturn/notify/outbox/outboxdb"
	"github.com/goodturn/goodturn/rules"
)

// fixture is a migrated database with approved proposals of the shipped
// mobile rules, the customers they are for, and an Enqueuer.
type fixture struct {
	t     *testing.T
	dsn   string
	db    *database.DB
	run   int64
	custs fakeCustomers
	enq   *Enqueuer
	jobs  *Jobs
	clock *testClock
	// rescue is how long a send job may run before the fixture's River
	// clients take it for stuck: neverRescue until a test lets the time
	// pass (passRescueTime).
	rescue time.Duration
}

type fakeCustomers map[int64]rules.Customer

func (f fakeCustomers) Customer(_ context.Context, id int64) (rules.Customer, error) {
	c, ok := f[id]
	if !ok {
		return c, fmt.Errorf("read customer %d: no such customer", id)
	}
	return c, nil
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// noon is inside the default quiet hours in London.
var noon = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func newFixture(t *testing.T, dsn string) *fixture {
	t.Helper()
	ctx := context.Background()
	db := dbtest.MustOpenMigrated(t, dsn)
	rs, err := rules.Load("../../rulesets/mobile")
	if err != nil {
		t.Fatal(err)
	}
	run := &store.Run{Ruleset: "mobile", AsOf: noon, StartedAt: noon}
	if err := store.CreateRun(ctx, db, run); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, dsn: dsn, db: db, run: run.ID, custs: fakeCustomers{}, clock: &testClock{t: noon}, rescue: neverRescue}
	inserter, err := queue.NewClient(db, queue.Config{Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.jobs = &Jobs{Client: inserter}
	f.enq = &Enqueuer{DB: db, Customers: f.custs, Rulesets: []*rules.Ruleset{rs}, Jobs: f.jobs, Now: f.clock.Now}
	return f
}

// rescueAfter is how long a send job may run before River takes it for
// stuck, in the tests' River clients once a test lets that time pass.
const rescueAfter = 10 * time.Minute

// neverRescue keeps the tests' River clients from rescuing a job before a
// test says the time has come. River's rescuer measures how long a job has
// run by the real clock, not the fixture's, which is days behind it: with
// rescueAfter from the start, a leader could take a job it is running
// for stuck and retry it.
const neverRescue = 100 * 365 * 24 * time.Hour

// passRescueTime moves the clock on by rescueAfter and lets the fixture's
// clients rescue a job that has run that long: a dead sender's.
func (f *fixture) passRescueTime() {
	f.clock.Add(rescueAfter)
	f.rescue = rescueAfter
}

// client returns a River client that works s's send queues, one job of
// each at a time, on s's database and the fixture's clock.
func (f *fixture) client(s *Sender) *queue.Client {
	f.t.Helper()
	workers := river.NewWorkers()
	AddWorker(workers, s)
	c, err := queue.NewClient(s.DB, queue.Config{Workers: workers, Queues: s.Queues(1), Now: f.clock.Now,
		FetchPollInterval: 20 * time.Millisecond, RescueStuckJobsAfter: f.rescue, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// pass runs one pass of s (goodturn send) with a River client of its own.
func (f *fixture) pass(s *Sender) Report {
	f.t.Helper()
	rep, err := s.RunOnce(context.Background(), f.client(s))
	if err != nil {
		f.t.Fatal(err)
	}
	return rep
}

// serveUntil works s's send queues with a River client that runs, as
// serve's does, the clock a minute on every 100ms, until a job reports an
// outcome with the result, and returns the outcomes reported. River's
// leader rescues stuck jobs and makes due ones available on timers of its
// own, which a short pass may start too late to see.
func (f *fixture) serveUntil(s *Sender, result string) Report {
	f.t.Helper()
	var mu sync.Mutex
	var rep Report
	s.Observe = func(o Outcome) {
		mu.Lock()
		rep.Outcomes = append(rep.Outcomes, o)
		mu.Unlock()
	}
	defer func() { s.Observe = nil }()
	c := f.client(s)
	if err := c.Start(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		done := rep.Count(result) > 0
		mu.Unlock()
		if done {
			break
		}
		f.clock.Add(time.Minute)
	}
	if err := c.Stop(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if rep.Count(result) == 0 {
		f.t.Fatalf("no job reported %s: %+v", result, rep)
	}
	return Report{Outcomes: append([]Outcome(nil), rep.Outcomes...)}
}

// job returns a message's send job.
func (f *fixture) job(m outboxdb.Message) *rivertype.JobRow {
	f.t.Helper()
	if m.JobID == 0 {
		f.t.Fatalf("message %s has no send job", m.Key)
	}
	j, err := f.jobs.Client.JobGet(context.Background(), m.JobID)
	if err != nil {
		f.t.Fatal(err)
	}
	return j
}

// addCustomer records a customer in London, in en-GB unless locale says.
func (f *fixture) addCustomer(id int64, name, locale string) rules.Customer {
	c := rules.Customer{ID: id, Name: name, Email: fmt.Sprintf("c%d@example.com", id), Phone: fmt.Sprintf("+4477009%05d", id),
		Locale: locale, Timezone: "Europe/London", MarketingOptIn: true}
	f.custs[id] = c
	return c
}

// propose stores a proposal of a rule for a customer with the given status
// and returns its id.
func (f *fixture) propose(rule string, customer int64, status, currency, offer, evidence string, value int64) int64 {
	f.t.Helper()
	ctx := context.Background()
	_, err := store.InsertProposals(ctx, f.db, []store.Proposal{{RunID: f.run, Ruleset: "mobile", RuleID: rule, RuleVersion: "v1",
		CustomerID: customer, Kind: "k", Value: value, Currency: currency, Offer: []byte(offer), Evidence: []byte(evidence),
		Status: status, AsOf: noon, CreatedAt: noon}})
	if err != nil {
		f.t.Fatal(err)
	}
	ps, err := store.ListProposals(ctx, f.db, store.ProposalFilter{RuleID: rule, CustomerID: customer})
	if err != nil || len(ps) != 1 {
		f.t.Fatalf("proposal of %s for %d: %v %v", rule, customer, ps, err)
	}
	return ps[0].ID
}

// cheaperPlan proposes the cheaper plan (email and sms) to a customer.
func (f *fixture) cheaperPlan(customer int64, status, currency string) int64 {
	return f.propose("cheaper-plan", customer, status, currency,
		`{"plan_id":"sim-9","plan_name":"SIM only 20GB saver","new_price":750,"current_price":1000,"current_plan_name":"SIM only 80GB","price_saving":250,"min_monthly_saving":250,`+
			`"months":[{"month":"2026-10-01","current_cost":1000,"new_cost":750,"saving":250,"current_overage":0,"new_overage":0},`+
			`{"month":"2026-09-01","current_cost":1000,"new_cost":750,"saving":250,"current_overage":0,"new_overage":0},`+
			`{"month":"2026-08-01","current_cost":1000,"new_cost":750,"saving":250,"current_overage":0,"new_overage":0}],"current_total":3000,"new_total":2250}`,
		`{"values":[]}`, 3000)
}

// lateFee proposes the late fee waiver (email and a waive_charge action).
func (f *fixture) lateFee(customer int64) int64 {
	return f.propose("late-fee-waiver", customer, "approved", "GBP",
		`{"action":"waive_charge","charge_id":91,"amount":1000,"charged_on":"2026-11-01"}`,
		`{"values":[{"name":"tenure_years","value":6}]}`, 1000)
}

// approve sets proposals approved with SQL, as the review page will.
func (f *fixture) approve(ids ...int64) {
	f.t.Helper()
	for _, id := range ids {
		if _, err := f.db.ExecContext(context.Background(), f.db.Rebind(`UPDATE proposals SET status = 'approved' WHERE id = ?`), id); err != nil {
			f.t.Fatal(err)
		}
	}
}

// cheaperPlans proposes the cheaper plan to n new customers named name,
// approves and enqueues them, and returns the proposals.
func (f *fixture) cheaperPlans(n int64, name string) []int64 {
	f.t.Helper()
	var ids []int64
	for i := int64(1); i <= n; i++ {
		f.addCustomer(i, name, "en-GB")
		ids = append(ids, f.cheaperPlan(i, "pending", "GBP"))
	}
	f.approve(ids...)
	f.enqueue()
	return ids
}

// byKey returns the outbox rows the filter selects by idempotency key.
func (f *fixture) byKey(filter outboxdb.Filter) map[string]outboxdb.Message {
	f.t.Helper()
	out := map[string]outboxdb.Message{}
	for _, m := range f.rows(filter) {
		out[m.Key] = m
	}
	return out
}

func (f *fixture) enqueue() EnqueueResult {
	f.t.Helper()
	res, err := f.enq.Enqueue(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	for _, e := range res.Failed {
		f.t.Error(e)
	}
	return res
}

func (f *fixture) rows(filter outboxdb.Filter) []outboxdb.Message {
	f.t.Helper()
	ms, err := outboxdb.List(context.Background(), f.db, filter)
	if err != nil {
		f.t.Fatal(err)
	}
	return ms
}

// received is one message the test SMTP server accepted.
type received struct {
	From, To  string
	MessageID string
	Key       string
	Subject   string
	Text      string
	HTML      string
}

// smtpServer is a real SMTP server (emersion/go-smtp) in the test process.
type smtpServer struct {
	t    *testing.T
	addr string
	srv  *smtp.Server
	mu   sync.Mutex
	msgs []received
	// refuse makes the server answer every message with 421: up, but not
	// taking mail for now.
	refuse atomic.Bool
	// ln is the server's listener; hold keeps the port of a server that
	// is down (see down).
	ln, hold net.Listener
}

func startSMTP(t *testing.T, addr string) *smtpServer {
	t.Helper()
	s := &smtpServer{t: t}
	s.start(addr)
	t.Cleanup(s.stop)
	return s
}

func (s *smtpServer) start(addr string) {
	s.t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var l net.Listener
	var err error
	for i := 0; i < 50; i++ { // the old socket of a restart may linger
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatal(err)
	}
	s.addr = l.Addr().String()
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{s: s}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.EnableSMTPUTF8 = true
	srv.ReadTimeout, srv.WriteTimeout = 5*time.Second, 5*time.Second
	s.srv, s.ln = srv, l
	go srv.Serve(l)
}

// down stops the server as a crash would — every connection is dropped
// before the greeting — but keeps its port, so that nothing else takes it
// before up starts the server there again.
func (s *smtpServer) down() {
	s.t.Helper()
	addr := s.addr
	s.stop()
	var err error
	for i := 0; i < 50; i++ {
		if s.hold, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatal(err)
	}
	go func(l net.Listener) {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}(s.hold)
}

// up starts a server that is down again, on its port.
func (s *smtpServer) up() {
	s.t.Helper()
	s.hold.Close()
	s.start(s.addr)
}

func (s *smtpServer) stop() {
	if s.srv != nil {
		s.srv.Close()
		// Close misses a listener its Serve has not taken up yet.
		s.ln.Close()
		s.srv = nil
	}
}

func (s *smtpServer) hostPort() (string, int) {
	h, p, _ := net.SplitHostPort(s.addr)
	var port int
	fmt.Sscan(p, &port)
	return h, port
}

func (s *smtpServer) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

type smtpSession struct {
	s        *smtpServer
	from, to string
}

func (x *smtpSession) Reset()        {}
func (x *smtpSession) Logout() error { return nil }
func (x *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.refuse.Load() {
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service not available, try again later"}
	}
	x.from = from
	return nil
}
func (x *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = to
	return nil
}

func (x *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := parseMail(raw)
	if err != nil {
		x.s.t.Errorf("smtp server: unreadable message: %v\n%s", err, raw)
		return err
	}
	m.From, m.To = x.from, x.to
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, m)
	x.s.mu.Unlock()
	return nil
}

// parseMail reads a multipart/alternative message's headers and parts.
func parseMail(raw []byte) (received, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return received{}, err
	}
	var r received
	dec := new(mime.WordDecoder)
	r.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return r, err
	}
	r.MessageID = msg.Header.Get("Message-ID")
	r.Key = msg.Header.Get("X-Goodturn-Idempotency-Key")
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return r, err
	}
	if mt != "multipart/alternative" {
		return r, fmt.Errorf("content type %s, want multipart/alternative", mt)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return r, err
		}
		body, err := io.ReadAll(p)
		if err != nil {
			return r, err
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			r.Text = strings.ReplaceAll(string(body), "\r\n", "\n")
		case "text/html":
			r.HTML = strings.ReplaceAll(string(body), "\r\n", "\n")
		}
	}
	return r, nil
}

// crashAfterSend is a channel of a sender that dies right after a message
// was accepted, before it is recorded — what a kill -9 there does: its
// database connection is closed under it as soon as the channel has sent.
type crashAfterSend struct {
	channel.Channel
	db      *database.DB
	crashed chan struct{}
	once    *sync.Once
}

func (c crashAfterSend) Send(ctx context.Context, m channel.Message) error {
	err := c.Channel.Send(ctx, m)
	if err == nil {
		c.once.Do(func() {
			c.db.Close()
			close(c.crashed)
		})
	}
	return err
}

// crash runs a copy of s, River client and all on a connection of their
// own, that dies right after its first send is accepted: what it would
// report is lost, and it never stops in order — its River client is
// abandoned where it stands, its jobs left running.
func (f *fixture) crash(s *Sender) {
	f.t.Helper()
	db, err := database.Open(context.Background(), f.dsn)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { db.Close() })
	crashed, once := make(chan struct{}), &sync.Once{}
	c := &Sender{DB: db, Now: s.Now, Quiet: s.Quiet, Limits: s.Limits, HoldUncertainEmail: s.HoldUncertainEmail, Logger: s.Logger,
		Channels: map[string]channel.Channel{}}
	for name, ch := range s.Channels {
		c.Channels[name] = crashAfterSend{Channel: ch, db: db, crashed: crashed, once: once}
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.t.Cleanup(cancel)
	if err := f.client(c).Start(ctx); err != nil {
		f.t.Fatal(err)
	}
	select {
	case <-crashed:
	case <-time.After(30 * time.Second):
		f.t.Fatal("the crashing sender sent nothing")
	}
}
