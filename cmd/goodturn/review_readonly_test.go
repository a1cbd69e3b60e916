package main

import (
	"context"
	"maps"
	"regexp"
	"strings"
	"testing"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
)

// proposalStatuses returns every proposal's status by id.
func proposalStatuses(t *testing.T, dsn string) map[int64]string {
	t.Helper()
	ctx := context.Background()
	db, err := database.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT id, status FROM proposals`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var s string
		if err := rows.Scan(&id, &s); err != nil {
			t.Fatal(err)
		}
		out[id] = s
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReviewReadingNeverWrites lists and shows proposals a month after
// their run, when every pending one is overdue: the listings say what
// would expire and change no status; only `review expire` expires them.
func TestReviewReadingNeverWrites(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, db string) {
		if code, out, errOut := run(t, "demo", "--db", db, "--rulesets", "../../rulesets", "--customers", "200", "--now", "2026-11-23"); code != 0 {
			t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
		}
		before := proposalStatuses(t, db)
		if len(before) == 0 {
			t.Fatal("the demo made no proposals")
		}
		late := []string{"--db", db, "--now", "2026-12-23"}
		for _, args := range [][]string{
			{"review", "list"},
			{"review", "list", "--all"},
			{"review", "show", "1/cheaper-plan"},
			{"review", "show", "1/cheaper-plan", "--status", "all"},
			{"review", "show", "1"},
			{"review", "audit", "--db", db},
		} {
			if args[1] != "audit" {
				args = append(args, late...) // the audit log has no clock
			}
			code, out, errOut := run(t, args...)
			if code != 0 {
				t.Fatalf("%s: exited %d\n%s", strings.Join(args, " "), code, errOut)
			}
			if after := proposalStatuses(t, db); !maps.Equal(before, after) {
				t.Fatalf("%s changed proposal statuses", strings.Join(args, " "))
			}
			switch strings.Join(args, " ") {
			case "review list":
				if !regexp.MustCompile(`(?m)^  1/cheaper-plan .*\d+ would expire \(pending > 2w\)$`).MatchString(out) {
					t.Errorf("review list does not say what would expire:\n%s", out)
				}
			case "review show 1/cheaper-plan":
				if !regexp.MustCompile(`\d+ proposals pending for more than 2w would expire`).MatchString(out) {
					t.Errorf("review show batch does not say what would expire:\n%s", out)
				}
			case "review show 1":
				if before[1] == "pending" && !strings.Contains(out, "it would expire") {
					t.Errorf("review show 1 does not say it would expire:\n%s", out)
				}
			}
		}
		code, out, _ := run(t, append([]string{"review", "expire"}, late...)...)
		if code != 0 || !regexp.MustCompile(`^Expired \d+ proposals`).MatchString(out) {
			t.Fatalf("review expire: %d %q", code, out)
		}
		for id, s := range proposalStatuses(t, db) {
			if before[id] == "pending" && s != "expired" {
				t.Errorf("proposal %d is %s after review expire", id, s)
			}
		}
	})
}
