package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// benchDatabases are the databases a bench is tested on: a fresh SQLite
// file, and PostgreSQL when GOODTURN_TEST_POSTGRES is set.
func benchDatabases(t *testing.T) []string {
	dbs := []string{filepath.Join(t.TempDir(), "bench.db")}
	if pg := postgresIfSet(t); pg != "" {
		dbs = append(dbs, pg)
	}
	return dbs
}

// TestBenchOutcomes runs bench --outcomes and measures what it wrote with
// goodturn outcomes as of the day it names: the planted lift in uptake is
// found, and each rule has its revenue figure.
func TestBenchOutcomes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	for _, dsn := range benchDatabases(t) {
		cmd := exec.Command(bin, "bench", "--db", dsn, "--customers", "3000", "--rulesets", "../../rulesets", "--now", "2026-11-23", "--outcomes")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bench --outcomes on %s: %v\n%s", dsn, err, out)
		}
		if !regexp.MustCompile(`wrote what customers did in the 120 days after the run: [1-9][\d,]* plan changes, [1-9][\d,]* departures, [1-9][\d,]* monthly bills`).Match(out) {
			t.Errorf("bench --outcomes does not say what it wrote:\n%s", out)
		}
		if !strings.Contains(string(out), "goodturn outcomes --db ") || !strings.Contains(string(out), " --now 2027-03-23") {
			t.Errorf("bench --outcomes does not say how to measure them:\n%s", out)
		}
		outcomesReport(t, dsn, "2027-03-23", "mobile/cheaper-plan", "more contacted customers took the offer", "revenue 3m  £")
	}
}
