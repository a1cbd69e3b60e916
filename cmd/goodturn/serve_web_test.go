package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/notify/review"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

// freeAddr returns a loopback address no one listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServe runs `goodturn serve` with an empty schedule and no sender on
// a database with the reviewer ana (password "password-1"), until the test
// ends; it returns the address it serves.
func startServe(t *testing.T, getenv func(string) string, args ...string) string {
	t.Helper()
	dsn := dbtest.SQLiteDSN(t)
	db := dbtest.MustOpenMigrated(t, dsn)
	if _, err := review.New(db, review.Config{}).AddUser(context.Background(), "test", "ana", reviewdb.RoleReviewer, "password-1"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	return startServeEnv(t, dsn, getenv, args...)
}

// startServeOn runs `goodturn serve` as startServe does, on the database
// at dsn as it is.
func startServeOn(t *testing.T, dsn string) string {
	t.Helper()
	return startServeEnv(t, dsn, func(string) string { return "" })
}

func startServeEnv(t *testing.T, dsn string, getenv func(string) string, args ...string) string {
	t.Helper()
	ctx := context.Background()
	env, out, errOut := testEnv()
	env.Getenv = getenv
	env.Logger = newLogger(env)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(ctx)
	exit := make(chan int, 1)
	go func() {
		exit <- Main(ctx, env, append([]string{"serve", "--db", dsn, "--rulesets", "../../rulesets", "--listen", addr, "--send-every", "0",
			"--schedule", writeSchedule(t, "# nothing\n")}, args...))
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-exit; code != 0 {
			t.Errorf("serve exited %d\n%s\n%s", code, out, errOut)
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start\n%s\n%s", out, errOut)
		}
	}
}

// --trust-proxy (or GOODTURN_TRUST_PROXY) makes a login through a proxy
// that says X-Forwarded-Proto: https set a Secure session cookie; without
// it the header is ignored.
func TestServeTrustProxy(t *testing.T) {
	noEnv := func(string) string { return "" }
	trustEnv := func(k string) string {
		if k == "GOODTURN_TRUST_PROXY" {
			return "true"
		}
		return ""
	}
	for _, tc := range []struct {
		name   string
		getenv func(string) string
		args   []string
		secure bool
	}{
		{"no flag", noEnv, nil, false},
		{"--trust-proxy", noEnv, []string{"--trust-proxy"}, true},
		{"GOODTURN_TRUST_PROXY=true", trustEnv, nil, true},
		{"--trust-proxy=false over GOODTURN_TRUST_PROXY", trustEnv, []string{"--trust-proxy=false"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := startServe(t, tc.getenv, tc.args...)
			req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/login",
				strings.NewReader(url.Values{"name": {"ana"}, "password": {"password-1"}}.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-Proto", "https")
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			cs := resp.Cookies()
			if resp.StatusCode != http.StatusSeeOther || len(cs) != 1 || cs[0].Secure != tc.secure {
				t.Errorf("login: %d %+v; want Secure %v", resp.StatusCode, cs, tc.secure)
			}
		})
	}
	code, _, errOut := runEnv(t, func(k string) string {
		if k == "GOODTURN_TRUST_PROXY" {
			return "maybe"
		}
		return ""
	}, "serve")
	if code != 2 || !strings.Contains(errOut, `GOODTURN_TRUST_PROXY="maybe": want true or false`) {
		t.Errorf("GOODTURN_TRUST_PROXY=maybe: exit %d %s", code, errOut)
	}
}

// runEnv runs goodturn with an environment.
func runEnv(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	env, out, errOut := testEnv()
	env.Getenv = getenv
	code := Main(context.Background(), env, args)
	return code, out.String(), errOut.String()
}

// A client that sends its body a byte at a time, or keeps a connection
// idle, is cut off by the server's timeouts instead of holding the
// connection for ever.
func TestServeTimeouts(t *testing.T) {
	env, _, _ := testEnv()
	env.Logger = newLogger(&Env{Stderr: io.Discard})
	x := serveCall(t, env, dbtest.SQLiteDSN(t), "../../rulesets")
	sv, err := newServer(context.Background(), x, serveOptions{schedule: writeSchedule(t, "# nothing\n"), catchUp: -1,
		timeouts: httpTimeouts{readHeader: 300 * time.Millisecond, read: 500 * time.Millisecond, write: time.Second, idle: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer sv.close()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sv.serve(ctx, addr) }()
	defer func() { cancel(); <-done }()

	dial := func() net.Conn {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			conn, err := net.Dial("tcp", addr)
			if err == nil {
				return conn
			}
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
		}
	}
	// closedWithin reports whether the server ends the connection within
	// d, reading (and dropping) whatever it answers before that.
	closedWithin := func(conn net.Conn, d time.Duration) bool {
		conn.SetReadDeadline(time.Now().Add(d))
		_, err := io.Copy(io.Discard, conn)
		return err == nil
	}
	for _, tc := range []struct {
		name, send string
	}{
		{"slow headers", "POST /login HTTP/1.1\r\nHost: x\r\n"},
		{"slow body", "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nname=a"},
	} {
		conn := dial()
		io.WriteString(conn, tc.send)
		// A byte now and then does not keep it open.
		go func() {
			for range 10 {
				time.Sleep(200 * time.Millisecond)
				if _, err := conn.Write([]byte("a")); err != nil {
					return
				}
			}
		}()
		if !closedWithin(conn, 3*time.Second) {
			t.Errorf("%s: the connection is still open after 3 s", tc.name)
		}
		conn.Close()
	}
	conn := dial()
	defer conn.Close()
	io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	if !closedWithin(conn, 3*time.Second) {
		t.Error("an idle connection is still open after 3 s")
	}
}
