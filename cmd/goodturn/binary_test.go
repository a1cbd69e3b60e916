package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runBinary runs the built binary in dir with a clean goodturn environment
// and returns its combined output; a failure fails the test.
func runBinary(t *testing.T, bin, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("goodturn %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// cleanEnv is the environment without GOODTURN_* variables, so that a
// developer's settings do not leak into a test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOODTURN_") {
			env = append(env, kv)
		}
	}
	return env
}

// TestBinaryFromEmptyFolder checks that an installed binary carries what it
// ships: from an empty folder it runs its demo on the embedded rulesets,
// and starts a project that check and test pass on.
func TestBinaryFromEmptyFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := buildBinary(t)
	dir := t.TempDir()

	out := runBinary(t, bin, dir, "demo", "--customers", "300", "--now", "2026-11-23")
	for _, want := range []string{"using the shipped rulesets built into goodturn", "Run 1 of ruleset mobile", "Every proposal is pending review"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}

	proj := filepath.Join(dir, "project")
	out = runBinary(t, bin, dir, "init", "project")
	for _, f := range []string{"rulesets/my-rules/first-late-fee.yaml", "rulesets/my-rules/first-late-fee_test.yaml",
		"rulesets/my-rules/first-late-fee.tmpl", "rulesets/schedule.conf", "billing/postgres.sql", "billing/sqlite.sql"} {
		if _, err := os.Stat(filepath.Join(proj, f)); err != nil {
			t.Errorf("init did not write %s: %v\n%s", f, err, out)
		}
	}
	out = runBinary(t, bin, proj, "check", "--strict")
	if !strings.Contains(out, "SUCCESS: 1 rules found") || !strings.Contains(out, "SUCCESS: 1 schedules found") {
		t.Errorf("check on the new project:\n%s", out)
	}
	out = runBinary(t, bin, proj, "test")
	if !strings.Contains(out, "0 failed") {
		t.Errorf("test on the new project:\n%s", out)
	}

	// A second init refuses to overwrite anything.
	cmd := exec.Command(bin, "init", "project")
	cmd.Dir, cmd.Env = dir, cleanEnv()
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "already exists") {
		t.Errorf("a second init: err %v, output:\n%s", err, b)
	}
}
