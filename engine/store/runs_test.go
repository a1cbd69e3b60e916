package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/store"
)

func TestListRuns(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.MustOpenMigrated(t, dsn)
		if runs, err := store.ListRuns(ctx, db, store.RunFilter{}); err != nil || len(runs) != 0 {
			t.Fatalf("ListRuns on no runs = %v, %v", runs, err)
		}

		day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
		start := day.Add(6 * time.Hour)
		// finish records a finished run with the given per-rule results.
		finish := func(ruleset string, at time.Time, rules ...store.RunRule) *store.Run {
			t.Helper()
			r := &store.Run{Ruleset: ruleset, AsOf: day, StartedAt: at}
			if err := store.CreateRun(ctx, db, r); err != nil {
				t.Fatal(err)
			}
			r.FinishedAt = at.Add(1500 * time.Millisecond)
			r.Status = store.RunSucceeded
			r.Customers = 300
			r.Rules = rules
			for _, rr := range rules {
				r.Proposals += rr.Proposals
				r.Errors += rr.Errors
			}
			if err := store.FinishRun(ctx, db, r); err != nil {
				t.Fatal(err)
			}
			return r
		}
		cheaper := store.RunRule{RuleID: "cheaper-plan", RuleVersion: "v1", Kind: "cheaper_plan", Matched: 60, Proposals: 56, Skipped: 4, Value: 336000}
		flaky := store.RunRule{RuleID: "flaky", RuleVersion: "v2", Kind: "test_benefit", Matched: 10, Proposals: 10, Errors: 3, Value: 1000,
			ErrorSamples: []store.ErrorSample{{CustomerID: 4, Error: "integer divide by zero"}, {CustomerID: 9, Error: "integer divide by zero"}}}
		late := store.RunRule{RuleID: "late-fee-waiver", RuleVersion: "v1", Kind: "fee_waiver", Matched: 7, Proposals: 7, Value: 7000}

		r1 := finish("mobile", start, late, cheaper)
		r2 := finish("broadband", start.Add(time.Minute), flaky)
		r3 := finish("mobile", start.Add(2*time.Minute), cheaper, flaky, late)
		// A run still going has no rule rows and no finish time.
		r4 := &store.Run{Ruleset: "mobile", AsOf: day, StartedAt: start.Add(3 * time.Minute)}
		if err := store.CreateRun(ctx, db, r4); err != nil {
			t.Fatal(err)
		}

		ids := func(runs []store.Run) []int64 {
			var out []int64
			for _, r := range runs {
				out = append(out, r.ID)
			}
			return out
		}
		tests := []struct {
			name string
			f    store.RunFilter
			want []int64
		}{
			{"all", store.RunFilter{}, []int64{r4.ID, r3.ID, r2.ID, r1.ID}},
			{"ruleset", store.RunFilter{Ruleset: "mobile"}, []int64{r4.ID, r3.ID, r1.ID}},
			{"limit", store.RunFilter{Limit: 2}, []int64{r4.ID, r3.ID}},
			{"ruleset and limit", store.RunFilter{Ruleset: "mobile", Limit: 2}, []int64{r4.ID, r3.ID}},
			{"other ruleset", store.RunFilter{Ruleset: "broadband", Limit: 5}, []int64{r2.ID}},
			{"unknown ruleset", store.RunFilter{Ruleset: "nope"}, nil},
		}
		for _, tt := range tests {
			runs, err := store.ListRuns(ctx, db, tt.f)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if got := ids(runs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s: ListRuns(%+v) = runs %v, want %v", tt.name, tt.f, got, tt.want)
			}
		}

		runs, err := store.ListRuns(ctx, db, store.RunFilter{})
		if err != nil {
			t.Fatal(err)
		}
		// Every listed run equals what GetRun returns, rules included.
		for _, r := range runs {
			got, err := store.GetRun(ctx, db, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(&r, got) {
				t.Errorf("run %d: ListRuns gives\n%+v\nGetRun gives\n%+v", r.ID, r, *got)
			}
		}
		running, third := runs[0], runs[1]
		if running.Status != store.RunRunning || !running.FinishedAt.IsZero() || len(running.Rules) != 0 {
			t.Errorf("running run = %+v", running)
		}
		if !third.StartedAt.Equal(r3.StartedAt) || !third.FinishedAt.Equal(r3.FinishedAt) || !third.AsOf.Equal(day) ||
			third.Customers != 300 || third.Proposals != 73 || third.Errors != 3 || third.Status != store.RunSucceeded {
			t.Errorf("run %d = %+v", third.ID, third)
		}
		// Rules come ordered by id, with their numbers and error samples.
		wantRules := []store.RunRule{cheaper, flaky, late}
		wantRules[0].ErrorSamples, wantRules[2].ErrorSamples = []store.ErrorSample{}, []store.ErrorSample{}
		if !reflect.DeepEqual(third.Rules, wantRules) {
			t.Errorf("run %d rules =\n%+v\nwant\n%+v", third.ID, third.Rules, wantRules)
		}
		if got := runs[3].Rules; len(got) != 2 || got[0].RuleID != "cheaper-plan" || got[1].RuleID != "late-fee-waiver" {
			t.Errorf("run %d rules = %+v", runs[3].ID, got)
		}
	})
}

func TestListRunsLeavesOutDryRuns(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.MustOpenMigrated(t, dsn)
		now := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
		recorded := &store.Run{Ruleset: "mobile", AsOf: now, StartedAt: now}
		dry := &store.Run{Ruleset: "mobile", AsOf: now, StartedAt: now, DryRun: true}
		for _, r := range []*store.Run{recorded, dry} {
			if err := store.CreateRun(ctx, db, r); err != nil {
				t.Fatal(err)
			}
		}
		runs, err := store.ListRuns(ctx, db, store.RunFilter{})
		if err != nil || len(runs) != 1 || runs[0].ID != recorded.ID {
			t.Errorf("ListRuns without dry runs = %+v, %v", runs, err)
		}
		runs, err = store.ListRuns(ctx, db, store.RunFilter{IncludeDry: true, Ruleset: "mobile"})
		if err != nil || len(runs) != 2 || runs[0].ID != dry.ID || !runs[0].DryRun {
			t.Errorf("ListRuns with dry runs = %+v, %v", runs, err)
		}
		if _, err := store.GetRun(ctx, db, 999); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetRun(999) = %v, want ErrNotFound", err)
		}
	})
}
