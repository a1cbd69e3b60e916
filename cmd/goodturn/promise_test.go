package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
)

// bestAnyRule offers the plan on which the last three months would have
// cost least, and promises it costs less a month, which best_plan does not
// guarantee: a dearer plan that spares overage breaks the promise.
const bestAnyRule = `rules:
  - id: best-any
    name: The plan that would have cost least
    description: Offers best_plan(3), promising a lower monthly price.
    owner: tests
    kind: plan_tip
    values:
      best: best_plan(3)
    when: best != nil && best.plan.id != plan.id
    value: best.yearly_saving
    offer:
      plan_id: best.plan.id
      new_price: best.plan.monthly_price
      current_price: plan.monthly_price
    require:
      - offer.new_price < offer.current_price
    message: {template: best-any, channels: [email]}
`

// TestRunHoldsBackBrokenPromises runs a rule whose promise some matches
// break: those are held back as broken promises, counted in run and runs
// show, and none of them is stored as a proposal.
func TestRunHoldsBackBrokenPromises(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "goodturn.db")
	if code, out, errOut := run(t, "demo", "--db", db, "--rulesets", "../../rulesets", "--customers", "600", "--now", "2026-11-23"); code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
	}
	root := filepath.Join(dir, "rulesets")
	mkdir(t, filepath.Join(root, "tips"))
	writeFile(t, filepath.Join(root, "tips", "best-any.yaml"), bestAnyRule)
	writeFile(t, filepath.Join(root, "tips", "best-any.tmpl"), `{{define "subject"}}Try {{.Offer.plan_id}}{{end}}{{define "text"}}Hi{{end}}`)

	code, out, errOut := run(t, "run", "--db", db, "--rulesets", root, "--now", "2026-11-23")
	m := regexp.MustCompile(`(?m)^\s+best-any\s+plan_tip\s+([\d,]+)\s+([\d,]+)\s+\S+\s+([\d,]+)\s+0$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("run exited %d with no row for best-any:\n%s\n%s", code, out, errOut)
	}
	matched, proposed, held := atoi(t, m[1]), atoi(t, m[2]), atoi(t, m[3])
	b := regexp.MustCompile(`(?m)^  best-any held back: broken promise ([\d,]+)`).FindStringSubmatch(out)
	if b == nil {
		t.Fatalf("run does not say how many matches broke a promise:\n%s", out)
	}
	broken := atoi(t, b[1])
	if broken == 0 || broken > held || matched != proposed+held {
		t.Errorf("matched %d, proposed %d, held back %d, broken promises %d", matched, proposed, held, broken)
	}
	if !strings.Contains(out, "    broken promise offer.new_price < offer.current_price: "+count(broken)+"\n") {
		t.Errorf("run does not name the broken promise:\n%s", out)
	}
	if broken*100 > matched && !strings.Contains(out, "best-any is UNHEALTHY: it broke its promises for") {
		t.Errorf("%d of %d matches broke a promise, but the rule is not unhealthy:\n%s", broken, matched, out)
	}

	// No stored proposal breaks the promise.
	d, err := database.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ps, err := store.ListProposals(context.Background(), d, store.ProposalFilter{Ruleset: "tips"})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(ps)) != proposed {
		t.Errorf("%d proposals stored, the run said %d", len(ps), proposed)
	}
	for _, p := range ps {
		var o struct{ NewPrice, CurrentPrice int }
		newPrice := regexp.MustCompile(`"new_price":(\d+)`).FindStringSubmatch(string(p.Offer))
		current := regexp.MustCompile(`"current_price":(\d+)`).FindStringSubmatch(string(p.Offer))
		o.NewPrice, _ = strconv.Atoi(newPrice[1])
		o.CurrentPrice, _ = strconv.Atoi(current[1])
		if o.NewPrice >= o.CurrentPrice {
			t.Errorf("proposal %d breaks its promise: %s", p.ID, p.Offer)
		}
	}

	// The dry run's matches name the customers who broke the promise, and
	// explain says which promise, clause by clause.
	out2 := filepath.Join(dir, "matches.json")
	if code, o, e := run(t, "run", "--dry-run", "--output", out2, "--db", db, "--rulesets", root, "--now", "2026-11-23"); code != 0 {
		t.Fatalf("dry run exited %d\n%s%s", code, o, e)
	}
	raw, err := os.ReadFile(out2)
	if err != nil {
		t.Fatal(err)
	}
	var matches []struct {
		Customer int64  `json:"customer"`
		Reason   string `json:"reason"`
	}
	if err := json.Unmarshal(raw, &matches); err != nil {
		t.Fatal(err)
	}
	var brokeIt int64
	for _, m := range matches {
		if m.Reason == "broken_promise" {
			brokeIt = m.Customer
		}
	}
	if brokeIt == 0 {
		t.Fatalf("no broken_promise match in %s", raw)
	}
	code, out3, errOut := run(t, "explain", "--customer", strconv.FormatInt(brokeIt, 10), "--rule", "best-any", "--db", db, "--rulesets", root, "--now", "2026-11-23")
	if code != 0 || !strings.Contains(out3, "promises broken, so the match is held back:\n    ✗ offer.new_price < offer.current_price") {
		t.Errorf("explain of customer %d exited %d:\n%s%s", brokeIt, code, out3, errOut)
	}

	// runs show tells the same.
	runID := regexp.MustCompile(`Run (\d+) of ruleset tips`).FindStringSubmatch(out)
	if runID == nil {
		t.Fatalf("no run id in:\n%s", out)
	}
	code, out, errOut = run(t, "runs", "show", runID[1], "--db", db)
	if code != 0 || !strings.Contains(out, "  best-any held back: broken promise "+count(broken)) ||
		!strings.Contains(out, "    broken promise offer.new_price < offer.current_price: "+count(broken)) {
		t.Errorf("runs show exited %d:\n%s\n%s", code, out, errOut)
	}
}
