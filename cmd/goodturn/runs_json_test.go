package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
)

func TestRunsJSON(t *testing.T) {
	db := filepath.Join(t.TempDir(), "goodturn.db")
	if code, out, errOut := run(t, "demo", "--db", db, "--rulesets", "../../rulesets", "--customers", "200", "--now", "2026-11-23"); code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut := run(t, "runs", "--db", db, "--json")
	if code != 0 {
		t.Fatalf("runs --json exited %d\n%s", code, errOut)
	}
	var runs []jsonRun
	if err := json.Unmarshal([]byte(out), &runs); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(runs) != 2 || len(runs[0].Rules) == 0 || runs[0].Status != "succeeded" {
		t.Fatalf("runs --json: %+v", runs)
	}
	var held int64
	for _, r := range runs {
		for _, rr := range r.Rules {
			for _, n := range rr.Held {
				held += n
			}
		}
	}
	if held == 0 {
		t.Errorf("no held-back counts in %s", out)
	}
	code, out, errOut = run(t, "runs", "show", fmt.Sprint(runs[1].ID), "--db", db, "--json")
	if code != 0 {
		t.Fatalf("runs show --json exited %d\n%s", code, errOut)
	}
	var one jsonRun
	if err := json.Unmarshal([]byte(out), &one); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if one.ID != runs[1].ID || one.Ruleset != runs[1].Ruleset {
		t.Errorf("runs show --json: %+v, want run %d", one, runs[1].ID)
	}
}
