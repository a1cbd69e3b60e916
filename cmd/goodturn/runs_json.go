package main

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
)

// jsonRun is a run as `goodturn runs --json` writes it.
type jsonRun struct {
	ID         int64      `json:"id"`
	Ruleset    string     `json:"ruleset"`
	DryRun     bool       `json:"dry_run"`
	AsOf       string     `json:"as_of"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Status     string     `json:"status"`
	Customers  int64      `json:"customers"`
	Proposals  int64      `json:"proposals"`
	Errors     int64      `json:"errors"`
	Refused    int64      `json:"refused"`
	Error      string     `json:"error,omitempty"`
	Rules      []jsonRule `json:"rules"`
}

// jsonRule is what one rule did in a run, with the matches it held back by
// reason.
type jsonRule struct {
	Rule      string           `json:"rule"`
	Version   string           `json:"version"`
	Kind      string           `json:"kind"`
	Matched   int64            `json:"matched"`
	Proposals int64            `json:"proposals"`
	Value     int64            `json:"value"`
	HeldBack  int64            `json:"held_back"`
	Held      map[string]int64 `json:"held,omitempty"`
	Errors    int64            `json:"errors"`
}

// toJSONRun converts a run and its held-back counts by rule and reason.
func toJSONRun(r store.Run, held map[string]map[string]int64) jsonRun {
	out := jsonRun{ID: r.ID, Ruleset: r.Ruleset, DryRun: r.DryRun, AsOf: r.AsOf.Format(time.DateOnly), StartedAt: r.StartedAt,
		Status: r.Status, Customers: r.Customers, Proposals: r.Proposals, Errors: r.Errors, Refused: r.Refused, Error: r.Error,
		Rules: []jsonRule{}}
	if !r.FinishedAt.IsZero() {
		t := r.FinishedAt
		out.FinishedAt = &t
	}
	for _, rr := range r.Rules {
		out.Rules = append(out.Rules, jsonRule{Rule: rr.RuleID, Version: rr.RuleVersion, Kind: rr.Kind, Matched: rr.Matched,
			Proposals: rr.Proposals, Value: rr.Value, HeldBack: rr.Skipped, Held: held[rr.RuleID], Errors: rr.Errors})
	}
	return out
}

// writeRunsJSON writes runs as a JSON array, each with its held-back counts.
func writeRunsJSON(ctx context.Context, w io.Writer, db *database.DB, runs []store.Run) error {
	out := make([]jsonRun, 0, len(runs))
	for _, r := range runs {
		held, err := store.Held(ctx, db, r.ID)
		if err != nil {
			return err
		}
		out = append(out, toJSONRun(r, held))
	}
	return writeJSON(w, out)
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
