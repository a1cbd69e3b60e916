package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/rules"
)

// runawayRuleset writes a ruleset holding a rule whose `when` is the given
// expression and a normal rule that matches every customer.
func runawayRuleset(t *testing.T, when string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "runaway")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rule := func(id, when string) string {
		return fmt.Sprintf(`  - id: %s
    name: %s
    description: A rule of the budget tests.
    owner: tests
    kind: test_benefit
    cooldown: 0
    when: |
      %s
    value: 100
    message:
      template: t
`, id, id, when)
	}
	yaml := "rules:\n" + rule("runaway", when) + rule("normal", "customer.id > 0")
	files := map[string]string{
		"rules.yaml": yaml,
		"t.tmpl":     `{{define "subject"}}Test{{end}}{{define "text"}}Test {{.FirstName}}{{end}}`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runWithin runs the engine, failing the test if the run takes longer than
// limit.
func runWithin(t *testing.T, ctx context.Context, limit time.Duration, eng *engine.Engine, rs *rules.Ruleset) (*engine.Result, error) {
	t.Helper()
	type result struct {
		res *engine.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := eng.Run(ctx, rs, engine.Options{})
		done <- result{res, err}
	}()
	select {
	case r := <-done:
		return r.res, r.err
	case <-time.After(limit):
		t.Fatalf("run still going after %v", limit)
		return nil, nil
	}
}

// TestRunawayRuleFailsAlone runs a ruleset holding one runaway rule and one
// normal rule: the runaway rule fails for every customer within its budget
// and turns unhealthy, and every proposal of the normal rule is written.
func TestRunawayRuleFailsAlone(t *testing.T) {
	const customers = 300
	// The contact policy holds some customers back: with a harmless rule
	// in the runaway's place, the normal rule makes this many proposals.
	baseDB := dbtest.MustOpenSQLite(t)
	base, err := mustSetup(t, baseDB, customers).Run(context.Background(), mustLoad(t, runawayRuleset(t, "false")), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := base.Proposals
	if want < customers/2 {
		t.Fatalf("only %d proposals without a runaway rule", want)
	}
	for _, tt := range []struct {
		name, when, want string
	}{
		{"nested sums", "sum(1..100000, sum(1..(customer.id*40), #)) > 0", "exceeded its"},
		{"loops over a named array", "let a = 1..999; sum(a, sum(a, sum(a, #))) > 0", "exceeded its time budget of 100ms"},
		{"doubled string", `len(reduce(1..60, #acc + #acc, "ab")) > 0`, "built a string longer than the limit"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := dbtest.MustOpenSQLite(t)
			eng := mustSetup(t, db, customers)
			eng.Workers = 2
			// A short time budget, for a quick test: the default is 1s.
			eng.Budget = rules.Budget{Time: 100 * time.Millisecond}
			start := time.Now()
			res, err := runWithin(t, context.Background(), 30*time.Second, eng, mustLoad(t, runawayRuleset(t, tt.when)))
			if err != nil {
				t.Fatal(err)
			}
			// 300 customers at 100ms each would take 15s on two workers:
			// after 10 the rule is failed at once.
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("run took %v", took)
			}
			byID := map[string]store.RunRule{}
			for _, rr := range res.Rules {
				byID[rr.RuleID] = rr
			}
			runaway, normal := byID["runaway"], byID["normal"]
			if runaway.Errors != customers || runaway.Proposals != 0 {
				t.Errorf("runaway rule: %d errors, %d proposals; want %d errors", runaway.Errors, runaway.Proposals, customers)
			}
			if _, ok := res.Unhealthy["runaway"]; !ok {
				t.Errorf("runaway rule not unhealthy: %v", res.Unhealthy)
			}
			if normal.Errors != 0 || normal.Proposals != want {
				t.Errorf("normal rule: %d errors, %d proposals; want %d proposals", normal.Errors, normal.Proposals, want)
			}
			if _, ok := res.Unhealthy["normal"]; ok {
				t.Errorf("normal rule unhealthy: %v", res.Unhealthy["normal"])
			}
			pending, err := store.ListProposals(context.Background(), db, store.ProposalFilter{RunID: res.ID, Status: store.ProposalPending})
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(pending)) != want {
				t.Errorf("%d pending proposals written, want %d", len(pending), want)
			}
			run, err := store.GetRun(context.Background(), db, res.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range run.Rules {
				if r.RuleID == "runaway" && (len(r.ErrorSamples) == 0 || !strings.Contains(r.ErrorSamples[0].Error, tt.want)) {
					t.Errorf("error samples = %+v, want %q", r.ErrorSamples, tt.want)
				}
			}
		})
	}
}

// TestCancelStopsARunawayRule cancels a run (as SIGTERM does) while every
// customer's evaluation is in a runaway expression with an hour's budget:
// the run must end within a few seconds.
func TestCancelStopsARunawayRule(t *testing.T) {
	db := dbtest.MustOpenSQLite(t)
	eng := mustSetup(t, db, 50)
	eng.Workers = 2
	eng.Budget = rules.Budget{Time: time.Hour}
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(300*time.Millisecond, func() { cancel(errors.New("SIGTERM")) })
	start := time.Now()
	_, err := runWithin(t, ctx, 10*time.Second, eng, mustLoad(t, runawayRuleset(t, "let a = 1..999; sum(a, sum(a, sum(a, #))) > 0")))
	if err == nil {
		t.Fatal("cancelled run succeeded")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("run ended %v after the start, cancelled at 300ms", took)
	}
}
