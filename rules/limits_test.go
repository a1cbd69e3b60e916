package rules_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/goodturn/goodturn/rules"
)

// compileWhen compiles a one-rule ruleset whose `when` is src, on line 8
// from column 7 of rulesets/test/test.yaml, failing the test if compiling
// takes longer than 10 seconds.
func compileWhen(t *testing.T, src string) (*rules.Ruleset, error) {
	t.Helper()
	yaml := fmt.Sprintf(`rules:
  - id: r
    name: R
    description: A rule under test.
    owner: tests
    kind: test
    when: |
      %s
    value: 1
    message: {template: t}
`, src)
	type result struct {
		rs  *rules.Ruleset
		err error
	}
	done := make(chan result, 1)
	go func() {
		rs, err := rules.Compile("test", "rulesets/test", map[string][]byte{"rulesets/test/test.yaml": []byte(yaml)},
			func(string) bool { return true })
		done <- result{rs, err}
	}()
	select {
	case r := <-done:
		return r.rs, r.err
	case <-time.After(10 * time.Second):
		t.Fatal("compiling still going after 10s")
		return nil, nil
	}
}

// TestExpressionLimits checks that expressions too long or too deeply
// nested to parse safely, and literal ranges that always exceed the memory
// budget, are refused with their position.
func TestExpressionLimits(t *testing.T) {
	deep := func(open string, n int, close string) string {
		return strings.Repeat(open, n) + "true" + strings.Repeat(close, n)
	}
	for _, tt := range []struct {
		name, src, want string
	}{
		{"a million nots", strings.Repeat("!", 1_000_000) + "true",
			`rulesets/test/test.yaml:8:10007: rule "r": when: expression of 1000005 characters is longer than the limit of 10000; split it into named values`},
		{"65 nots", deep("!", 65, ""),
			`rulesets/test/test.yaml:8:71: rule "r": when: expression nests deeper than the limit of 64 levels`},
		{"65 spaced nots", deep("not ", 65, ""),
			`rulesets/test/test.yaml:8:263: rule "r": when: expression nests deeper than the limit of 64 levels`},
		{"65 brackets", deep("(", 65, ")"),
			`rulesets/test/test.yaml:8:71: rule "r": when: expression nests deeper than the limit of 64 levels`},
		{"brackets and minus signs", "len([" + deep("(-", 70, ")") + "]) > 0",
			`rulesets/test/test.yaml:8:135: rule "r": when: expression nests deeper than the limit of 64 levels`},
		{"huge literal range", "len(1..2000000) > 0",
			`rulesets/test/test.yaml:8:12: rule "r": when: range 1..2000000 of 2000000 elements is over the memory budget of 1000000: it always fails`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileWhen(t, tt.src)
			if err == nil {
				t.Fatal("compiled")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestExpressionWithinLimits checks that expressions at the limits still
// compile, and that a range whose bound is not a constant is a warning.
func TestExpressionWithinLimits(t *testing.T) {
	for _, tt := range []struct {
		name, src, warn string
	}{
		{"64 nots", strings.Repeat("!", 64) + "true", ""},
		{"64 brackets", strings.Repeat("(", 64) + "true" + strings.Repeat(")", 64), ""},
		{"subtractions are not nesting", strings.Repeat("1 - ", 200) + "1 < 0", ""},
		{"literal range", "sum(1..1000, #) > 0", ""},
		{"range over data", "sum(1..customer.id, #) > 0",
			`rulesets/test/test.yaml:8:12: rule "r": when: range with a bound that is not a constant: a large value fails the rule for that customer on its budget (at most 1000000 elements, 1s)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := compileWhen(t, tt.src)
			if err != nil {
				t.Fatal(err)
			}
			var warns []string
			for _, w := range rs.Rules[0].Lint(nil) {
				warns = append(warns, w.Error())
			}
			if got := strings.Join(warns, "\n"); got != tt.warn {
				t.Errorf("warnings:\n got %s\nwant %s", got, tt.warn)
			}
		})
	}
}
