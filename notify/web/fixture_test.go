package web_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/outcomes"
	"github.com/goodturn/goodturn/engine/queue"
	"github.com/goodturn/goodturn/engine/sample"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/outbox"
	"github.com/goodturn/goodturn/notify/review"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
	"github.com/goodturn/goodturn/notify/web"
	"github.com/goodturn/goodturn/rules"
)

// clock is when the sample operator's rules ran.
var clock = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)

// scriptName is a customer name that must render as text.
const scriptName = `<script>alert(1)</script>`

// password is every test user's password.
const password = "password-1"

// fixture is the demo's data behind a review page: a sample operator of
// 300 customers, one run of the shipped rulesets, a reviewer (ana), a
// second reviewer (bea), a viewer (vic) and an admin (bob); the customer
// of the most valuable cheaper-plan proposal is named scriptName.
type fixture struct {
	db     *database.DB
	svc    *review.Service
	srv    *web.Server
	batch  string // RUN/RULE of the cheaper-plan batch
	script int64  // the proposal of the customer named scriptName
	jobs   *outbox.Jobs
}

func newFixture(t testing.TB, dsn string) *fixture {
	t.Helper()
	return newFixtureAt(t, dsn, clock, 0)
}

// newFixtureAt is newFixture with the rules run at a time, every rule
// keeping control basis points of its customers as its control group.
func newFixtureAt(t testing.TB, dsn string, clock time.Time, control int) *fixture {
	t.Helper()
	ctx := context.Background()
	db := dbtest.MustOpenMigrated(t, dsn)
	if err := billing.CreateSchema(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := sample.Generate(ctx, db, sample.Options{Customers: 300, Seed: 1, Now: clock}); err != nil {
		t.Fatal(err)
	}
	sets, err := rules.LoadAll("../../rulesets")
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range sets {
		for _, r := range rs.Rules {
			r.Control = control
		}
	}
	reader := &billing.Reader{DB: db}
	eng := &engine.Engine{DB: db, Billing: reader, Now: func() time.Time { return clock }, Logger: slog.New(slog.DiscardHandler)}
	results, err := eng.RunAll(ctx, sets, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db}
	for _, res := range results {
		if res.Ruleset == "mobile" {
			f.batch = store.BatchKey(res.ID, "cheaper-plan")
		}
	}
	run, rule, _ := store.ParseBatchKey(f.batch)
	ps, _, err := reviewdb.BatchProposals(ctx, db, run, rule, reviewdb.ProposalPage{Limit: 1})
	if err != nil || len(ps) == 0 {
		t.Fatalf("no cheaper-plan proposal: %v", err)
	}
	f.script = ps[0].ID
	if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE customers SET name = ? WHERE id = ?`), scriptName, ps[0].CustomerID); err != nil {
		t.Fatal(err)
	}
	// The review runs on the real clock (session cookies must not be born
	// expired) and nothing expires: the data is of a fixed day.
	f.svc = review.New(db, review.Config{ExpireAfter: -1})
	for _, u := range [][2]string{{"ana", reviewdb.RoleReviewer}, {"bea", reviewdb.RoleReviewer}, {"vic", reviewdb.RoleViewer}, {"bob", reviewdb.RoleAdmin}} {
		if _, err := f.svc.AddUser(ctx, "test", u[0], u[1], password); err != nil {
			t.Fatal(err)
		}
	}
	inserter, err := queue.NewClient(db, queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	f.jobs = &outbox.Jobs{Client: inserter}
	f.srv, err = web.New(web.Config{DB: db, Billing: reader, Review: f.svc, Logger: slog.New(slog.DiscardHandler),
		Rulesets: func() ([]*rules.Ruleset, error) { return sets, nil },
		Retry:    func(ctx context.Context, id int64) error { return f.jobs.Retry(ctx, db, id) }})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// request sends a request to the page with the session cookie, if any,
// and extra headers, and returns the recorded response.
func (f *fixture) request(t testing.TB, method, path string, form url.Values, cookie *http.Cookie, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, "http://review.test"+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec
}

// login logs a user in through the form and returns the session cookie.
func (f *fixture) login(t testing.TB, name string) *http.Cookie {
	t.Helper()
	rec := f.request(t, http.MethodPost, "/login", url.Values{"name": {name}, "password": {password}, "next": {"/"}}, nil)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("login %s: %d\n%s", name, rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == web.SessionCookie {
			return c
		}
	}
	t.Fatalf("login %s: no session cookie", name)
	return nil
}

func (f *fixture) pending(t testing.TB) int64 {
	t.Helper()
	run, rule, _ := store.ParseBatchKey(f.batch)
	b, err := reviewdb.GetBatch(context.Background(), f.db, run, rule)
	if err != nil {
		t.Fatal(err)
	}
	return b.Pending
}

// otherBatch returns a batch other than the cheaper-plan one.
func (f *fixture) otherBatch(t testing.TB) reviewdb.Batch {
	t.Helper()
	bs, err := reviewdb.ListBatches(context.Background(), f.db, reviewdb.BatchFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Key() != f.batch {
			return b
		}
	}
	t.Fatal("no second batch")
	return reviewdb.Batch{}
}

// newOutcomesFixture is a fixture whose rules ran 120 days ago with a
// quarter of each rule's customers in its control group, every batch
// approved, and what the customers did since written with the demo's
// planted effect: an outcomes page with figures and charts.
func newOutcomesFixture(t testing.TB, dsn string) *fixture {
	t.Helper()
	ctx := context.Background()
	today := time.Now().UTC()
	f := newFixtureAt(t, dsn, today.AddDate(0, 0, -120), 2500)
	bs, err := reviewdb.ListBatches(ctx, f.db, reviewdb.BatchFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if _, err := reviewdb.DecidePending(ctx, f.db, reviewdb.Selection{RunID: b.RunID, RuleID: b.RuleID}, store.ProposalApproved, "ana", today); err != nil {
			t.Fatal(err)
		}
	}
	units, err := store.OutcomeUnits(ctx, f.db, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sample.GenerateOutcomes(ctx, f.db, outcomes.Contacts(units), sample.DemoEffect, 1, today); err != nil {
		t.Fatal(err)
	}
	return f
}
