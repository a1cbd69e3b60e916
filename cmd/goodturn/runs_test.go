package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/rules"
)

// printedRun is what `goodturn run` or `demo` printed about one run.
type printedRun struct {
	id, ruleset, status string
	customers           string
	proposals, errors   int64
	// rules holds each rule's row: rule, kind, matched, proposals, yearly
	// value, held back, errors.
	rules [][]string
}

var runHeading = regexp.MustCompile(`^Run (\d+) of ruleset (\S+): ([\d,]+) customers in \S+ \((\w+)\)\.$`)

// printedRuns reads the runs and their rule tables from the output of
// `goodturn run` or `goodturn demo`.
func printedRuns(t *testing.T, out string) []*printedRun {
	t.Helper()
	var runs []*printedRun
	var cur *printedRun
	for _, line := range strings.Split(out, "\n") {
		if m := runHeading.FindStringSubmatch(line); m != nil {
			cur = &printedRun{id: m[1], ruleset: m[2], customers: m[3], status: m[4]}
			runs = append(runs, cur)
			continue
		}
		f := strings.Fields(line)
		if cur == nil || !strings.HasPrefix(line, "  ") || len(f) != 7 || f[0] == "rule" || strings.Contains(line, " held back: ") {
			if !strings.HasPrefix(line, "  ") {
				cur = nil
			}
			continue
		}
		cur.rules = append(cur.rules, f)
		cur.proposals += atoi(t, f[3])
		cur.errors += atoi(t, f[6])
	}
	if len(runs) == 0 {
		t.Fatalf("no run in the output:\n%s", out)
	}
	return runs
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.ReplaceAll(s, ",", ""), 10, 64)
	if err != nil {
		t.Fatalf("not a count: %q", s)
	}
	return n
}

// listedRuns returns the rows of `goodturn runs`, split into fields, the
// started date and time joined back into one field.
func listedRuns(t *testing.T, out string) [][]string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "  id  started") {
		t.Fatalf("runs output has no table:\n%s", out)
	}
	var rows [][]string
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 10 {
			t.Fatalf("short runs row %q", line)
		}
		row := append([]string{f[0], f[1] + " " + f[2]}, f[3:9]...)
		rows = append(rows, append(row, strings.Join(f[9:], " ")))
	}
	return rows
}

func TestRunsListsRunsNewestFirst(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		code, out, errOut := run(t, "demo", "--db", dsn, "--rulesets", "../../rulesets", "--customers", "300", "--now", "2026-11-23")
		if code != 0 {
			t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
		}
		printed := printedRuns(t, out)
		code, out, errOut = run(t, "run", "--db", dsn, "--rulesets", "../../rulesets", "--now", "2026-11-23")
		if code != 0 {
			t.Fatalf("run exited %d\n%s\n%s", code, out, errOut)
		}
		printed = append(printed, printedRuns(t, out)...)

		code, out, errOut = run(t, "runs", "--db", dsn)
		if code != 0 {
			t.Fatalf("runs exited %d\n%s\n%s", code, out, errOut)
		}
		rows := listedRuns(t, out)
		if len(rows) != len(printed) {
			t.Fatalf("runs lists %d runs, want %d:\n%s", len(rows), len(printed), out)
		}
		started := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC).Local().Format("2006-01-02 15:04")
		for i, row := range rows {
			p := printed[len(printed)-1-i] // newest first
			want := []string{p.id, started, p.ruleset, p.status, p.customers, count(p.proposals), count(p.errors)}
			if got := row[:7]; strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("runs row %d = %q, want %q", i, got, want)
			}
			if _, err := time.ParseDuration(row[7]); err != nil {
				t.Errorf("run %s: duration %q: %v", p.id, row[7], err)
			}
			for _, r := range p.rules {
				item := r[0] + " " + r[3]
				if r[3] != "0" && !strings.Contains(row[8], item) {
					t.Errorf("run %s: proposals by rule %q lack %q", p.id, row[8], item)
				}
			}
		}

		// One ruleset: its two runs, newest first.
		var mobile []*printedRun
		for i := len(printed) - 1; i >= 0; i-- {
			if printed[i].ruleset == "mobile" {
				mobile = append(mobile, printed[i])
			}
		}
		code, out, _ = run(t, "runs", "--db", dsn, "--ruleset", "mobile")
		rows = listedRuns(t, out)
		if code != 0 || len(mobile) != 2 || len(rows) != 2 || rows[0][0] != mobile[0].id || rows[1][0] != mobile[1].id ||
			rows[0][5] != count(mobile[0].proposals) || rows[1][5] != count(mobile[1].proposals) {
			t.Errorf("runs --ruleset mobile exited %d, want runs %s then %s:\n%s", code, mobile[0].id, mobile[1].id, out)
		}
		code, out, _ = run(t, "runs", "--db", dsn, "--limit", "1")
		if rows := listedRuns(t, out); code != 0 || len(rows) != 1 || rows[0][0] != printed[len(printed)-1].id {
			t.Errorf("runs --limit 1 exited %d:\n%s", code, out)
		}
		if code, out, _ := run(t, "runs", "--db", dsn, "--ruleset", "nope"); code != 0 || out != "No runs of ruleset nope in "+database.Redact(dsn)+".\n" {
			t.Errorf("runs of an unknown ruleset exited %d: %q", code, out)
		}
	})
}

func TestRunsShowGivesEveryRuleItsNumbers(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		code, out, errOut := run(t, "demo", "--db", dsn, "--rulesets", "../../rulesets", "--customers", "300", "--now", "2026-11-23")
		if code != 0 {
			t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
		}
		first := printedRuns(t, out)[0]
		if first.id != "1" || first.ruleset != "mobile" {
			t.Fatalf("the demo's first run is %s of %s, want 1 of mobile", first.id, first.ruleset)
		}
		rs, err := rules.Load("../../rulesets/mobile")
		if err != nil {
			t.Fatal(err)
		}
		code, out, errOut = run(t, "runs", "show", "1", "--db", dsn)
		if code != 0 {
			t.Fatalf("runs show 1 exited %d\n%s\n%s", code, out, errOut)
		}
		head := fmt.Sprintf("Run 1 of ruleset mobile: %s customers, %s proposals, 0 errors (succeeded).\nAs of 2026-11-23; started ",
			first.customers, count(first.proposals))
		if !strings.HasPrefix(out, head) {
			t.Errorf("runs show 1 does not start with %q:\n%s", head, out)
		}
		shown := map[string][]string{}
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) == 9 && !strings.Contains(line, " held back: ") {
				shown[f[0]] = f
			}
		}
		if len(first.rules) != len(rs.Enabled()) {
			t.Fatalf("the demo printed %d rules, the ruleset has %d enabled", len(first.rules), len(rs.Enabled()))
		}
		for _, r := range rs.Enabled() {
			var printed []string
			for _, p := range first.rules {
				if p[0] == r.ID {
					printed = p
				}
			}
			want := strings.Join(append(printed, "0.00%", "ok"), " ")
			if got := strings.Join(shown[r.ID], " "); printed == nil || got != want {
				t.Errorf("rule %s: runs show has %q, want %q (as the demo printed)", r.ID, got, want)
			}
		}
		if !strings.Contains(out, "0 of 8 rules unhealthy (failed for more than 1% of the customers).") ||
			strings.Contains(out, "failed for customer") {
			t.Errorf("a healthy run:\n%s", out)
		}

		if code, _, errOut := run(t, "runs", "show", "99", "--db", dsn); code != 1 || errOut != "goodturn runs: run 99: not found\n" {
			t.Errorf("runs show 99 exited %d: %q", code, errOut)
		}
		for _, args := range [][]string{{"show"}, {"show", "x"}, {"show", "1", "2"}, {"list"}, {"show", "1", "--max-error-share", "x"}, {"--limit", "-1"}} {
			if code, _, _ := run(t, append([]string{"runs", "--db", dsn}, args...)...); code != 2 {
				t.Errorf("runs %q exited %d, want 2", args, code)
			}
		}
	})
}

func TestRunsShowFlagsAFailingRule(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		code, out, errOut := run(t, "demo", "--db", dsn, "--rulesets", "../../rulesets", "--customers", "300", "--now", "2026-11-23")
		if code != 0 {
			t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
		}
		// A rule that divides by last month's data fails for the six
		// customers who used no data: 2% of 300.
		root := t.TempDir()
		dir := filepath.Join(root, "flaky")
		mkdir(t, dir)
		writeFile(t, filepath.Join(dir, "flaky.yaml"), `rules:
  - id: per-month-of-data
    name: Divides by the customer's data
    description: Fails with a division by zero for customers who used no data last month.
    owner: tests
    kind: test_benefit
    values:
      per_mb: div(100000, usage[0].data_mb)
    when: per_mb > 0
    value: 100
    message:
      template: flaky
`)
		writeFile(t, filepath.Join(dir, "flaky.tmpl"), `{{define "subject"}}Test{{end}}{{define "text"}}Test {{.FirstName}}{{end}}`)
		ctx := context.Background()
		db, err := database.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.ExecContext(ctx, `UPDATE usage SET quantity = 0 WHERE meter = 'data_mb' AND customer_id IN (
			SELECT customer_id FROM usage WHERE meter = 'data_mb' AND quantity > 0 GROUP BY customer_id ORDER BY customer_id LIMIT 6)`)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		code, out, errOut = run(t, "run", "--db", dsn, "--rulesets", root, "--now", "2026-11-23")
		if code != 0 {
			t.Fatalf("run exited %d\n%s\n%s", code, out, errOut)
		}
		flaky := printedRuns(t, out)[0]
		if flaky.errors != 6 {
			t.Fatalf("the flaky rule failed for %d customers, want 6:\n%s", flaky.errors, out)
		}
		row := regexp.MustCompile(`(?m)^  per-month-of-data +test_benefit( +\S+){5} +2\.00% +(\S+)$`)
		failures := regexp.MustCompile(`(?m)^  rule "per-month-of-data" failed for customer \d+: integer divide by zero$`)
		tests := []struct {
			flags  []string
			health string
		}{
			{nil, "UNHEALTHY"},
			{[]string{"--max-error-share", "1.5"}, "UNHEALTHY"},
			{[]string{"--max-error-share", "2%"}, "ok"}, // 2% does not exceed 2%
			{[]string{"--max-error-share=5"}, "ok"},
		}
		for _, tt := range tests {
			code, out, errOut := run(t, append([]string{"runs", "show", flaky.id, "--db", dsn}, tt.flags...)...)
			if code != 0 {
				t.Fatalf("runs show %s %q exited %d\n%s", flaky.id, tt.flags, code, errOut)
			}
			m := row.FindStringSubmatch(out)
			if m == nil || m[2] != tt.health {
				t.Errorf("runs show %s %q: want the rule with a 2.00%% error share %s:\n%s", flaky.id, tt.flags, tt.health, out)
			}
			// The failing customers are listed either way.
			if n := len(failures.FindAllString(out, -1)); n != 5 || !strings.Contains(out, `  … and 1 more customer for rule "per-month-of-data"`) {
				t.Errorf("runs show %s %q lists %d sample failures, want 5 and 1 more:\n%s", flaky.id, tt.flags, n, out)
			}
		}
		if code, out, _ := run(t, "runs", "--db", dsn, "--ruleset", "flaky"); code != 0 || !regexp.MustCompile(`\n  `+flaky.id+` .* succeeded +300 +\S+ +6 `).MatchString(out) {
			t.Errorf("runs --ruleset flaky exited %d, want its 6 errors:\n%s", code, out)
		}
	})
}
