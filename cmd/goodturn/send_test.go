package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/notify/outbox/outboxdb"
)

// runWithEnv is run with environment variables.
func runWithEnv(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return vars[k] }}
	code := Main(context.Background(), env, args)
	return code, stdout.String(), stderr.String()
}

func TestSend(t *testing.T) {
	ctx := context.Background()
	dsn := dbtest.SQLiteDSN(t)
	if code, out, errOut := run(t, "demo", "--db", dsn, "--rulesets", "../../rulesets", "--customers", "300", "--now", "2026-11-23"); code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
	}
	db, err := database.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Approve every late fee waiver (an email and a billing action each) and
	// a few cheaper plans (email and sms), as the review page will.
	if _, err := db.ExecContext(ctx, `UPDATE proposals SET status = 'approved' WHERE rule_id = 'late-fee-waiver'
		OR id IN (SELECT id FROM proposals WHERE rule_id = 'cheaper-plan' ORDER BY id LIMIT 3)`); err != nil {
		t.Fatal(err)
	}
	var approved int
	db.QueryRowContext(ctx, `SELECT count(*) FROM proposals WHERE status = 'approved'`).Scan(&approved)
	if approved < 4 {
		t.Fatalf("only %d proposals to approve", approved)
	}
	common := []string{"--db", dsn, "--rulesets", "../../rulesets", "--now", "2026-11-23T12:00:00Z"}

	// Without transports nothing is sent and the command says why.
	code, out, errOut := run(t, append([]string{"send"}, common...)...)
	if code != 0 {
		t.Fatalf("send exited %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "No messages were due") || !strings.Contains(out, "email messages wait: no email transport") {
		t.Errorf("send with no transports:\n%s", out)
	}

	// The billing webhook fails: the actions die after one attempt; the
	// messages go to the log.
	var hits atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Idempotency-Key") == "" || !strings.HasPrefix(r.Header.Get("Goodturn-Signature"), "t=") {
			t.Errorf("unsigned webhook: %v", r.Header)
		}
		http.Error(w, "billing is down", http.StatusServiceUnavailable)
	}))
	defer hook.Close()
	vars := map[string]string{"GOODTURN_WEBHOOK_SECRET": "s3cret"}
	args := append([]string{"send", "--log", "--billing-webhook-url", hook.URL, "--max-attempts", "1"}, common...)
	code, out, errOut = runWithEnv(t, vars, args...)
	if code != 0 {
		t.Fatalf("send exited %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"Subject: We've taken the late fee off your bill", "£", "sent:", "dead:", "billing is down", "goodturn send retry ID"} {
		if !strings.Contains(out, want) {
			t.Errorf("send output lacks %q:\n%s", want, out)
		}
	}
	if hits.Load() == 0 {
		t.Error("the billing webhook was not called")
	}
	// A second send has nothing to do.
	code, out, _ = runWithEnv(t, vars, args...)
	if code != 0 || !strings.Contains(out, "Enqueued 0 approved proposals") || !strings.Contains(out, "No messages were due") {
		t.Errorf("second send exited %d:\n%s", code, out)
	}

	code, out, _ = run(t, "send", "list", "--db", dsn, "--status", "dead")
	if code != 0 || !strings.Contains(out, "-action") || !strings.Contains(out, "billing is down") {
		t.Fatalf("send list exited %d:\n%s", code, out)
	}
	dead, err := outboxdb.List(ctx, db, outboxdb.Filter{Status: outboxdb.Dead})
	if err != nil || len(dead) == 0 {
		t.Fatalf("dead: %v %v", dead, err)
	}
	id := dead[0].ID
	code, out, _ = run(t, "send", "retry", "--db", dsn, strconv.FormatInt(id, 10))
	if code != 0 || !strings.Contains(out, "queued again") {
		t.Fatalf("send retry exited %d:\n%s", code, out)
	}
	if code, _, errOut := run(t, "send", "retry", "--db", dsn, strconv.FormatInt(id, 10)); code == 0 || !strings.Contains(errOut, "not dead") {
		t.Errorf("second retry exited %d: %s", code, errOut)
	}

	// The rest of the dead letters, in bulk: filters that match none,
	// then the billing outage's.
	for _, args := range [][]string{{"--channel", "email"}, {"--error", "smtp timeout"}, {"--channel", "billing-action", "--error", "nothing like it"}} {
		code, out, errOut := run(t, append([]string{"send", "retry", "--all", "--db", dsn}, args...)...)
		if code != 0 || out != "Requeued 0 dead messages.\n" {
			t.Errorf("send retry --all %v exited %d: %q %s", args, code, out, errOut)
		}
	}
	code, out, errOut = run(t, "send", "retry", "--all", "--error", "BILLING IS DOWN", "--db", dsn)
	if want := fmt.Sprintf("Requeued %d dead messages; `goodturn send` (or serve) delivers them.\n", len(dead)-1); code != 0 || out != want {
		t.Fatalf("send retry --all --error exited %d: %q, want %q %s", code, out, want, errOut)
	}
	if left, err := outboxdb.List(ctx, db, outboxdb.Filter{Status: outboxdb.Dead}); err != nil || len(left) != 0 {
		t.Errorf("dead after retry --all: %v %v", left, err)
	}
	code, out, _ = run(t, "review", "audit", "--action", "outbox_retry", "--db", dsn)
	if code != 0 || !regexp.MustCompile(`cli:\S+\s+outbox_retry\s+dead messages\s+.*"error":"BILLING IS DOWN".*"requeued":`+strconv.Itoa(len(dead)-1)).MatchString(out) ||
		!regexp.MustCompile(`outbox_retry\s+message `+strconv.FormatInt(id, 10)).MatchString(out) {
		t.Errorf("audit of retries: %d\n%s", code, out)
	}
	for _, args := range [][]string{{"send", "retry"}, {"send", "retry", "--all", "7"}, {"send", "retry", "--channel", "email", "7"}} {
		if code, _, errOut := run(t, append(args, "--db", dsn)...); code != 2 {
			t.Errorf("goodturn %v exited %d, want 2: %s", args, code, errOut)
		}
	}
	if code, _, errOut := run(t, "send", "--db", dsn, "--sms-webhook-url", "http://127.0.0.1:1/"); code != 2 || !strings.Contains(errOut, "GOODTURN_WEBHOOK_SECRET") {
		t.Errorf("a webhook without a secret: exit %d: %s", code, errOut)
	}
}
