package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
)

// TestMigrateCreatesTheSearchPathSchema migrates a PostgreSQL address whose
// search_path names a schema that does not exist yet: migrate creates it.
func TestMigrateCreatesTheSearchPathSchema(t *testing.T) {
	base := os.Getenv(dbtest.PostgresEnv)
	if base == "" {
		t.Skip(dbtest.PostgresEnv + " is not set: PostgreSQL not tested")
	}
	schema := fmt.Sprintf("goodturn_new_%d", time.Now().UnixNano())
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	dsn := base + sep + "search_path=" + schema
	t.Cleanup(func() {
		db, err := database.Open(context.Background(), base)
		if err == nil {
			db.ExecContext(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
			db.Close()
		}
	})
	code, out, errOut := run(t, "migrate", "--db", dsn)
	if code != 0 || !strings.Contains(out, "Created schema "+schema) || !strings.Contains(out, "Applied ") {
		t.Fatalf("migrate exited %d:\n%s%s", code, out, errOut)
	}
	if code, out, _ := run(t, "migrate", "--db", dsn); code != 0 || !strings.Contains(out, "is up to date") || strings.Contains(out, "Created") {
		t.Errorf("second migrate exited %d:\n%s", code, out)
	}
}

// TestRunWithoutBillingDataSaysWhatIsMissing runs on goodturn's own tables
// alone: the error names every missing billing relation and where to look.
func TestRunWithoutBillingDataSaysWhatIsMissing(t *testing.T) {
	db := filepath.Join(t.TempDir(), "goodturn.db")
	if code, out, errOut := run(t, "migrate", "--db", db); code != 0 {
		t.Fatalf("migrate exited %d:\n%s%s", code, out, errOut)
	}
	code, _, errOut := run(t, "run", "--db", db, "--rulesets", "../../rulesets")
	for _, want := range []string{"the billing data has no customers, plans, plan_allowances, subscriptions, addons, usage, charges, events", "docs/billing-data.md", "--billing-db"} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("run exited %d, stderr lacks %q:\n%s", code, want, errOut)
		}
	}
}

// TestReadingCommandsNeverCreateADatabase runs every command that only
// reads against a database that does not exist: each says so and none
// creates the file.
func TestReadingCommandsNeverCreateADatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "typo.db")
	for _, args := range [][]string{
		{"runs"}, {"runs", "show", "1"}, {"review", "list"}, {"review", "show", "1"}, {"review", "audit"},
		{"explain", "--customer", "7"}, {"outcomes"}, {"suppress", "list"}, {"user", "list"}, {"send", "list"},
	} {
		code, _, errOut := run(t, append(args, "--db", db)...)
		if code != 1 || !strings.Contains(errOut, "no such database at "+db) {
			t.Errorf("goodturn %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
		}
		if _, err := os.Stat(db); err == nil {
			t.Fatalf("goodturn %s created %s", strings.Join(args, " "), db)
		}
	}
}
