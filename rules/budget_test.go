package rules_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/goodturn/goodturn/rules"
)

// oneRule returns a rule whose `when` is the given expression.
func oneRule(t *testing.T, when string) *rules.Rule {
	t.Helper()
	rs := compileRules(t, fmt.Sprintf(`
  - id: r
    name: R
    description: A rule under test.
    owner: tests
    kind: test
    when: |
      %s
    value: 1
    message: {template: t}
`, when))
	return rs.Rule("r")
}

// evalWithin evaluates r for f, failing the test if that takes longer than
// limit (the evaluation goes on in the background, but the test ends).
func evalWithin(t *testing.T, limit time.Duration, r *rules.Rule, f rules.Facts) (rules.Outcome, error, time.Duration) {
	t.Helper()
	type result struct {
		o   rules.Outcome
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		var machine vm.VM
		o, err := r.Eval(&machine, f)
		done <- result{o, err}
	}()
	select {
	case res := <-done:
		return res.o, res.err, time.Since(start)
	case <-time.After(limit):
		t.Fatalf("evaluation still running after %v", limit)
		return rules.Outcome{}, nil, 0
	}
}

// TestBudgetStopsRunaways evaluates expressions that would run for hours
// or exhaust memory, and expects each to fail within its budget.
func TestBudgetStopsRunaways(t *testing.T) {
	budget := rules.Budget{Time: 100 * time.Millisecond}
	for _, tt := range []struct {
		name, when, want string
	}{
		{"nested sums", "sum(1..100000, sum(1..(customer.id*40), #)) > 0", "exceeded its"},
		// A billion steps: the step budget or the clock, whichever comes
		// first on this machine, stops it.
		{"loops over a named array", "let a = 1..999; sum(a, sum(a, sum(a, #))) > 0", "exceeded its"},
		{"doubled string", `len(reduce(1..60, #acc + #acc, "ab")) > 0`, "built a string longer than the limit of 1048576 bytes"},
		{"doubled typed string", `len(reduce(1..60, #acc + customer.name + #acc, "ab")) > 0`, "built a string longer than the limit"},
		{"huge range", "len(1..(customer.id * 100000000)) > 0", "exceeded its memory budget"},
		{"repeat", `len(repeat("ab", customer.id * 100000)) > 0`, "exceeded its memory budget"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := oneRule(t, tt.when)
			f := customer(basic, usage(1, 1, 1))
			f.Limit(rules.NewLimiter(context.Background(), budget))
			_, err, took := evalWithin(t, 5*time.Second, r, f)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
			if !errors.Is(err, rules.ErrBudget) {
				t.Errorf("error %v does not wrap ErrBudget", err)
			}
			if took > time.Second {
				t.Errorf("stopped after %v; budget %v", took, budget.Time)
			}
		})
	}
}

// TestStepsDecide checks that the step budget, not the clock, stops a
// rule whose loops take too many steps: the same rule fails the same way
// on a busy machine as on an idle one.
func TestStepsDecide(t *testing.T) {
	r := oneRule(t, "sum(1..500, sum(1..500, # + 1)) > 0")
	f := customer(basic, usage(1, 1, 1))
	f.Limit(rules.NewLimiter(context.Background(), rules.Budget{Steps: 100_000, Time: time.Hour}))
	_, err, _ := evalWithin(t, 30*time.Second, r, f)
	if want := "exceeded its budget of 100000 loop steps"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want %q", err, want)
	}
	// Within the steps, it completes.
	f.Limit(rules.NewLimiter(context.Background(), rules.Budget{Steps: 1_000_000, Time: time.Hour}))
	if o, err, _ := evalWithin(t, 30*time.Second, r, f); err != nil || !o.Matched {
		t.Fatalf("within its steps: %+v, %v", o, err)
	}
}

// TestBudgetDefault checks that facts without a limiter are still bounded,
// as in `goodturn test` and `goodturn explain`.
func TestBudgetDefault(t *testing.T) {
	r := oneRule(t, "let a = 1..999; sum(a, sum(a, sum(a, #))) > 0")
	_, err, _ := evalWithin(t, 5*time.Second, r, customer(basic, usage(1, 1, 1)))
	if want := "over budget: exceeded its"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want %q", err, want)
	}
	// Explain runs the rule's expressions in another program.
	done := make(chan error, 1)
	go func() {
		var machine vm.VM
		_, err := r.Explain(&machine, customer(basic, usage(1, 1, 1)))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, rules.ErrBudget) {
			t.Errorf("explain: error = %v, want a budget error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("explain still running after 5s")
	}
}

// TestBudgetWithinLimits checks that loops and concatenations within the
// budget give their usual results.
func TestBudgetWithinLimits(t *testing.T) {
	for _, tt := range []struct {
		when string
		want bool
	}{
		{`sum(1..1000, #) == 500500`, true},
		{`reduce(1..3, #acc + "x", "") == "xxx"`, true},
		{`customer.name + "!" == "Ada Lovelace!"`, true},
		{`count(usage, .data_mb > 0) == 2`, true},
		{`all(plans, any(plans, #.id == "basic"))`, true},
		{`1 + 2 == 4`, false},
	} {
		t.Run(tt.when, func(t *testing.T) {
			r := oneRule(t, tt.when)
			f := customer(basic, usage(1, 1, 1), usage(2, 2, 2))
			f.Limit(rules.NewLimiter(context.Background(), rules.DefaultBudget))
			o, err, _ := evalWithin(t, 5*time.Second, r, f)
			if err != nil {
				t.Fatal(err)
			}
			if o.Matched != tt.want {
				t.Errorf("matched = %v, want %v", o.Matched, tt.want)
			}
		})
	}
}

// TestBudgetCancel cancels a run in the middle of an expression whose time
// budget is an hour: it must stop at once, and so must every later
// evaluation.
func TestBudgetCancel(t *testing.T) {
	r := oneRule(t, "let a = 1..999; sum(a, sum(a, sum(a, #))) > 0")
	ctx, cancel := context.WithCancelCause(context.Background())
	f := customer(basic, usage(1, 1, 1))
	f.Limit(rules.NewLimiter(ctx, rules.Budget{Time: time.Hour}))
	time.AfterFunc(50*time.Millisecond, func() { cancel(errors.New("SIGTERM")) })
	_, err, took := evalWithin(t, 5*time.Second, r, f)
	if want := "run cancelled (SIGTERM)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want %q", err, want)
	}
	if took > 2*time.Second {
		t.Errorf("stopped %v after the start", took)
	}
	_, err, _ = evalWithin(t, time.Second, r, f)
	if !errors.Is(err, rules.ErrBudget) {
		t.Errorf("after cancel: error = %v", err)
	}
}

// TestBudgetBreaker checks that a rule over budget for every customer is
// failed at once after the first few, so that a run does not spend the
// whole time budget on each of its customers.
func TestBudgetBreaker(t *testing.T) {
	r := oneRule(t, "let a = 1..999; sum(a, sum(a, sum(a, #))) > 0")
	ok := oneRule(t, "true")
	f := customer(basic, usage(1, 1, 1))
	f.Limit(rules.NewLimiter(context.Background(), rules.Budget{Time: 20 * time.Millisecond}))
	start := time.Now()
	var skipped int
	for i := 0; i < 200; i++ {
		_, err, _ := evalWithin(t, 5*time.Second, r, f)
		if !errors.Is(err, rules.ErrBudget) {
			t.Fatalf("customer %d: error = %v", i, err)
		}
		if strings.Contains(err.Error(), "skipped after going over its budget") {
			skipped++
		}
		// Another rule is not affected.
		if o, err, _ := evalWithin(t, 5*time.Second, ok, f); err != nil || !o.Matched {
			t.Fatalf("customer %d: healthy rule: %v, %v", i, o.Matched, err)
		}
	}
	if skipped != 190 {
		t.Errorf("%d of 200 evaluations skipped, want 190", skipped)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("200 evaluations took %v", took)
	}
}
