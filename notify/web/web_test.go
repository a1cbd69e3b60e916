package web_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/outbox"
	"github.com/goodturn/goodturn/notify/outbox/outboxdb"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
	"github.com/goodturn/goodturn/notify/web"
)

func TestLoginRequired(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		for _, path := range []string{"/", "/batches/" + f.batch, fmt.Sprintf("/proposals/%d", f.script), "/audit", "/dead", "/nowhere"} {
			rec := f.request(t, http.MethodGet, path, nil, nil)
			if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/login?next=") {
				t.Errorf("GET %s without a session: %d %s", path, rec.Code, rec.Header().Get("Location"))
			}
		}
		for _, path := range []string{"/decide", "/dead/1/retry", "/"} {
			rec := f.request(t, http.MethodPost, path, url.Values{"action": {"approve"}, "target": {f.batch}}, nil)
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("POST %s without a session: %d", path, rec.Code)
			}
		}
		// A made-up or ended session is no session.
		bogus := &http.Cookie{Name: web.SessionCookie, Value: "not-a-token"}
		if rec := f.request(t, http.MethodGet, "/", nil, bogus); rec.Code != http.StatusSeeOther {
			t.Errorf("bogus session: %d", rec.Code)
		}
		if rec := f.request(t, http.MethodGet, "/static/style.css", nil, nil); rec.Code != http.StatusOK {
			t.Errorf("style sheet: %d", rec.Code)
		}
		if rec := f.request(t, http.MethodGet, "/login", nil, nil); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `name="password"`) {
			t.Errorf("login page: %d", rec.Code)
		}

		rec := f.request(t, http.MethodPost, "/login", url.Values{"name": {"ana"}, "password": {"wrong-password"}}, nil)
		if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "wrong name or password") || len(rec.Result().Cookies()) != 0 {
			t.Errorf("wrong password: %d %v", rec.Code, rec.Result().Cookies())
		}
		rec = f.request(t, http.MethodPost, "/login", url.Values{"name": {"ana"}, "password": {password}, "next": {"//evil.example/"}}, nil)
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
			t.Errorf("login with a foreign next: %d %q", rec.Code, rec.Header().Get("Location"))
		}
		c := rec.Result().Cookies()[0]
		if c.Name != web.SessionCookie || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.Path != "/" {
			t.Errorf("session cookie over http: %+v", c)
		}
		if rec := f.request(t, http.MethodGet, "/", nil, c); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "A cheaper plan that fits") {
			t.Errorf("batches after login: %d", rec.Code)
		}

		// Over TLS the cookie is Secure.
		req := httptestRequest(http.MethodPost, "/login", url.Values{"name": {"ana"}, "password": {password}})
		req.TLS = &tls.ConnectionState{}
		rr := serve(f, req)
		if cs := rr.Result().Cookies(); rr.Code != http.StatusSeeOther || len(cs) != 1 || !cs[0].Secure || !cs[0].HttpOnly {
			t.Errorf("session cookie over TLS: %d %+v", rr.Code, cs)
		}

		// Logging out ends the session.
		if rec := f.request(t, http.MethodPost, "/logout", nil, c); rec.Code != http.StatusSeeOther || rec.Result().Cookies()[0].MaxAge >= 0 {
			t.Errorf("logout: %d", rec.Code)
		}
		if rec := f.request(t, http.MethodGet, "/", nil, c); rec.Code != http.StatusSeeOther {
			t.Errorf("after logout: %d", rec.Code)
		}
		es, err := store.ListAudit(context.Background(), f.db, store.AuditFilter{Actor: "ana"})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range es {
			actions = append(actions, e.Action)
		}
		if got := strings.Join(actions, " "); got != "logout login login login_failed" {
			t.Errorf("audit of ana: %s", got)
		}
	})
}

func TestViewerCannotApprove(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		vic := f.login(t, "vic")
		before := f.pending(t)
		for _, target := range []string{f.batch, fmt.Sprint(f.script)} {
			for _, action := range []string{"approve", "reject"} {
				rec := f.request(t, http.MethodPost, "/decide", url.Values{"action": {action}, "target": {target}, "back": {"/"}}, vic)
				if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "vic is a viewer") {
					t.Errorf("viewer %s %s: %d\n%s", action, target, rec.Code, rec.Body)
				}
			}
		}
		if after := f.pending(t); after != before {
			t.Errorf("pending changed from %d to %d", before, after)
		}
		// A viewer sees the pages, without the buttons.
		for _, path := range []string{"/", "/batches/" + f.batch, fmt.Sprintf("/proposals/%d", f.script)} {
			rec := f.request(t, http.MethodGet, path, nil, vic)
			if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `value="approve"`) {
				t.Errorf("viewer GET %s: %d, approve button shown: %v", path, rec.Code, strings.Contains(rec.Body.String(), `value="approve"`))
			}
		}
		// Only an admin retries a dead message.
		ana := f.login(t, "ana")
		if rec := f.request(t, http.MethodPost, "/dead/1/retry", nil, ana); rec.Code != http.StatusForbidden {
			t.Errorf("reviewer retry: %d", rec.Code)
		}
	})
}

func TestCrossOriginApproveRefused(t *testing.T) {
	f := newFixture(t, dbtest.SQLiteDSN(t))
	ana := f.login(t, "ana")
	before := f.pending(t)
	form := url.Values{"action": {"approve"}, "target": {f.batch}, "back": {"/"}}
	for _, h := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Origin", "https://evil.example"},
		{"Origin", "http://review.test.evil.example"},
	} {
		rec := f.request(t, http.MethodPost, "/decide", form, ana, h...)
		if rec.Code != http.StatusForbidden {
			t.Errorf("POST /decide with %s: %s: %d", h[0], h[1], rec.Code)
		}
	}
	// A cross-origin login is refused too (login CSRF).
	if rec := f.request(t, http.MethodPost, "/login", url.Values{"name": {"ana"}, "password": {password}}, nil, "Sec-Fetch-Site", "cross-site"); rec.Code != http.StatusForbidden {
		t.Errorf("cross-site login: %d", rec.Code)
	}
	if after := f.pending(t); after != before {
		t.Fatalf("a cross-origin approve changed pending from %d to %d", before, after)
	}
	es, _ := store.ListAudit(context.Background(), f.db, store.AuditFilter{Action: "approve"})
	if len(es) != 0 {
		t.Errorf("audit has approvals: %+v", es)
	}
	// The same form from the page itself goes through.
	rec := f.request(t, http.MethodPost, "/decide", form, ana, "Sec-Fetch-Site", "same-origin", "Origin", "http://review.test")
	if rec.Code != http.StatusSeeOther || f.pending(t) != 0 {
		t.Errorf("same-origin approve: %d, %d pending", rec.Code, f.pending(t))
	}
}

func TestCustomerNameIsEscaped(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		ana := f.login(t, "ana")
		for _, path := range []string{"/", "/batches/" + f.batch, fmt.Sprintf("/proposals/%d", f.script)} {
			rec := f.request(t, http.MethodGet, path, nil, ana)
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s: %d\n%s", path, rec.Code, body)
			}
			if strings.Contains(body, scriptName) || strings.Contains(body, "<script>alert") {
				t.Errorf("GET %s writes the customer's name unescaped", path)
			}
			if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
				t.Errorf("GET %s does not show the customer's name", path)
			}
			if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("GET %s: CSP %q", path, csp)
			}
		}
	})
}

func TestApproveBatchThroughForm(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		ctx := context.Background()
		ana, bea := f.login(t, "ana"), f.login(t, "bea")
		pending := f.pending(t)
		if pending < 3 {
			t.Fatalf("only %d pending", pending)
		}
		// Take one proposal out first: reject it from the batch page.
		back := "/batches/" + f.batch
		rec := f.request(t, http.MethodPost, "/decide", url.Values{"action": {"reject"}, "target": {fmt.Sprint(f.script)},
			"comment": {"already on the cheapest plan we would offer"}, "back": {back}}, ana)
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != back {
			t.Fatalf("reject one: %d %s\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
		}
		// The next page shows what happened, once.
		flash := rec.Result().Cookies()[0]
		page := f.request(t, http.MethodGet, back, nil, ana, "Cookie", ana.Name+"="+ana.Value+"; "+flash.Name+"="+flash.Value)
		if !strings.Contains(page.Body.String(), fmt.Sprintf("Rejected proposal %d.", f.script)) {
			t.Errorf("no flash after rejecting:\n%s", page.Body)
		}

		// A batch larger than the threshold takes two reviewers.
		f.svc.SecondReviewerAbove = 2
		if body := f.request(t, http.MethodGet, "/batches/"+f.batch, nil, ana).Body.String(); !strings.Contains(body, "More than 2 proposals: approving takes two different reviewers.") {
			t.Errorf("batch page does not say it takes two reviewers")
		}
		form := url.Values{"action": {"approve"}, "target": {f.batch}, "comment": {"spot-checked 5"}, "back": {"/"}}
		rec = f.request(t, http.MethodPost, "/decide", form, ana)
		if rec.Code != http.StatusSeeOther || f.pending(t) != pending-1 {
			t.Fatalf("first approval: %d, %d pending", rec.Code, f.pending(t))
		}
		body := f.request(t, http.MethodGet, "/", nil, ana).Body.String()
		if !strings.Contains(body, "Approved by ana at") || !strings.Contains(body, "awaiting a second reviewer") {
			t.Errorf("batches page does not say the batch awaits a second reviewer")
		}
		rec = f.request(t, http.MethodPost, "/decide", form, ana)
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("same reviewer again: %d", rec.Code)
		}
		flash = rec.Result().Cookies()[0]
		page = f.request(t, http.MethodGet, "/", nil, nil, "Cookie", ana.Name+"="+ana.Value+"; "+flash.Name+"="+flash.Value)
		if !strings.Contains(page.Body.String(), "needs a second, different reviewer") {
			t.Errorf("same reviewer twice is not reported")
		}
		rec = f.request(t, http.MethodPost, "/decide", url.Values{"action": {"approve"}, "target": {f.batch}, "back": {"/"}}, bea)
		if rec.Code != http.StatusSeeOther || f.pending(t) != 0 {
			t.Fatalf("second approval: %d, %d pending", rec.Code, f.pending(t))
		}
		run, rule, _ := store.ParseBatchKey(f.batch)
		b, err := reviewdb.GetBatch(ctx, f.db, run, rule)
		if err != nil || b.Approved != pending-1 || b.Rejected != 1 {
			t.Fatalf("batch after approval: %+v %v", b, err)
		}
		es, err := store.ListAudit(ctx, f.db, store.AuditFilter{Subject: "batch " + f.batch})
		if err != nil || len(es) != 2 || es[0].Actor != "bea" || es[1].Actor != "ana" || es[1].Comment != "spot-checked 5" {
			t.Fatalf("audit of the batch: %+v %v", es, err)
		}
		// The audit view shows every decision.
		body = f.request(t, http.MethodGet, "/audit", nil, ana).Body.String()
		for _, want := range []string{"spot-checked 5", "already on the cheapest plan we would offer", "batch " + f.batch, fmt.Sprintf("proposal %d", f.script), "bea"} {
			if !strings.Contains(body, want) {
				t.Errorf("audit view lacks %q", want)
			}
		}
		// Nothing is pending any more: approving again is reported.
		rec = f.request(t, http.MethodPost, "/decide", form, bea)
		if rec.Code != http.StatusSeeOther || !strings.Contains(mustFlash(t, rec), "not pending") {
			t.Errorf("approve again: %d", rec.Code)
		}
	})
}

func TestBatchAndProposalPages(t *testing.T) {
	f := newFixture(t, dbtest.SQLiteDSN(t))
	ana := f.login(t, "ana")
	body := f.request(t, http.MethodGet, "/", nil, ana).Body.String()
	for _, want := range []string{"A cheaper plan that fits", "customers pending", "median a year", `<svg class="chart"`, "Subject", "You could pay"} {
		if !strings.Contains(body, want) {
			t.Errorf("batches page lacks %q", want)
		}
	}
	rec := f.request(t, http.MethodGet, "/batches/"+f.batch+"?min=1000000", nil, ana)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "No proposals match.") {
		t.Errorf("value filter: %d", rec.Code)
	}
	rec = f.request(t, http.MethodGet, "/batches/"+f.batch+"?segment=nobody", nil, ana)
	if !strings.Contains(rec.Body.String(), "No proposals match.") {
		t.Errorf("segment filter with no customers")
	}
	rec = f.request(t, http.MethodGet, "/batches/"+f.batch+"?segment=consumer&status=all", nil, ana)
	if !strings.Contains(rec.Body.String(), "consumer") || strings.Contains(rec.Body.String(), "<td>small_business</td>") {
		t.Errorf("segment filter keeps other segments")
	}
	rec = f.request(t, http.MethodGet, fmt.Sprintf("/proposals/%d", f.script), nil, ana)
	body = rec.Body.String()
	for _, want := range []string{"Why this customer qualified", "monthly_saving", "min monthly saving", "✓", "Facts read", "plan.monthly_price", "You could pay",
		`class="allowance current"`, `class="allowance proposed"`, "Data each month"} {
		if !strings.Contains(body, want) {
			t.Errorf("proposal page lacks %q", want)
		}
	}
	if rec := f.request(t, http.MethodGet, "/proposals/99999", nil, ana); rec.Code != http.StatusNotFound {
		t.Errorf("unknown proposal: %d", rec.Code)
	}
	if rec := f.request(t, http.MethodGet, "/batches/1/no-such-rule", nil, ana); rec.Code != http.StatusNotFound {
		t.Errorf("unknown batch: %d", rec.Code)
	}
}

func TestDeadLetterRetry(t *testing.T) {
	f := newFixture(t, dbtest.SQLiteDSN(t))
	ctx := context.Background()
	now := time.Now()
	if _, err := outboxdb.Enqueue(ctx, f.db, []outboxdb.Message{{Key: "proposal-1-email", ProposalID: f.script, CustomerID: 1,
		Channel: "email", Recipient: "x@example.com", RecipientName: scriptName, Status: outboxdb.Dead, LastError: "550 mailbox unavailable",
		CreatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	ms, _ := outboxdb.List(ctx, f.db, outboxdb.Filter{Status: outboxdb.Dead})
	id := ms[0].ID
	ana, bob := f.login(t, "ana"), f.login(t, "bob")
	body := f.request(t, http.MethodGet, "/dead", nil, ana).Body.String()
	if !strings.Contains(body, "550 mailbox unavailable") || strings.Contains(body, ">Retry<") || strings.Contains(body, scriptName) {
		t.Errorf("dead letters for a reviewer:\n%s", body)
	}
	path := fmt.Sprintf("/dead/%d/retry", id)
	if rec := f.request(t, http.MethodPost, path, nil, ana); rec.Code != http.StatusForbidden {
		t.Errorf("reviewer retry: %d", rec.Code)
	}
	if !strings.Contains(f.request(t, http.MethodGet, "/dead", nil, bob).Body.String(), ">Retry<") {
		t.Errorf("no retry button for an admin")
	}
	if rec := f.request(t, http.MethodPost, path, nil, bob); rec.Code != http.StatusSeeOther || !strings.Contains(mustFlash(t, rec), "queued again") {
		t.Errorf("admin retry: %d", rec.Code)
	}
	// The message, dead before it had a send job, is queued with a new
	// one, ready to work.
	m, err := outboxdb.Get(ctx, f.db, id)
	if err != nil || m.Status != outboxdb.Queued || m.JobID == 0 {
		t.Fatalf("after retry: %+v %v", m, err)
	}
	if j, err := f.jobs.Client.JobGet(ctx, m.JobID); err != nil || j.State != rivertype.JobStateAvailable || j.Kind != outbox.JobKind {
		t.Errorf("its job after retry: %+v %v", j, err)
	}
	if rec := f.request(t, http.MethodPost, path, nil, bob); !strings.Contains(mustFlash(t, rec), "not dead") {
		t.Errorf("retry twice: %d", rec.Code)
	}
	if es, _ := store.ListAudit(ctx, f.db, store.AuditFilter{Action: "retry"}); len(es) != 1 || es[0].Actor != "bob" {
		t.Errorf("audit of retry: %+v", es)
	}
}

func TestDecidedBatchTellsItsStory(t *testing.T) {
	f := newFixture(t, dbtest.SQLiteDSN(t))
	ana := f.login(t, "ana")
	before := f.request(t, http.MethodGet, "/batches/"+f.batch, nil, ana).Body.String()
	for _, want := range []string{"most valuable", "least valuable", "chosen at random", "customers pending"} {
		if !strings.Contains(before, want) {
			t.Errorf("pending batch page lacks %q", want)
		}
	}
	rec := f.request(t, http.MethodPost, "/decide", url.Values{"target": {f.batch}, "action": {"approve"}, "back": {"/"}, "comment": {"checked with billing"}}, ana)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("approve: %d", rec.Code)
	}
	after := f.request(t, http.MethodGet, "/batches/"+f.batch, nil, ana).Body.String()
	for _, want := range []string{"customers approved", "by <b>ana</b>", `<span class="status approved">approved</span>`, "most valuable", `<svg class="chart"`} {
		if !strings.Contains(after, want) {
			t.Errorf("decided batch page lacks %q", want)
		}
	}
	for _, unwanted := range []string{"No proposals match", "£0.00 a year"} {
		if strings.Contains(after, unwanted) {
			t.Errorf("decided batch page says %q", unwanted)
		}
	}
	// The samples are the same every time the page is shown.
	again := f.request(t, http.MethodGet, "/batches/"+f.batch, nil, ana).Body.String()
	samples := func(s string) string {
		i, j := strings.Index(s, `<details class="samples"`), strings.Index(s, "</details>")
		return s[i:j]
	}
	if samples(after) != samples(again) {
		t.Errorf("the samples change between two views of the batch")
	}
	audit := f.request(t, http.MethodGet, "/audit?subject="+f.batch, nil, ana).Body.String()
	if !strings.Contains(audit, "ana approved ") || !strings.Contains(audit, " of "+f.batch+": &#39;checked with billing&#39;") {
		t.Errorf("audit page lacks the approval as a sentence:\n%s", audit)
	}
}

func TestDeadLettersFilter(t *testing.T) {
	f := newFixture(t, dbtest.SQLiteDSN(t))
	now := time.Now()
	var ms []outboxdb.Message
	for i, m := range [][2]string{{"email", "550 mailbox unavailable"}, {"sms", "the SMS gateway said 503"}} {
		ms = append(ms, outboxdb.Message{Key: fmt.Sprintf("dead-%d", i), ProposalID: f.script, CustomerID: 1, Channel: m[0],
			Recipient: "x", RecipientName: "someone", Status: outboxdb.Dead, LastError: m[1], CreatedAt: now})
	}
	if _, err := outboxdb.Enqueue(context.Background(), f.db, ms); err != nil {
		t.Fatal(err)
	}
	ana := f.login(t, "ana")
	for _, tc := range []struct {
		query      string
		want, lack string
	}{
		{"", "550 mailbox unavailable", ""},
		{"?channel=sms", "gateway said 503", "550 mailbox unavailable"},
		{"?error=MAILBOX", "550 mailbox unavailable", "gateway said 503"},
		{"?channel=sms&error=mailbox", "None of the 2 dead messages match", "550 mailbox"},
	} {
		body := f.request(t, http.MethodGet, "/dead"+tc.query, nil, ana).Body.String()
		if !strings.Contains(body, tc.want) || tc.lack != "" && strings.Contains(body, tc.lack) {
			t.Errorf("/dead%s: want %q, not %q", tc.query, tc.want, tc.lack)
		}
	}
}
