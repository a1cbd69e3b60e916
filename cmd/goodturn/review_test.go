package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/notify/outbox"
	"github.com/goodturn/goodturn/notify/outbox/outboxdb"
)

// runUserIn runs `goodturn user …` with stdin.
func runUserIn(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string {
		if k == "USER" {
			return "ops"
		}
		return ""
	}}
	code := Main(context.Background(), env, append([]string{"user"}, args...))
	return code, stdout.String(), stderr.String()
}

// runAs runs the command line as the operating system user osUser.
func runAs(t *testing.T, osUser string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }, OSUser: osUser}
	code := Main(context.Background(), env, args)
	return code, stdout.String(), stderr.String()
}

func TestReviewCommands(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, db string) {
		if code, out, errOut := run(t, "demo", "--db", db, "--rulesets", "../../rulesets", "--customers", "300", "--now", "2026-11-23"); code != 0 {
			t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
		}
		at := []string{"--db", db, "--now", "2026-11-23"}
		user := func(stdin string, args ...string) (int, string, string) {
			return runUserIn(t, stdin, append(args, "--db", db)...)
		}
		review := func(args ...string) (int, string, string) {
			// Through the environment: each review command takes only the flags it uses.
			return runWithEnv(t, map[string]string{"GOODTURN_DB": db, "GOODTURN_NOW": "2026-11-23"}, append([]string{"review"}, args...)...)
		}

		// People.
		if code, out, errOut := user("password-1\n", "add", "ana", "--role", "reviewer"); code != 0 || out != "Added reviewer ana.\n" {
			t.Fatalf("user add ana: %d %q %s", code, out, errOut)
		}
		if code, _, errOut := user("password-2", "add", "bob", "--role", "admin"); code != 0 {
			t.Fatalf("user add bob (no newline): %d %s", code, errOut)
		}
		if code, _, _ := user("password-3\n", "add", "vic", "--role", "viewer"); code != 0 {
			t.Fatal("user add vic")
		}
		if code, _, errOut := user("password-1\n", "add", "ana", "--role", "viewer"); code != 1 || !strings.Contains(errOut, "already exists") {
			t.Errorf("duplicate user: %d %s", code, errOut)
		}
		if code, _, errOut := user("short\n", "add", "eve", "--role", "viewer"); code != 1 || !strings.Contains(errOut, "too short") {
			t.Errorf("short password: %d %s", code, errOut)
		}
		if code, _, errOut := user("", "add", "eve", "--role", "viewer"); code != 1 || !strings.Contains(errOut, "no password") {
			t.Errorf("no password: %d %s", code, errOut)
		}
		if code, _, errOut := user("password-1\n", "add", "eve"); code != 2 || !strings.Contains(errOut, "--role is required") {
			t.Errorf("no role: %d %s", code, errOut)
		}
		if code, _, errOut := user("password-1\n", "add", "eve", "--role", "boss"); code != 2 {
			t.Errorf("bad role: %d %s", code, errOut)
		}
		if code, out, _ := user("", "disable", "vic"); code != 0 || !strings.Contains(out, "Disabled vic") {
			t.Errorf("disable: %d %s", code, out)
		}
		code, out, _ := user("", "list")
		if code != 0 || !regexp.MustCompile(`(?m)^  ana\s+reviewer\s+\S+ \S+\s+active$`).MatchString(out) ||
			!regexp.MustCompile(`(?m)^  vic\s+viewer\s+\S+ \S+\s+disabled$`).MatchString(out) {
			t.Errorf("user list: %d\n%s", code, out)
		}
		if code, _, _ := user("", "enable", "vic"); code != 0 {
			t.Error("enable")
		}

		// Batches.
		code, out, errOut := review("list")
		if code != 0 || !regexp.MustCompile(`(?m)^  1/cheaper-plan\s+mobile\s+cheaper-plan\s+cheaper_plan\s+2026-11-23\s+\d+\s+£[\d,.]+\s+£[\d.]+`).MatchString(out) {
			t.Fatalf("review list: %d\n%s\n%s", code, out, errOut)
		}
		code, out, _ = review("show", "1/cheaper-plan", "--limit", "3")
		if code != 0 || !strings.Contains(out, "Batch 1/cheaper-plan: rule cheaper-plan (cheaper_plan) of ruleset mobile") ||
			!strings.Contains(out, "plan_id=") || !regexp.MustCompile(`Pending proposals 1–3 of \d+\. --offset 3 shows the next\.`).MatchString(out) {
			t.Fatalf("review show batch: %d\n%s", code, out)
		}
		first := regexp.MustCompile(`(?m)^\s+(\d+)\s+\d+\s+£`).FindStringSubmatch(out)
		if first == nil {
			t.Fatalf("no proposal id in\n%s", out)
		}
		id := first[1]
		code, out, _ = review("show", id)
		for _, want := range []string{"Proposal " + id + ": cheaper-plan (cheaper_plan) for customer", "— pending.", "Offer:", "plan_id = ", "Values:", "monthly_saving = ", "When (all must hold):", "✓ ", "Facts read:", "plan.monthly_price = ", "Message, on email and sms:", "  Subject: You could pay ", "  SMS: Hi "} {
			if !strings.Contains(out, want) {
				t.Errorf("review show %s lacks %q:\n%s", id, want, out)
			}
		}
		if code != 0 {
			t.Fatalf("review show proposal exited %d", code)
		}
		if code, _, errOut := review("show", "99999"); code != 1 || !strings.Contains(errOut, "proposal 99999: not found") {
			t.Errorf("show unknown: %d %s", code, errOut)
		}

		// Decisions.
		if code, _, errOut := review("approve", "1/cheaper-plan"); code != 2 || !strings.Contains(errOut, "--as NAME is required") {
			t.Errorf("approve without --as: %d %s", code, errOut)
		}
		if code, _, errOut := review("approve", "1/cheaper-plan", "--as", "vic"); code != 1 || !strings.Contains(errOut, "vic is a viewer") {
			t.Errorf("viewer approve: %d %s", code, errOut)
		}
		if code, _, errOut := review("approve", "1/cheaper-plan", "--as", "zed"); code != 1 || !strings.Contains(errOut, "user zed: not found") {
			t.Errorf("unknown user: %d %s", code, errOut)
		}
		if code, out, errOut := review("reject", id, "--as", "ana", "--comment", "customer asked us not to"); code != 0 || out != "Rejected proposal "+id+".\n" {
			t.Fatalf("reject one: %d %q %s", code, out, errOut)
		}
		// Two reviewers for any batch above 1 proposal.
		two := []string{"--second-reviewer-above", "1"}
		code, out, errOut = review(append([]string{"approve", "1/cheaper-plan", "--as", "ana"}, two...)...)
		if code != 0 || !strings.Contains(out, "ana approved batch 1/cheaper-plan") || !strings.Contains(out, "awaiting a second reviewer") {
			t.Fatalf("first approval: %d %q %s", code, out, errOut)
		}
		if code, out, _ := review(append([]string{"list"}, two...)...); !regexp.MustCompile(`1/cheaper-plan .* approved by ana, awaiting a second reviewer`).MatchString(out) {
			t.Errorf("list after first approval: %d\n%s", code, out)
		}
		if code, _, errOut := review(append([]string{"approve", "1/cheaper-plan", "--as", "ana"}, two...)...); code != 1 || !strings.Contains(errOut, "second") {
			t.Errorf("same reviewer twice: %d %s", code, errOut)
		}
		// bob's approval from the same operating system account as ana's is
		// not a second person's.
		code, out, errOut = review(append([]string{"approve", "1/cheaper-plan", "--as", "bob"}, two...)...)
		if code != 1 || !strings.Contains(errOut, "by the operating system user") || !strings.Contains(errOut, "need a second person") {
			t.Errorf("second approval by the same OS user: %d %q %s", code, out, errOut)
		}
		// From another account it is.
		code, out, errOut = runAs(t, "bob-os", append(append([]string{"review", "approve", "1/cheaper-plan", "--as", "bob", "--comment", "second look",
			"--rulesets", "../../rulesets"}, two...), at...)...)
		if code != 0 || !regexp.MustCompile(`^Approved \d+ proposals of batch 1/cheaper-plan\.\n$`).MatchString(out) {
			t.Fatalf("second approval: %d %q %s", code, out, errOut)
		}
		// The approval enqueued the batch's messages, each with its send
		// job, before any sender ran.
		checkEnqueuedOnApproval(t, db, 1, "cheaper-plan")
		if code, _, errOut := review("approve", "1/cheaper-plan", "--as", "bob"); code != 1 || !strings.Contains(errOut, "no pending proposals") {
			t.Errorf("approve decided batch: %d %s", code, errOut)
		}
		code, out, _ = review("show", "1/cheaper-plan", "--status", "all", "--limit", "0")
		if code != 0 || !strings.Contains(out, "rejected") || strings.Contains(out, "pending  ") || !strings.Contains(out, " approved ") {
			t.Errorf("show all after decisions: %d\n%s", code, out)
		}
		if code, out, _ := review("show", id); code != 0 || !strings.Contains(out, "Rejected by ana at ") {
			t.Errorf("show decided proposal: %d\n%s", code, out)
		}
		if code, out, _ := review("list"); code != 0 || strings.Contains(out, "1/cheaper-plan") {
			t.Errorf("decided batch still listed: %d\n%s", code, out)
		}

		// The audit log.
		code, out, _ = review("audit", "--limit", "3")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 4 ||
			!regexp.MustCompile(`bob\s+approve\s+batch 1/cheaper-plan\s+second look\s+.*"os_user":"bob-os".*"source":"cli"`).MatchString(lines[1]) ||
			!regexp.MustCompile(`ana\s+approve\s+batch 1/cheaper-plan\s+.*awaiting_second_reviewer`).MatchString(lines[2]) ||
			!regexp.MustCompile(`ana\s+reject\s+proposal `+id+`\s+customer asked us not to`).MatchString(lines[3]) {
			t.Errorf("audit: %d\n%s", code, out)
		}
		if code, out, _ := review("audit", "--action", "user_add"); code != 0 || !strings.Contains(out, "cli:ops") || strings.Count(out, "user_add") != 3 {
			t.Errorf("audit of users: %d\n%s", code, out)
		}

		// Expiry: three weeks later everything still pending expires.
		code, out, _ = run(t, "review", "expire", "--db", db, "--now", "2026-12-14")
		if code != 0 || !regexp.MustCompile(`^Expired \d+ proposals pending for more than 2w\.\n$`).MatchString(out) {
			t.Errorf("expire: %d %q", code, out)
		}
		if code, out, _ := run(t, "review", "list", "--db", db, "--now", "2026-12-14"); code != 0 || !strings.Contains(out, "Nothing to review") {
			t.Errorf("list after expiry: %d\n%s", code, out)
		}
		if code, out, _ := run(t, "review", "audit", "--db", db, "--action", "expire"); code != 0 || !strings.Contains(out, "system") {
			t.Errorf("expiry audit: %d\n%s", code, out)
		}

		// Usage mistakes.
		for _, args := range [][]string{{"review"}, {"review", "nope"}, {"review", "show"}, {"review", "show", "x/"}, {"review", "show", "1/x", "--status", "odd"}, {"user"}, {"user", "nope"}} {
			if code, _, _ := run(t, append(args, "--db", db)...); code != 2 {
				t.Errorf("%v exited %d, want 2", args, code)
			}
		}
	})
}

// checkEnqueuedOnApproval checks that every approved proposal of a batch
// has its messages in the outbox, each waiting with a send job of its
// channel's queue, or skipped without one.
func checkEnqueuedOnApproval(t *testing.T, dsn string, run int64, rule string) {
	t.Helper()
	ctx := context.Background()
	db := dbtest.MustOpen(t, dsn)
	var approved, without int
	if err := db.QueryRowContext(ctx, db.Rebind(`SELECT count(*),
		COALESCE(SUM(CASE WHEN NOT EXISTS (SELECT 1 FROM outbox o WHERE o.proposal_id = p.id) THEN 1 ELSE 0 END), 0)
		FROM proposals p WHERE p.run_id = ? AND p.rule_id = ? AND p.status = 'approved'`), run, rule).Scan(&approved, &without); err != nil {
		t.Fatal(err)
	}
	if approved == 0 || without != 0 {
		t.Fatalf("%d approved proposals, %d of them without messages", approved, without)
	}
	ms, err := outboxdb.List(ctx, db, outboxdb.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	jobs := 0
	for _, m := range ms {
		var queue, kind string
		err := db.QueryRowContext(ctx, db.Rebind(`SELECT queue, kind FROM river_job WHERE id = ?`), m.JobID).Scan(&queue, &kind)
		switch {
		case m.Status == outboxdb.Skipped:
			if m.JobID != 0 {
				t.Errorf("skipped %s has job %d", m.Key, m.JobID)
			}
		case m.Status != outboxdb.Queued || err != nil || queue != outbox.Queue(m.Channel) || kind != outbox.JobKind:
			t.Errorf("%s: %s, job %d in %q (%q): %v", m.Key, m.Status, m.JobID, queue, kind, err)
		default:
			jobs++
		}
	}
	if jobs == 0 {
		t.Error("no message has a send job")
	}
}
