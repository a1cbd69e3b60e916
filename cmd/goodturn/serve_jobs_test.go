package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/queue"
	"github.com/goodturn/goodturn/notify/review"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

// loginCookie logs name in on a running serve and returns the session
// cookie.
func loginCookie(t *testing.T, addr, name, password string) *http.Cookie {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/login",
		strings.NewReader(url.Values{"name": {name}, "password": {password}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "goodturn_session" {
			return c
		}
	}
	t.Fatalf("login of %s: %d, no session cookie", name, resp.StatusCode)
	return nil
}

// River's UI is served on /riverui/ to admins only: no session goes to the
// login page, a reviewer is refused, an admin sees the UI and its API
// lists the queue's jobs.
func TestServeMountsRiverUIForAdmins(t *testing.T) {
	dbtest.Dialects(t, testRiverUIForAdmins)
}

func testRiverUIForAdmins(t *testing.T, dsn string) {
	ctx := context.Background()
	db := dbtest.MustOpenMigrated(t, dsn)
	svc := review.New(db, review.Config{})
	for _, u := range []struct{ name, role string }{{"ana", reviewdb.RoleReviewer}, {"ada", reviewdb.RoleAdmin}} {
		if _, err := svc.AddUser(ctx, "test", u.name, u.role, "password-1"); err != nil {
			t.Fatal(err)
		}
	}
	client, err := queue.NewClient(db, queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Insert(ctx, uiTestArgs{}, nil); err != nil {
		t.Fatal(err)
	}
	db.Close()
	addr := startServeOn(t, dsn)
	admin, reviewer := loginCookie(t, addr, "ada", "password-1"), loginCookie(t, addr, "ana", "password-1")
	for _, tc := range []struct {
		name   string
		cookie *http.Cookie
		path   string
		status int
		body   string
	}{
		{"no session", nil, "/riverui/", http.StatusSeeOther, ""},
		{"no session, the API", nil, "/riverui/api/jobs?state=available", http.StatusSeeOther, ""},
		{"a reviewer", reviewer, "/riverui/", http.StatusForbidden, "Only an admin may see the job queue."},
		{"a reviewer, the API", reviewer, "/riverui/api/jobs?state=available", http.StatusForbidden, ""},
		{"an admin", admin, "/riverui/", http.StatusOK, "<html"},
		{"an admin, the API", admin, "/riverui/api/jobs?state=available", http.StatusOK, `"kind":"ui_test"`},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, "http://"+addr+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.cookie != nil {
				req.AddCookie(tc.cookie)
			}
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.body) {
				t.Fatalf("GET %s: %d, want %d with %q:\n%.400s", tc.path, resp.StatusCode, tc.status, tc.body, b)
			}
			if tc.status == http.StatusSeeOther && !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
				t.Errorf("redirected to %q, want the login page", resp.Header.Get("Location"))
			}
			if strings.Contains(tc.path, "/api/") && tc.status == http.StatusOK && !json.Valid(b) {
				t.Errorf("the API answered no JSON: %.200s", b)
			}
			if tc.status == http.StatusOK {
				csp := resp.Header.Get("Content-Security-Policy")
				if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
					resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("security headers: CSP %q, X-Frame-Options %q, X-Content-Type-Options %q", csp,
						resp.Header.Get("X-Frame-Options"), resp.Header.Get("X-Content-Type-Options"))
				}
			}
		})
	}
}

// uiTestArgs is the job River's UI lists in the test.
type uiTestArgs struct{}

func (uiTestArgs) Kind() string { return "ui_test" }
