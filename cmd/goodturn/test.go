package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/goodturn/goodturn/engine/ruletest"
	"github.com/goodturn/goodturn/rules"
	"github.com/goodturn/goodturn/rules/rulefmt"
)

func runTest(ctx context.Context, x *call) error {
	env, c, fs := x.Env, &x.config, x.Flags
	runFlag := fs.String("run", "", "run only the tests whose names match this regular expression")
	junit := fs.String("junit", "", "write the results as JUnit XML to this file")
	verbose := fs.Bool("v", false, "list every test, not only the failures")
	positional, err := x.Parse()
	if err != nil {
		return err
	}
	var filter *regexp.Regexp
	if *runFlag != "" {
		re, err := regexp.Compile(*runFlag)
		if err != nil {
			return fmt.Errorf("%w: --run: %v", errUsage, err)
		}
		filter = re
	}
	dirs, err := c.rulesetDirs(positional)
	if err != nil {
		return err
	}
	w := env.Stdout
	var all []ruletest.Result
	broken := false
	for _, dir := range dirs {
		rs, err := rules.Load(dir)
		if err != nil {
			// A ruleset that does not load counts as one failed test.
			broken = true
			var lines []string
			var es rulefmt.Errors
			if errors.As(err, &es) {
				for _, e := range es {
					lines = append(lines, e.Error())
				}
			} else {
				lines = []string{err.Error()}
			}
			r := ruletest.Result{File: dir, Name: "load ruleset " + dir, Failures: lines}
			fmt.Fprintf(w, "--- FAIL: %s\n", r.Name)
			for _, l := range lines {
				fmt.Fprintf(w, "    %s\n", l)
			}
			fmt.Fprintf(w, "FAIL  %s\n", dir)
			all = append(all, r)
			continue
		}
		results, loaded, err := testRuleset(env, rs, dir, filter, *verbose)
		if err != nil {
			return err
		}
		broken = broken || !loaded
		all = append(all, results...)
	}
	if *junit != "" {
		f, err := os.Create(*junit)
		if err != nil {
			return err
		}
		if err := ruletest.WriteJUnit(f, all); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", *junit, err)
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	passed, failed := 0, 0
	for _, r := range all {
		if r.Passed() {
			passed++
		} else {
			failed++
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", passed, failed)
	if failed > 0 || broken {
		return errSilent
	}
	if len(all) == 0 {
		fmt.Fprintln(env.Stderr, "goodturn test: no tests found")
		return errSilent
	}
	return nil
}

// testRuleset runs the rule tests of one ruleset, prints the failures (and
// with verbose the passes), its coverage and a summary line, and returns
// the results; loaded is false when a test file did not load.
func testRuleset(env *Env, rs *rules.Ruleset, dir string, filter *regexp.Regexp, verbose bool) (results []ruletest.Result, loaded bool, err error) {
	w := env.Stdout
	files, err := ruletest.Files(dir)
	if err != nil {
		return nil, false, err
	}
	loaded = true
	runner := ruletest.NewRunner(rs, filter)
	for _, f := range files {
		res, err := runner.RunFile(f)
		if err != nil {
			// A file that does not load counts as one failed test.
			loaded = false
			results = append(results, ruletest.Result{File: f, Name: "load " + filepath.Base(f), Failures: []string{err.Error()}})
			continue
		}
		results = append(results, res...)
	}
	failed := 0
	for _, r := range results {
		where := r.File
		if r.Line > 0 {
			where = fmt.Sprintf("%s:%d", r.File, r.Line)
		}
		if !r.Passed() {
			failed++
			fmt.Fprintf(w, "--- FAIL: %s: %s\n", where, r.Name)
			for _, f := range r.Failures {
				fmt.Fprintf(w, "    %s\n", f)
			}
		} else if verbose {
			fmt.Fprintf(w, "--- PASS: %s: %s\n", where, r.Name)
		}
	}
	if filter == nil {
		printCoverage(env, runner.Coverage())
	}
	status := "ok  "
	if failed > 0 {
		status = "FAIL"
	}
	fmt.Fprintf(w, "%s  %s  %d tests in %d files\n", status, dir, len(results), len(files))
	return results, loaded, nil
}

// printCoverage lists, per rule, whether tests made it fire and not fire,
// and the clauses of `when` never seen both true and false.
func printCoverage(env *Env, cov ruletest.Coverage) {
	w := env.Stdout
	rows := [][]string{{"rule", "fires", "does not fire", "clauses not seen both ways"}}
	for _, rc := range cov.Rules {
		var missing []string
		for _, c := range rc.Clauses {
			switch {
			case !c.SeenTrue && !c.SeenFalse:
				missing = append(missing, c.Clause+" (never evaluated)")
			case !c.SeenTrue:
				missing = append(missing, c.Clause+" (never true)")
			case !c.SeenFalse:
				missing = append(missing, c.Clause+" (never false)")
			}
		}
		if len(missing) == 0 {
			missing = []string{"none"}
		}
		rows = append(rows, []string{rc.Rule, yesNo(rc.Fired), yesNo(rc.NotFired), strings.Join(missing, "; ")})
	}
	printTable(w, rows, 4)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}
