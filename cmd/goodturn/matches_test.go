package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDryRunOutputListsEveryMatch checks that `run --dry-run --output`
// writes one row per customer and rule that matched, proposed or held back
// with its reason, as many as the printed table's matched column says.
func TestDryRunOutputListsEveryMatch(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "goodturn.db")
	if code, out, errOut := run(t, "demo", "--db", db, "--rulesets", "../../rulesets", "--customers", "300", "--now", "2026-11-23"); code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
	}
	csvPath, jsonPath := filepath.Join(dir, "matches.csv"), filepath.Join(dir, "matches.json")
	code, out, errOut := run(t, "run", "--dry-run", "--db", db, "--rulesets", "../../rulesets", "--now", "2026-11-23", "--output", csvPath)
	if code != 0 {
		t.Fatalf("run exited %d\n%s\n%s", code, out, errOut)
	}
	// The matched column of the printed table, by rule.
	matched := map[string]int{}
	row := regexp.MustCompile(`(?m)^  ([a-z-]+)\s+[a-z_]+\s+([\d,]+)\s`)
	for _, m := range row.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(strings.ReplaceAll(m[2], ",", ""))
		matched[m[1]] += n
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(records[0], ","); got != "ruleset,rule,kind,customer,value,currency,offer,decision,reason,detail" {
		t.Fatalf("header %s", got)
	}
	listed, reasons := map[string]int{}, map[string]int{}
	for _, r := range records[1:] {
		listed[r[1]]++
		switch r[7] {
		case "proposed":
			if r[8] != "" {
				t.Errorf("a proposed match with a reason: %v", r)
			}
		case "held":
			reasons[r[8]]++
		default:
			t.Errorf("decision %q", r[7])
		}
		if !json.Valid([]byte(r[6])) {
			t.Errorf("offer is not JSON: %v", r)
		}
	}
	for rule, n := range matched {
		if listed[rule] != n {
			t.Errorf("%s: %d matched, %d rows", rule, n, listed[rule])
		}
	}
	// The demo's proposals are pending, so this dry run holds them back.
	if reasons["pending"] == 0 || reasons["no_marketing_consent"] == 0 {
		t.Errorf("held reasons %v, want pending and no_marketing_consent among them", reasons)
	}

	if code, out, errOut := run(t, "run", "--dry-run", "--db", db, "--rulesets", "../../rulesets", "--now", "2026-11-23", "--output", jsonPath); code != 0 {
		t.Fatalf("run exited %d\n%s\n%s", code, out, errOut)
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rows []matchRow
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(records)-1 {
		t.Errorf("%d JSON rows, %d CSV rows", len(rows), len(records)-1)
	}

	for _, args := range [][]string{{"--output", "m.csv"}, {"--dry-run", "--output", "m.txt"}} {
		if code, _, _ := run(t, append([]string{"run", "--db", db, "--rulesets", "../../rulesets"}, args...)...); code != 2 {
			t.Errorf("run %v exited %d, want 2", args, code)
		}
	}
}
