package rules_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/goodturn/goodturn/rules"
	"github.com/goodturn/goodturn/rules/rulefmt"
)

// FuzzParse compiles arbitrary rule files. Compiling must never panic, and
// must either return a ruleset or errors that each point into the file;
// a ruleset's rules must evaluate for a customer without panicking.
//
//	go test -run='^$' -fuzz=FuzzParse -fuzztime=60s ./rules/
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	shipped, _ := filepath.Glob("../rulesets/*/*.yaml")
	for _, path := range append(seeds, shipped...) {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	light := usage(500, 50, 10)
	facts := customer(maxPlan, light, light, light)
	f.Fuzz(func(t *testing.T, content []byte) {
		start := time.Now()
		defer func() {
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
		}()
		rs, err := rules.Compile("fuzz", "fuzz", map[string][]byte{"fuzz.yaml": content}, func(string) bool { return true })
		if err != nil {
			if rs != nil {
				t.Fatal("a ruleset was returned with errors")
			}
			var es rulefmt.Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error is %T, want rulefmt.Errors: %v", err, err)
			}
			// YAML breaks lines at \r\n, \n, \r, and NEL, LS and PS.
			lines := 1 + strings.Count(strings.ReplaceAll(string(content), "\r\n", "\n"), "\n") +
				strings.Count(strings.ReplaceAll(string(content), "\r\n", "\n"), "\r") +
				strings.Count(string(content), "\u0085") + strings.Count(string(content), "\u2028") +
				strings.Count(string(content), "\u2029")
			for _, e := range es {
				if e.Path != "fuzz.yaml" || e.Pos.Line < 0 || e.Pos.Line > lines+1 || e.Pos.Col < 0 || e.Msg == "" {
					t.Fatalf("error out of the file (%d lines): %q", lines, e.Error())
				}
			}
			return
		}
		var machine vm.VM
		for _, r := range rs.Rules {
			if o, err := r.Eval(&machine, facts); err == nil && o.Matched {
				r.Evidence(&machine, facts, o)
			}
		}
	})
}
