package rules_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/sample"
	"github.com/goodturn/goodturn/rules"
)

// TestLazyProgramsAgreeWithEager evaluates every shipped rule on sample
// customers both ways: computing named values only when `when` needs them
// must not change any outcome.
func TestLazyProgramsAgreeWithEager(t *testing.T) {
	ctx := context.Background()
	db := dbtest.MustOpenSQLite(t)
	if err := billing.CreateSchema(ctx, db); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	if _, err := sample.Generate(ctx, db, sample.Options{Customers: 1500, Seed: 7, Now: now}); err != nil {
		t.Fatal(err)
	}
	reader := &billing.Reader{DB: db}
	cat, err := reader.Catalogue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sets, err := rules.LoadAll("../rulesets")
	if err != nil {
		t.Fatal(err)
	}
	var machine vm.VM
	lazy, matched := 0, 0
	for _, rs := range sets {
		for _, r := range rs.Rules {
			if r.IsLazy() {
				lazy++
			}
		}
	}
	if lazy == 0 {
		t.Fatal("no shipped rule runs lazily")
	}
	_, err = reader.Read(ctx, billing.Range{}, now, cat, func(f rules.Facts) error {
		for _, rs := range sets {
			for _, r := range rs.Rules {
				want, werr := r.EvalEager(&machine, f)
				got, gerr := r.Eval(&machine, f)
				if werr != nil {
					continue // the lazy program may skip what failed
				}
				if gerr != nil {
					t.Errorf("rule %s, customer %d: lazy failed where eager did not: %v", r.ID, f.Customer.ID, gerr)
					continue
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("rule %s, customer %d:\nlazy  %+v\neager %+v", r.ID, f.Customer.ID, got, want)
				}
				if got.Matched {
					matched++
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if matched == 0 {
		t.Fatal("no rule matched any customer")
	}
	t.Logf("%d lazy rules agree with their eager programs over 1500 customers (%d matches)", lazy, matched)
}
