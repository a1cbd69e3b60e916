package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/web"
)

var alert = regexp.MustCompile(`role="alert">([^<]*)<`)

// loginFrom posts a login form from a client address.
func loginFrom(f *fixture, addr, name, password string) *httptest.ResponseRecorder {
	req := httptestRequest(http.MethodPost, "/login", url.Values{"name": {name}, "password": {password}})
	req.RemoteAddr = addr + ":1234"
	return serve(f, req)
}

// failLogins posts n wrong passwords for name from addr, moving the
// review's clock past each wait the page asks for (Retry-After) before the
// lockout.
func failLogins(t *testing.T, f *fixture, now *time.Time, addr, name string, n int) {
	t.Helper()
	for i := 0; i < n; {
		rec := loginFrom(f, addr, name, "wrong-password")
		switch rec.Code {
		case http.StatusUnauthorized:
			i++
		case http.StatusTooManyRequests:
			secs, err := strconv.Atoi(rec.Header().Get("Retry-After"))
			if err != nil || secs > 60 {
				t.Fatalf("failure %d of %s: Retry-After %q", i+1, name, rec.Header().Get("Retry-After"))
			}
			*now = now.Add(time.Duration(secs) * time.Second)
		default:
			t.Fatalf("failure %d of %s: %d", i+1, name, rec.Code)
		}
	}
}

// Twenty wrong passwords lock the name out: the right one is then 429
// with Retry-After and no cookie, until an admin lifts the lockout; a name
// nobody has is answered in the same words.
func TestLoginLockedOut(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		now := time.Now()
		f.svc.Now = func() time.Time { return now }
		failLogins(t, f, &now, "192.0.2.1", "ana", 20)
		rec := loginFrom(f, "192.0.2.2", "ana", password)
		m := alert.FindStringSubmatch(rec.Body.String())
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "900" || len(rec.Result().Cookies()) != 0 ||
			m == nil || !strings.Contains(m[1], "try again in 15 minutes") {
			t.Fatalf("right password while locked out: %d %q %v\n%s", rec.Code, rec.Header().Get("Retry-After"), rec.Result().Cookies(), rec.Body)
		}
		failLogins(t, f, &now, "192.0.2.3", "nobody", 20)
		rec = loginFrom(f, "192.0.2.4", "nobody", password)
		if n := alert.FindStringSubmatch(rec.Body.String()); rec.Code != http.StatusTooManyRequests || n == nil || n[1] != m[1] {
			t.Errorf("an unknown name locked out: %d %q, ana: %q", rec.Code, n, m[1])
		}
		if _, err := f.svc.Unlock(context.Background(), "cli:ops", "ana"); err != nil {
			t.Fatal(err)
		}
		f.login(t, "ana")
	})
}

// countingReader is a body of size bytes of a form field that counts how
// many of them were read.
type countingReader struct {
	size int64
	read atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	left := c.size - c.read.Load()
	if left <= 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), left))
	for i := range n {
		p[i] = 'a'
	}
	if c.read.Load() == 0 && n > 5 {
		copy(p, "name=")
	}
	c.read.Add(int64(n))
	return n, nil
}

// A 100 MB body to any form is refused with 413 after reading at most
// MaxBody of it, whether or not it says its length, handled or through a
// real server.
func TestBodyTooLarge(t *testing.T) {
	f := newFixture(t, dbtest.SQLiteDSN(t))
	const size = 100 << 20
	ana := f.login(t, "ana")
	for _, path := range []string{"/login", "/logout", "/decide"} {
		for _, length := range []int64{-1, size} {
			body := &countingReader{size: size}
			req := httptest.NewRequest(http.MethodPost, "http://review.test"+path, body)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.ContentLength = length
			req.AddCookie(ana)
			if rec := serve(f, req); rec.Code != http.StatusRequestEntityTooLarge || body.read.Load() > web.MaxBody+1 {
				t.Errorf("POST %s of 100 MB (length %d): %d after reading %d bytes", path, length, rec.Code, body.read.Load())
			}
		}
	}

	ts := httptest.NewServer(f.srv)
	defer ts.Close()
	body := &countingReader{size: size}
	resp, err := http.Post(ts.URL+"/login", "application/x-www-form-urlencoded", io.NopCloser(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || body.read.Load() > 16<<20 {
		t.Errorf("POST /login of 100 MB to a server: %d after sending %d bytes", resp.StatusCode, body.read.Load())
	}
}

// Only behind a trusted proxy does X-Forwarded-Proto https make the
// cookies Secure and X-Forwarded-For name the client in the audit log.
func TestTrustProxy(t *testing.T) {
	f := newFixture(t, dbtest.SQLiteDSN(t))
	for _, tc := range []struct {
		trust         bool
		proto, fwdFor string
		secure        bool
		addr          string
	}{
		{false, "", "", false, "192.0.2.1"},
		{false, "https", "203.0.113.9", false, "192.0.2.1"},
		{true, "", "", false, "192.0.2.1"},
		{true, "http", "203.0.113.9", false, "203.0.113.9"},
		{true, "https", "203.0.113.9", true, "203.0.113.9"},
		{true, "https", "198.51.100.1, 203.0.113.9", true, "203.0.113.9"},
		{true, "https", "not an address", true, "192.0.2.1"},
	} {
		srv, err := web.New(web.Config{DB: f.db, Billing: &billing.Reader{DB: f.db}, Review: f.svc, Logger: slog.New(slog.DiscardHandler), TrustProxy: tc.trust})
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("trust %v, X-Forwarded-Proto %q, X-Forwarded-For %q", tc.trust, tc.proto, tc.fwdFor)
		req := httptestRequest(http.MethodPost, "/login", url.Values{"name": {"bea"}, "password": {password}})
		if tc.proto != "" {
			req.Header.Set("X-Forwarded-Proto", tc.proto)
			req.Header.Set("X-Forwarded-For", tc.fwdFor)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		cs := rec.Result().Cookies()
		if rec.Code != http.StatusSeeOther || len(cs) != 1 || cs[0].Secure != tc.secure {
			t.Errorf("%s: %d %+v; want Secure %v", name, rec.Code, cs, tc.secure)
		}
		es, err := store.ListAudit(context.Background(), f.db, store.AuditFilter{Actor: "bea", Limit: 1})
		if err != nil || len(es) != 1 || string(es[0].Detail) != `{"addr":"`+tc.addr+`"}` {
			t.Errorf("%s: audit %v %+v; want addr %s", name, err, es, tc.addr)
		}
	}
}

// A NUL byte, or bytes that are not UTF-8, in any form field or the path
// are refused with 400 before they reach the database, which on
// PostgreSQL would fail on them.
func TestNULRefused(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		ana := f.login(t, "ana")
		before := f.pending(t)
		for _, tc := range []struct {
			method, path string
			form         url.Values
		}{
			{http.MethodPost, "/login", url.Values{"name": {"ana\x00"}, "password": {password}}},
			{http.MethodPost, "/login", url.Values{"name": {"ana"}, "password": {password + "\x00"}}},
			{http.MethodPost, "/login", url.Values{"name": {"ana\xff"}, "password": {password}}},
			{http.MethodPost, "/decide", url.Values{"action": {"approve"}, "target": {f.batch}, "comment": {"fine\x00"}}},
			{http.MethodPost, "/decide", url.Values{"action": {"approve"}, "target": {f.batch}, "comment": {"fine\xc3"}}},
			{http.MethodGet, "/batches/" + f.batch + "?segment=%00", nil},
			{http.MethodGet, "/batches/1/cheaper%00plan", nil},
			{http.MethodGet, "/audit?actor=%00", nil},
		} {
			if rec := f.request(t, tc.method, tc.path, tc.form, ana); rec.Code != http.StatusBadRequest {
				t.Errorf("%s %s %q: %d", tc.method, tc.path, tc.form.Encode(), rec.Code)
			}
		}
		if after := f.pending(t); after != before {
			t.Errorf("pending changed from %d to %d", before, after)
		}
		es, err := store.ListAudit(context.Background(), f.db, store.AuditFilter{Action: "login_failed"})
		if err != nil || len(es) != 0 {
			t.Errorf("failed logins recorded: %v %+v", err, es)
		}
	})
}
