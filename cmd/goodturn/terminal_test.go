package main

import (
	"context"
	"strings"
	"testing"
	"unicode"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/notify/review"
)

// hasUnsafe reports a byte of out that a terminal would act on: a control
// character other than newline, a C1 control, or a bidi override.
func hasUnsafe(out string) bool {
	for _, r := range out {
		if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)) || r == '\uFFFD' {
			return true
		}
	}
	return false
}

// TestTerminalOutputIsSafe stores control characters where people and
// customers can put them (a comment, a login name, a customer's name) and
// checks that no listing prints them raw; a NUL byte on the command line
// is refused before it reaches the database.
func TestTerminalOutputIsSafe(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, db string) {
		ctx := context.Background()
		if code, out, errOut := run(t, "demo", "--db", db, "--rulesets", "../../rulesets", "--customers", "60", "--now", "2026-11-23"); code != 0 {
			t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
		}
		if code, _, errOut := runUserIn(t, "password-1\n", "add", "ana", "--role", "reviewer", "--db", db); code != 0 {
			t.Fatalf("user add: %s", errOut)
		}
		d, err := database.Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		// A login attempt from the review page with a hostile name.
		if _, err := review.New(d, review.Config{}).Login(ctx, "eve\x1b]0;owned\x07", "password-x", ""); err == nil {
			t.Fatal("login of an unknown user succeeded")
		}
		if _, err := d.ExecContext(ctx, `UPDATE customers SET name = 'Mallory '||char(27)||'[2J' WHERE id = 1`); err != nil {
			if _, err := d.ExecContext(ctx, `UPDATE customers SET name = 'Mallory '||chr(27)||'[2J' WHERE id = 1`); err != nil {
				t.Fatal(err)
			}
		}
		// Through the environment: each command takes only the flags it uses.
		at := map[string]string{"GOODTURN_DB": db, "GOODTURN_NOW": "2026-11-23", "GOODTURN_RULESETS": "../../rulesets"}
		code, out, errOut := runWithEnv(t, at, "review", "reject", "1/cheaper-plan", "--as", "ana", "--comment", "ok \x1b[31mred\x1b[0m \u202eevil \u009b2J")
		if code != 0 {
			t.Fatalf("reject with a hostile comment: %d %s %s", code, out, errOut)
		}
		for _, args := range [][]string{
			{"review", "audit"},
			{"review", "show", "1/cheaper-plan", "--status", "all"},
			{"explain", "--customer", "1", "--rule", "cheaper-plan"},
		} {
			code, out, errOut := runWithEnv(t, at, args...)
			if code != 0 || hasUnsafe(out) || hasUnsafe(errOut) {
				t.Errorf("goodturn %s exited %d with raw control characters:\n%q\n%q", strings.Join(args, " "), code, out, errOut)
			}
			if args[1] == "audit" && (!strings.Contains(out, `ok \x1b[31mred\x1b[0m \u202eevil \x9b2J`) || !strings.Contains(out, `eve\x1b]0;owned\x07`)) {
				t.Errorf("review audit does not show the escaped comment and name:\n%s", out)
			}
		}
		for _, args := range [][]string{
			{"review", "approve", "1/free-sim-replacement", "--as", "ana", "--comment", "a\x00b"},
			{"review", "approve", "1/free-sim-replacement", "--as", "an\x00a"},
			{"review", "audit", "--actor", "an\x00a"},
			{"send", "list", "--channel", "e\x00mail"},
		} {
			code, out, errOut := runWithEnv(t, at, args...)
			if code != 2 || !strings.Contains(errOut, "NUL byte is not allowed") || hasUnsafe(errOut) {
				t.Errorf("goodturn %q exited %d, want 2 and a NUL refusal:\n%s%s", args, code, out, errOut)
			}
		}
	})
}
