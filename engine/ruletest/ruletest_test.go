package ruletest_test

import (
	"bytes"
	"encoding/xml"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goodturn/goodturn/engine/ruletest"
	"github.com/goodturn/goodturn/rules"
)

func mustLoad(t *testing.T) *rules.Ruleset {
	t.Helper()
	rs, err := rules.Load("../../rulesets/mobile")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestShippedRuleTestsPass(t *testing.T) {
	rs := mustLoad(t)
	files, err := ruletest.Files(rs.Dir)
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule test files in %s: %v", rs.Dir, err)
	}
	runner := ruletest.NewRunner(rs, nil)
	n := 0
	for _, f := range files {
		results, err := runner.RunFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range results {
			n++
			if !r.Passed() {
				t.Errorf("%s:%d: %s: %s", r.File, r.Line, r.Name, strings.Join(r.Failures, "; "))
			}
		}
	}
	// Every shipped rule is tested to fire and to not fire, and every
	// clause of its `when` was seen both true and false.
	for _, rc := range runner.Coverage().Rules {
		if !rc.Fired || !rc.NotFired {
			t.Errorf("rule %s: fired %v, not fired %v; want both tested", rc.Rule, rc.Fired, rc.NotFired)
		}
		for _, c := range rc.Clauses {
			if !c.SeenTrue || !c.SeenFalse {
				t.Errorf("rule %s: clause %q seen true %v, false %v", rc.Rule, c.Clause, c.SeenTrue, c.SeenFalse)
			}
		}
	}
	t.Logf("%d rule tests passed", n)
}

func TestWrongExpectationsFailReadably(t *testing.T) {
	runner := ruletest.NewRunner(mustLoad(t), nil)
	results, err := runner.RunFile("testdata/wrong_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"wrong value and offer": {
			`rule cheaper-plan: value: want 9999 (£99.99), got 10800 (£108.00)`,
			`rule cheaper-plan: offer.bonus: want 1, but the rule's offer has no such field`,
			`rule cheaper-plan: offer.new_price: want 600, got 600`,
			`rule cheaper-plan: offer.plan_id: want "sim-10", got "sim-6"`,
		},
		"expects a proposal that does not happen": {
			`rule cheaper-plan: want a proposal, got none (false: best != nil)`,
		},
		"expects absent but the rule fires": {
			`rule cheaper-plan: want no proposal, got one worth £108.00 a year`,
		},
		"names a rule that does not exist": {
			`no rule "no-such-rule" in ruleset mobile`,
		},
	}
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d", len(results), len(want))
	}
	for _, r := range results {
		w := want[r.Name]
		// new_price matches, so it must not be reported.
		w = filterOut(w, "offer.new_price")
		if strings.Join(r.Failures, "\n") != strings.Join(w, "\n") {
			t.Errorf("%s: failures\n%s\nwant\n%s", r.Name, strings.Join(r.Failures, "\n"), strings.Join(w, "\n"))
		}
	}

	var b bytes.Buffer
	if err := ruletest.WriteJUnit(&b, results); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("JUnit XML does not parse: %v\n%s", err, b.String())
	}
	if len(doc.Suites) != 1 || doc.Suites[0].Tests != 4 || doc.Suites[0].Failures != 4 {
		t.Errorf("JUnit suites = %+v, want one with 4 tests and 4 failures", doc.Suites)
	}
}

func filterOut(lines []string, sub string) []string {
	var out []string
	for _, l := range lines {
		if !strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

func TestRunFilter(t *testing.T) {
	runner := ruletest.NewRunner(mustLoad(t), regexp.MustCompile(`^expects`))
	results, err := runner.RunFile(filepath.Join("testdata", "wrong_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 {
		t.Errorf("--run ^expects selected %d tests, want 2", len(results))
	}
}
