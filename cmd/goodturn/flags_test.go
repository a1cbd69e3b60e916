package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBadFlagsAreRefused checks that every out-of-range number, bad
// duration and bad environment variable is refused with the valid range,
// before anything is opened or run.
func TestBadFlagsAreRefused(t *testing.T) {
	db := filepath.Join(t.TempDir(), "never.db")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"negative months", nil, []string{"run", "--months", "-1"}, "want 1 to 120"},
		{"negative shards", nil, []string{"run", "--shards", "-3"}, "want 0 to 10000"},
		{"negative workers", nil, []string{"run", "--workers", "-5"}, "want 0 to 1024"},
		{"negative workers of a worker", nil, []string{"worker", "--workers", "-5"}, "want 0 to 1024"},
		{"negative workers of serve", nil, []string{"serve", "--workers", "-5"}, "want 0 to 1024"},
		{"negative cap", nil, []string{"run", "--cap", "-1"}, "want 0 or more"},
		{"zero cap window", nil, []string{"run", "--cap-window", "0"}, "want a duration above 0"},
		{"bad cap window on explain", nil, []string{"explain", "--customer", "1", "--cap-window", "soon"}, "cannot parse duration"},
		{"a flag the command does not take", nil, []string{"review", "list", "--cap-window", "7d"}, "flag provided but not defined: -cap-window"},
		{"zero max attempts", nil, []string{"send", "--max-attempts", "0"}, "want 1 to 1000"},
		{"SMTP port not a number", map[string]string{"GOODTURN_SMTP_PORT": "abc"}, []string{"send"}, `GOODTURN_SMTP_PORT="abc": want 0 to 65535`},
		{"SMTP port flag out of range", nil, []string{"send", "--smtp-port", "70000"}, "want 0 to 65535"},
		{"negative run rescue-after", nil, []string{"run", "--rescue-after", "-1s"}, "want a duration above 0"},
		{"zero serve rescue-after", nil, []string{"serve", "--rescue-after", "0"}, "want a duration above 0"},
		{"negative second reviewer", nil, []string{"review", "list", "--second-reviewer-above", "-2"}, "want -1 or more"},
		{"no demo customers", nil, []string{"demo", "--customers", "0"}, "want 1 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(tt.args, "--db", db, "--rulesets", "../../rulesets")
			code, out, errOut := runWithEnv(t, tt.env, args...)
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Errorf("goodturn %s exited %d, want 2 and %q:\n%s%s", strings.Join(tt.args, " "), code, tt.want, out, errOut)
			}
		})
	}
}
