package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/database/dbtest"
)

// Every command takes --log-format and --log-level, from the flags or the
// environment, and refuses a bad one with exit 2 before it opens anything.
func TestLogFlagsOnEveryCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "never.db")
	var leaves [][]string // every command and subcommand, as its words
	for _, c := range commands {
		if c.name == "version" || c.name == "completion" {
			continue // they take no flags
		}
		if len(c.subs) == 0 {
			leaves = append(leaves, []string{c.name})
		}
		for _, s := range c.subs {
			leaves = append(leaves, []string{c.name, s.name})
		}
	}
	for _, args := range leaves {
		name := strings.Join(args, " ")
		t.Run(name, func(t *testing.T) {
			for _, bad := range []struct {
				env  map[string]string
				args []string
				want string
			}{
				{nil, []string{"--log-level", "loud"}, "invalid value \"loud\" for flag -log-level: want debug, info, warn or error"},
				{nil, []string{"--log-format", "xml"}, "invalid value \"xml\" for flag -log-format: want text or json"},
				{map[string]string{"GOODTURN_LOG_LEVEL": "verbose"}, nil, `GOODTURN_LOG_LEVEL="verbose": want debug, info, warn or error`},
				{map[string]string{"GOODTURN_LOG_FORMAT": "logfmt"}, nil, `GOODTURN_LOG_FORMAT="logfmt": want text or json`},
			} {
				a := append(append(append([]string{}, args...), bad.args...), "--db", db, "--rulesets", "../../rulesets")
				code, out, errOut := runWithEnv(t, bad.env, a...)
				if code != 2 || !strings.Contains(errOut, bad.want) {
					t.Errorf("goodturn %s (env %v) exited %d, want 2 and %q:\n%s%s", strings.Join(a, " "), bad.env, code, bad.want, out, errOut)
				}
			}
			code, out, errOut := run(t, append(args, "-h")...)
			if help := out + errOut; code != 0 || !strings.Contains(help, "-log-format") || !strings.Contains(help, "-log-level") {
				t.Errorf("goodturn %s -h exited %d without the log flags:\n%s", name, code, help)
			}
		})
	}
}

// --log-format json (or GOODTURN_LOG_FORMAT=json) writes every log line as
// a JSON object; --log-level error keeps the info lines out.
func TestLogFormatJSON(t *testing.T) {
	dsn := dbtest.SQLiteDSN(t)
	sampleBilling(t, dsn, 30, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC))
	base := []string{"run", "--db", dsn, "--rulesets", "../../rulesets", "--ruleset", "mobile", "--now", "2026-11-23"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"flag", nil, []string{"--log-format", "json"}},
		{"environment", map[string]string{"GOODTURN_LOG_FORMAT": "json", "GOODTURN_LOG_LEVEL": "debug"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runWithEnv(t, tc.env, append(append([]string{}, base...), tc.args...)...)
			if code != 0 {
				t.Fatalf("run exited %d\n%s\n%s", code, out, errOut)
			}
			recs := jsonLines(t, errOut)
			started := 0
			for _, rec := range recs {
				if rec["msg"] == "run started" && rec["level"] == "INFO" && rec["ruleset"] == "mobile" {
					started++
				}
			}
			if len(recs) == 0 || started != 1 {
				t.Errorf("%d JSON lines, %d of them \"run started\":\n%s", len(recs), started, errOut)
			}
		})
	}
	code, out, errOut := run(t, append(append([]string{}, base...), "--log-level", "error")...)
	if code != 0 || errOut != "" {
		t.Errorf("--log-level error: exit %d, stderr %q\n%s", code, errOut, out)
	}
	// The default stays logfmt.
	code, _, errOut = run(t, base...)
	if code != 0 || !strings.Contains(errOut, "level=INFO msg=\"run started\"") {
		t.Errorf("default log: exit %d\n%s", code, errOut)
	}
}

// jsonLines parses a log of JSON lines, reporting every line that is not
// a JSON object.
func jsonLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for line := range strings.Lines(log) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("not a JSON line: %q", line)
			continue
		}
		recs = append(recs, rec)
	}
	return recs
}
