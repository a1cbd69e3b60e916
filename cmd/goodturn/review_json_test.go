package main

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

// TestReviewJSON reads review list and review show as JSON, as an analyst
// would, and checks them against each other.
func TestReviewJSON(t *testing.T) {
	db := filepath.Join(t.TempDir(), "goodturn.db")
	if code, out, errOut := run(t, "demo", "--db", db, "--rulesets", "../../rulesets", "--customers", "300", "--now", "2026-11-23"); code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut := run(t, "review", "list", "--json", "--db", db, "--now", "2026-11-23")
	var batches []jsonBatch
	if code != 0 || json.Unmarshal([]byte(out), &batches) != nil || len(batches) == 0 {
		t.Fatalf("review list --json exited %d: %s%s", code, out, errOut)
	}
	var cheaper jsonBatch
	for _, b := range batches {
		if b.Rule == "cheaper-plan" {
			cheaper = b
		}
	}
	if cheaper.Pending < 3 || cheaper.Value <= 0 || cheaper.Currency != "GBP" {
		t.Fatalf("cheaper-plan batch: %+v", cheaper)
	}
	code, out, errOut = run(t, "review", "show", cheaper.Batch, "--json", "--limit", "3", "--db", db, "--now", "2026-11-23")
	var shown jsonBatch
	if code != 0 || json.Unmarshal([]byte(out), &shown) != nil || shown.Pending != cheaper.Pending || len(shown.Proposals) != 3 {
		t.Fatalf("review show %s --json exited %d: %s%s", cheaper.Batch, code, out, errOut)
	}
	p := shown.Proposals[0]
	code, out, _ = run(t, "review", "show", "--json", "--db", db, "--now", "2026-11-23", jsonID(p.ID))
	var one jsonProposal
	if code != 0 || json.Unmarshal([]byte(out), &one) != nil || one.ID != p.ID || one.Value != p.Value || len(one.Evidence) == 0 {
		t.Fatalf("review show %d --json exited %d: %s", p.ID, code, out)
	}
}

func jsonID(id int64) string { b, _ := json.Marshal(id); return string(b) }
