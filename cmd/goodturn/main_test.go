package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/store"
)

// run runs the command line and returns its exit code and output.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	code := Main(context.Background(), env, args)
	return code, stdout.String(), stderr.String()
}

func TestDemo(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		code, out, errOut := run(t, "demo", "--db", dsn, "--rulesets", "../../rulesets", "--customers", "1500", "--now", "2026-11-23")
		if code != 0 {
			t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
		}
		for _, want := range []string{"cheaper-plan", "cheaper_plan", "free_replacement", "fee_waiver", "Subject:", "£", "nothing has been sent"} {
			if !strings.Contains(out, want) {
				t.Errorf("demo output lacks %q:\n%s", want, out)
			}
		}
		// A second demo replaces the first.
		if code, out, errOut := run(t, "demo", "--db", dsn, "--rulesets", "../../rulesets", "--customers", "200", "--now", "2026-11-23"); code != 0 || !strings.Contains(out, "Replacing the earlier demo") {
			t.Fatalf("second demo exited %d\n%s\n%s", code, out, errOut)
		}
		// Running again the same day proposes nothing new.
		code, out, errOut = run(t, "run", "--db", dsn, "--rulesets", "../../rulesets", "--now", "2026-11-23")
		if code != 0 {
			t.Fatalf("run exited %d\n%s\n%s", code, out, errOut)
		}
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) == 7 && f[0] != "rule" && f[3] != "0" {
				t.Errorf("run after demo proposed again: %q", line)
			}
		}
	})
}

func TestDemoRefusesForeignBillingData(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "billing.db")
	if code, out, errOut := run(t, "demo", "--db", db, "--rulesets", "../../rulesets", "--customers", "50"); code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
	}
	// goodturn's own tables elsewhere, with the demo's billing data: the
	// new database has no demo mark, so its demo must not replace the data.
	code, _, errOut := run(t, "demo", "--db", filepath.Join(dir, "other.db"), "--billing-db", db, "--rulesets", "../../rulesets")
	if code != 1 || !strings.Contains(errOut, "did not create") {
		t.Fatalf("demo over foreign billing data exited %d: %s", code, errOut)
	}
}

func TestCheck(t *testing.T) {
	code, out, _ := run(t, "check", "../../rulesets")
	if code != 0 || !regexp.MustCompile(`Checking ../../rulesets/mobile\n  SUCCESS: \d+ rules found`).MatchString(out) {
		t.Errorf("check of the shipped rulesets exited %d:\n%s", code, out)
	}
	code, out, _ = run(t, "check", "testdata/bad")
	want := `Checking testdata/bad
  FAILED:
testdata/bad/broken.yaml:2:5: rule "broken": missing field "when"
testdata/bad/broken.yaml:7:5: rule "broken": unknown field "whn" (did you mean "when"?)
testdata/bad/broken.yaml:8:12: rule "broken": value: must be an integer amount in minor units, got string
testdata/bad/broken.yaml:10:17: rule "broken": unknown template "nowhere": no file testdata/bad/nowhere.tmpl
`
	if code != 1 || !strings.HasPrefix(out, want) {
		t.Errorf("check of a broken ruleset exited %d:\n%s\nwant:\n%s", code, out, want)
	}
}

func TestUnknownCommand(t *testing.T) {
	if code, _, errOut := run(t, "frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command exited %d: %s", code, errOut)
	}
}

func TestTestCommand(t *testing.T) {
	code, out, errOut := run(t, "test", "../../rulesets")
	if code != 0 || !strings.HasSuffix(out, " passed, 0 failed\n") || !strings.Contains(out, "ok    ../../rulesets/mobile") {
		t.Fatalf("goodturn test exited %d:\n%s\n%s", code, out, errOut)
	}
	junit := filepath.Join(t.TempDir(), "junit.xml")
	// A ruleset whose test expects the wrong value fails, with the
	// difference spelled out.
	dir := filepath.Join(t.TempDir(), "mobile")
	copyDir(t, "../../rulesets/mobile", dir)
	writeFile(t, filepath.Join(dir, "zz_wrong_test.yaml"), `now: 2026-11-23
plans:
  - {id: a, name: A, monthly_price: 500, allowances: {data_mb: {included: 1000}}}
  - {id: b, name: B, monthly_price: 900, allowances: {data_mb: {included: 9000}}}
tests:
  - name: wrong saving
    subscription: {plan_id: b}
    usage: [{data_mb: 10}, {data_mb: 10}, {data_mb: 10}]
    expect:
      - {rule: cheaper-plan, value: 100}
`)
	code, out, _ = run(t, "test", "--junit", junit, dir)
	if code != 1 || !strings.Contains(out, "rule cheaper-plan: value: want 100 (£1.00), got 4800 (£48.00)") || !strings.HasSuffix(out, " passed, 1 failed\n") {
		t.Errorf("a wrong expectation: exit %d\n%s", code, out)
	}
	if b, err := os.ReadFile(junit); err != nil || !strings.Contains(string(b), `failures="1"`) {
		t.Errorf("JUnit file: %v\n%s", err, b)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(to, e.Name()), string(b))
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDryRunDiffShowsTheEffectOfAThresholdChange(t *testing.T) {
	db := filepath.Join(t.TempDir(), "goodturn.db")
	if code, out, errOut := run(t, "demo", "--db", db, "--rulesets", "../../rulesets", "--customers", "1000", "--now", "2026-11-23"); code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
	}
	// A second run the same day proposes nothing new; the diff must still
	// compare with the day's proposals.
	if code, out, errOut := run(t, "run", "--db", db, "--rulesets", "../../rulesets", "--now", "2026-11-23"); code != 0 {
		t.Fatalf("run exited %d\n%s\n%s", code, out, errOut)
	}
	// A product team raises the cheaper-plan threshold from £1 to £3 a month
	// in a copy of the ruleset.
	root := t.TempDir()
	dir := filepath.Join(root, "mobile")
	copyDir(t, "../../rulesets/mobile", dir)
	path := filepath.Join(dir, "cheaper-plan.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), "monthly_saving >= 100", "monthly_saving >= 300", 1)
	if edited == string(b) {
		t.Fatal("the threshold to edit is not in cheaper-plan.yaml")
	}
	writeFile(t, path, edited)

	code, out, errOut := run(t, "run", "--dry-run", "--diff", "--db", db, "--rulesets", root, "--now", "2026-11-23")
	if code != 0 {
		t.Fatalf("dry run exited %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "Compared with the") || !regexp.MustCompile(`cheaper-plan: [\d,]+ → [\d,]+ proposals .*: 0 added, [1-9]\d* removed, 0 changed value`).MatchString(out) {
		t.Errorf("diff does not show removed cheaper-plan customers:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^    - customer \d+ \(£([0-9]|[12][0-9]|3[0-5])\.\d\d a year\)$`).MatchString(out) {
		t.Errorf("diff lists no removed customer with a saving under £3 a month (£36 a year):\n%s", out)
	}
	if !regexp.MustCompile(`free-sim-replacement: .*: 0 added, 0 removed, 0 changed value`).MatchString(out) {
		t.Errorf("the other rules should be unchanged:\n%s", out)
	}
	// Nothing was recorded.
	if code, out, _ := run(t, "run", "--dry-run", "--db", db, "--rulesets", "../../rulesets", "--now", "2026-11-23"); code != 0 || !strings.Contains(out, "nothing recorded") {
		t.Errorf("dry run: %d %s", code, out)
	}
}

func TestCheckWarningsAndTemplates(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"warnings pass", []string{"check", "testdata/warn"}, 0, `Checking testdata/warn
  SUCCESS: 1 rules found
  WARNING: testdata/warn/rules.yaml:2:9: rule "untested": no tests: name the rule in a test's expect or absent in a _test.yaml file beside it
  WARNING: testdata/warn/rules.yaml:8:7: rule "untested": named value "unused" is never used
  WARNING: testdata/warn/rules.yaml:10:11: rule "untested": when can never be true: false is always false
  WARNING: testdata/warn/rules.yaml:13:17: rule "untested": template untested.tmpl not rendered: no test makes the rule fire
`},
		{"strict fails on warnings", []string{"check", "--strict", "testdata/warn"}, 1, `Checking testdata/warn
  FAILED:
WARNING: testdata/warn/rules.yaml:2:9: rule "untested": no tests`},
		{"a template using a missing offer field", []string{"check", "testdata/badtemplate"}, 1, `Checking testdata/badtemplate
  FAILED:
testdata/badtemplate/rules.yaml:12:17: rule "tested": tested.tmpl:1:106: executing "text" at <.Offer.old_price>: map has no entry for key "old_price"
`},
		{"a template printing an amount of its own", []string{"check", "--strict", "testdata/unsourced"}, 1, `Checking testdata/unsourced
  FAILED:
WARNING: testdata/unsourced/rules.yaml:12:17: rule "tested": template tested.tmpl prints an amount of money that is not in the offer or evidence (in its text)`},
		{"shipped rulesets pass strict", []string{"check", "--strict", "../../rulesets"}, 0, "Checking ../../rulesets/mobile\n  SUCCESS: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, tt.args...)
			if code != tt.wantCode || !strings.HasPrefix(out, tt.want) {
				t.Errorf("exit %d, want %d; output:\n%s%s\nwant prefix:\n%s", code, tt.wantCode, out, errOut, tt.want)
			}
		})
	}
}

func TestExplainShowsTheArithmeticOfACheaperPlan(t *testing.T) {
	db := filepath.Join(t.TempDir(), "goodturn.db")
	code, out, errOut := run(t, "demo", "--db", db, "--rulesets", "../../rulesets", "--customers", "300", "--now", "2026-11-23")
	if code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
	}
	// The demo's sample message names a customer with a cheaper-plan proposal.
	m := regexp.MustCompile(`── cheaper-plan, to customer (\d+) `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no cheaper-plan message in the demo:\n%s", out)
	}
	code, out, errOut = run(t, "explain", "--customer", m[1], "--rule", "cheaper-plan", "--db", db, "--rulesets", "../../rulesets", "--now", "2026-11-23")
	if code != 0 {
		t.Fatalf("explain exited %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`cheaper-plan: MATCHES`),
		regexp.MustCompile(`best = plan \S+ \(.*, £\d+\.\d\d a month\) over the last 3 months:`),
		regexp.MustCompile(`(?m)^\s+month\s+on \S+\s+on \S+ \(now\)$`),
		regexp.MustCompile(`(?m)^\s+2026-10\s+£\d+\.\d\d\s+£\d+\.\d\d$`),
		regexp.MustCompile(`(?m)^\s+total\s+£\d+\.\d\d\s+£\d+\.\d\d$`),
		regexp.MustCompile(`saving £\d+\.\d\d \(£\d+\.\d\d a month\)`),
		regexp.MustCompile(`✓ min_monthly_saving >= 100  → true`),
		regexp.MustCompile(`value: £\d+\.\d\d a year`),
	} {
		if !want.MatchString(out) {
			t.Errorf("explain output lacks %s:\n%s", want, out)
		}
	}
	if code, _, errOut := run(t, "explain", "--customer", m[1], "--rule", "nope", "--db", db, "--rulesets", "../../rulesets"); code != 2 || !strings.Contains(errOut, `no rule "nope"`) {
		t.Errorf("explain of an unknown rule exited %d: %s", code, errOut)
	}
}

func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	// bench runs the measured run as a child process of the goodturn binary.
	bin := buildBinary(t)
	for _, dsn := range benchDatabases(t) {
		cmd := exec.Command(bin, "bench", "--db", dsn, "--customers", "400", "--rulesets", "../../rulesets", "--now", "2026-11-23", "--rounds", "2")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bench on %s: %v\n%s", dsn, err, out)
		}
		if !regexp.MustCompile(`(?m)^  customers\s+400$`).Match(out) {
			t.Errorf("bench output lacks the customer count:\n%s", out)
		}
		wants := []string{"ordered read-out (", "unordered read-out", "dry run", "run, end to end", "run / ordered read-out",
			"run / unordered read-out", "customers/s", "rule evaluations/s", "proposals written", "peak RSS of a run",
			"the next night's run, this night's proposals pending"}
		if strings.HasPrefix(dsn, "postgres") {
			wants = append(wants, "SQL peer / run", "run agrees with the SQL peer")
			if !regexp.MustCompile(`run agrees with the SQL peer\s+yes: the same [1-9]`).Match(out) {
				t.Errorf("bench does not say the run agrees with the SQL peer:\n%s", out)
			}
		}
		for _, want := range wants {
			if !strings.Contains(string(out), want) {
				t.Errorf("bench output lacks %q:\n%s", want, out)
			}
		}
		if !regexp.MustCompile(`proposals written\s+[1-9]`).Match(out) {
			t.Errorf("bench wrote no proposals:\n%s", out)
		}
	}
}

// postgresIfSet returns a fresh PostgreSQL DSN, or "" when GOODTURN_TEST_POSTGRES
// is unset or psql is missing: the caller then tests SQLite alone.
func postgresIfSet(t *testing.T) string {
	if os.Getenv(dbtest.PostgresEnv) == "" {
		return ""
	}
	if _, err := exec.LookPath("psql"); err != nil {
		t.Log("psql not found: PostgreSQL bench not tested")
		return ""
	}
	return dbtest.PostgresDSN(t)
}

func TestCheckReadsTheSchedule(t *testing.T) {
	code, out, _ := run(t, "check", "--rulesets", "../../rulesets")
	if code != 0 || !strings.Contains(out, "Checking ../../rulesets/schedule.conf\n  SUCCESS: 2 schedules found") {
		t.Errorf("check of the shipped rulesets and schedule exited %d:\n%s", code, out)
	}
	root := t.TempDir()
	copyDir(t, "../../rulesets/mobile", filepath.Join(root, "mobile"))
	writeFile(t, filepath.Join(root, "schedule.conf"), "mobil: \"CRON_TZ=Europe/London 30 2 * * *\"\n")
	code, out, _ = run(t, "check", "--rulesets", root)
	if code != 1 || !strings.Contains(out, `schedule.conf:1:1: ruleset "mobil"`) || !strings.Contains(out, `did you mean "mobile"?`) {
		t.Errorf("check of a schedule naming an unknown ruleset exited %d:\n%s", code, out)
	}
}

func TestRunTakesItsTurn(t *testing.T) {
	dsn := dbtest.PostgresDSN(t) // the lock across processes is PostgreSQL's
	if code, out, errOut := run(t, "demo", "--db", dsn, "--rulesets", "../../rulesets", "--customers", "100", "--now", "2026-11-23"); code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
	}
	db, err := database.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Another process is running the mobile ruleset.
	lock, ok, err := store.TryLockRuleset(context.Background(), db, "mobile")
	if err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	code, _, errOut := run(t, "run", "--db", dsn, "--rulesets", "../../rulesets", "--now", "2026-11-23")
	if code != 1 || !strings.Contains(errOut, "ruleset mobile is being run by another process") {
		t.Errorf("run while another process runs mobile exited %d: %s", code, errOut)
	}
	lock.Unlock()
	if code, out, errOut := run(t, "run", "--db", dsn, "--rulesets", "../../rulesets", "--now", "2026-11-23"); code != 0 {
		t.Errorf("run after the lock is released exited %d\n%s\n%s", code, out, errOut)
	}
}

// TestExplainOfAQuoteThatCannotBeMade explains cheaper-plan for customers
// no plan can be quoted for: one with usage on a meter no plan covers, and
// one whose customer row the billing data holds twice. Both used to panic
// on the rule's nil quote.
func TestExplainOfAQuoteThatCannotBeMade(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "goodturn.db")
	if code, out, errOut := run(t, "demo", "--db", db, "--rulesets", "../../rulesets", "--customers", "60", "--now", "2026-11-23"); code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
	}
	d, err := database.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, q := range []string{
		// Customer 1 used a meter no plan has an allowance for.
		`INSERT INTO usage (customer_id, month, meter, quantity) VALUES (1, '2026-10-01', 'satellite_min', 7)`,
		// Customer 2's row appears twice.
		`ALTER TABLE customers RENAME TO customers_table`,
		`CREATE VIEW customers AS SELECT * FROM customers_table UNION ALL SELECT * FROM customers_table WHERE id = 2`,
	} {
		if _, err := d.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, customer := range []string{"1", "2"} {
		code, out, errOut := run(t, "explain", "--customer", customer, "--rule", "cheaper-plan", "--db", db, "--rulesets", "../../rulesets", "--now", "2026-11-23")
		switch {
		case code == 0 && !strings.Contains(out, "best = nil"):
			t.Errorf("explain of customer %s does not say there is no quote:\n%s", customer, out)
		case code != 0 && (code != 1 || errOut == ""):
			t.Errorf("explain of customer %s exited %d\n%s\n%s", customer, code, out, errOut)
		}
	}
}
