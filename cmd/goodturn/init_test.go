package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestStarterViewsCoverContract checks that each billing-view starter maps
// every relation and column of the facts contract (engine/billing/schema.sql).
func TestStarterViewsCoverContract(t *testing.T) {
	schema, err := os.ReadFile("../../engine/billing/schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	table := regexp.MustCompile(`(?s)CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);`)
	column := regexp.MustCompile(`(?m)^    (\w+)\s`)
	contract := map[string][]string{}
	for _, m := range table.FindAllStringSubmatch(string(schema), -1) {
		for _, c := range column.FindAllStringSubmatch(m[2], -1) {
			if c[1] != "PRIMARY" {
				contract[m[1]] = append(contract[m[1]], c[1])
			}
		}
	}
	if len(contract) != 8 {
		t.Fatalf("read %d relations from schema.sql, want 8", len(contract))
	}
	for _, file := range []string{"starter/billing/postgres.sql", "starter/billing/sqlite.sql"} {
		b, err := starter.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		views := map[string]string{}
		for _, part := range strings.Split(string(b), "CREATE ")[1:] {
			if m := regexp.MustCompile(`^(?:OR REPLACE )?VIEW (?:IF NOT EXISTS )?(?:billing\.)?(\w+) AS`).FindStringSubmatch(part); m != nil {
				views[m[1]] = part
			}
		}
		for rel, cols := range contract {
			view, ok := views[rel]
			if !ok {
				t.Errorf("%s: no view %s", file, rel)
				continue
			}
			for _, c := range cols {
				if !regexp.MustCompile(`\bAS ` + c + `\b`).MatchString(view) {
					t.Errorf("%s: view %s has no column %s", file, rel, c)
				}
			}
		}
	}
}
