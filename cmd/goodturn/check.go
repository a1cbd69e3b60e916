package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/expr-lang/expr/vm"

	"github.com/goodturn/goodturn/engine/ruletest"
	"github.com/goodturn/goodturn/engine/schedule"
	"github.com/goodturn/goodturn/notify"
	"github.com/goodturn/goodturn/rules"
	"github.com/goodturn/goodturn/rules/rulefmt"
)

func runCheck(ctx context.Context, x *call) error {
	env, c, fs := x.Env, &x.config, x.Flags
	strict := fs.Bool("strict", false, "fail on warnings too")
	positional, err := x.Parse()
	if err != nil {
		return err
	}
	dirs, err := c.rulesetDirs(positional)
	if err != nil {
		return err
	}
	failed := false
	w := env.Stdout
	for _, dir := range dirs {
		fmt.Fprintf(w, "Checking %s\n", dir)
		rs, errs, warns := checkRuleset(dir)
		if len(errs) > 0 || (*strict && len(warns) > 0) {
			failed = true
			fmt.Fprintln(w, "  FAILED:")
			printProblems(w, "", errs)
			printProblems(w, "WARNING: ", warns)
			fmt.Fprintln(w)
			continue
		}
		fmt.Fprintf(w, "  SUCCESS: %d rules found\n", len(rs.Rules))
		printProblems(w, "  WARNING: ", warns)
		fmt.Fprintln(w)
	}
	if !checkSchedule(w, c, positional) {
		failed = true
	}
	if failed {
		return errSilent
	}
	return nil
}

// checkSchedule checks <rulesets>/schedule.conf, when it exists and no
// paths were given: every ruleset it names exists and every spec parses
// with its time zone.
func checkSchedule(w io.Writer, c *config, paths []string) bool {
	if len(paths) > 0 {
		return true
	}
	path := filepath.Join(c.rulesets, schedule.FileName)
	if _, err := os.Stat(path); err != nil {
		return true
	}
	dirs, _ := rulesetDirs(c.rulesets)
	var known []string
	for _, d := range dirs {
		known = append(known, filepath.Base(d))
	}
	fmt.Fprintf(w, "Checking %s\n", path)
	entries, err := schedule.Load(path, known)
	if err != nil {
		fmt.Fprintf(w, "  FAILED:\n%v\n\n", err)
		return false
	}
	fmt.Fprintf(w, "  SUCCESS: %d schedules found\n\n", len(entries))
	return true
}

func printProblems(w io.Writer, prefix string, es rulefmt.Errors) {
	for _, e := range es {
		fmt.Fprintf(w, "%s%s\n", prefix, e)
	}
}

// checkRuleset loads a ruleset and checks what loading alone does not: its
// message templates parse and render, with every variable they use, for a
// test customer the rule proposes to. It returns errors and warnings (a rule
// with no test, a value never used, a `when` that can never be true).
func checkRuleset(dir string) (*rules.Ruleset, rulefmt.Errors, rulefmt.Errors) {
	rs, err := rules.Load(dir)
	if err != nil {
		var es rulefmt.Errors
		if errors.As(err, &es) {
			return nil, es, nil
		}
		return nil, rulefmt.Errors{{Path: dir, Msg: err.Error()}}, nil
	}
	var errs, warns rulefmt.Errors
	at := func(r *rules.Rule, pos rulefmt.Pos, format string, args ...any) *rulefmt.Error {
		return &rulefmt.Error{Path: r.Path, Pos: pos, Rule: r.ID, Msg: fmt.Sprintf(format, args...)}
	}

	// Run the rule tests quietly: they say which rules are tested and give
	// real outcomes to render the templates with.
	runner := ruletest.NewRunner(rs, nil)
	files, _ := ruletest.Files(dir)
	for _, f := range files {
		if _, err := runner.RunFile(f); err != nil {
			errs = append(errs, &rulefmt.Error{Path: f, Msg: strings.TrimPrefix(err.Error(), f+": ")})
		}
	}

	for _, r := range rs.Rules {
		src, readErr := r.ReadTemplate()
		tmpls, err := notify.LoadTemplates(r)
		if err != nil {
			errs = append(errs, at(r, r.Message.TemplatePos, "%v", err))
		}
		usedInTemplate := func(name string) bool {
			return readErr == nil && strings.Contains(string(src), ".Values."+name)
		}
		warns = append(warns, r.Lint(usedInTemplate)...)
		if !runner.Tested(r.ID) {
			warns = append(warns, at(r, r.IDPos, "no tests: name the rule in a test's expect or absent in a %s file beside it", rules.TestFileSuffix))
		}
		if tmpls == nil {
			continue
		}
		firing, ok := runner.FirstFiring(r.ID)
		if !ok {
			warns = append(warns, at(r, r.Message.TemplatePos, "template %s not rendered: no test makes the rule fire", filepath.Base(r.TemplatePath)))
			continue
		}
		data, err := templateData(r, firing)
		if err != nil {
			errs = append(errs, at(r, r.Message.TemplatePos, "%v", err))
			continue
		}
		// Every language's template, in the order of their files.
		langs := make([]string, 0, len(tmpls.Languages()))
		for lang := range tmpls.Languages() {
			langs = append(langs, lang)
		}
		sort.Strings(langs)
		for _, lang := range langs {
			tmpl := tmpls.Languages()[lang]
			msg, err := tmpl.Render(data)
			if err != nil {
				errs = append(errs, at(r, r.Message.TemplatePos, "%v", err))
				continue
			}
			if parts := unsourcedAmounts(r, firing, msg); len(parts) > 0 {
				warns = append(warns, at(r, r.Message.TemplatePos, "template %s prints an amount of money that is not in the offer or evidence (in its %s): every amount a customer reads must come from the evidence",
					filepath.Base(tmpl.Path), strings.Join(parts, ", ")))
			}
		}
	}
	errs.Sort()
	warns.Sort()
	return rs, errs, warns
}

// unsourcedAmounts returns the parts of a rendered test message that name
// an amount of money not in the test outcome's offer, named values, facts
// read or value.
func unsourcedAmounts(r *rules.Rule, f ruletest.Firing, msg notify.Message) []string {
	var machine vm.VM
	offer, err1 := json.Marshal(namedMap(f.Outcome.Offer))
	evidence, err2 := json.Marshal(r.Evidence(&machine, f.Facts, f.Outcome))
	if err1 != nil || err2 != nil {
		return nil // the render above would have failed first
	}
	amounts, err := notify.Amounts(offer, evidence)
	if err != nil {
		return nil
	}
	amounts[int64(f.Outcome.Value)] = true
	var parts []string
	for part := range notify.Unsourced(msg, amounts, f.Facts.Currency, "") {
		parts = append(parts, part)
	}
	sort.Strings(parts)
	return parts
}

// namedMap turns named values into a map.
func namedMap(vs []rules.NamedValue) map[string]any {
	m := make(map[string]any, len(vs))
	for _, v := range vs {
		m[v.Name] = v.Value
	}
	return m
}

// templateData builds what a template sees from a test outcome, passing the
// offer and values through JSON as a stored proposal does.
func templateData(r *rules.Rule, f ruletest.Firing) (notify.Data, error) {
	asMap := func(vs []rules.NamedValue) (map[string]any, error) {
		b, err := json.Marshal(namedMap(vs))
		if err != nil {
			return nil, err
		}
		return notify.DecodeObject(b)
	}
	offer, err := asMap(f.Outcome.Offer)
	if err != nil {
		return notify.Data{}, fmt.Errorf("offer: %w", err)
	}
	values, err := asMap(f.Outcome.Values)
	if err != nil {
		return notify.Data{}, fmt.Errorf("values: %w", err)
	}
	return notify.Data{Customer: f.Facts.Customer, Rule: r.Name, Kind: r.Kind, Value: int64(f.Outcome.Value),
		Currency: f.Facts.Currency, Offer: offer, Values: values}, nil
}

// rulesetDirs returns the ruleset folders at the paths given on the
// command line, or under --rulesets when none is.
func (c *config) rulesetDirs(paths []string) ([]string, error) {
	if len(paths) == 0 {
		paths = []string{c.rulesets}
	}
	var dirs []string
	for _, p := range paths {
		found, err := rulesetDirs(p)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, found...)
	}
	return dirs, nil
}

// rulesetDirs returns the ruleset folders at path: path itself if it holds
// rule files, else its subfolders that do.
func rulesetDirs(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a ruleset folder", path)
	}
	if hasRuleFiles(path) {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range entries {
		if d := filepath.Join(path, e.Name()); e.IsDir() && hasRuleFiles(d) {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("no rule files in %s", path)
	}
	return dirs, nil
}

func hasRuleFiles(dir string) bool {
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, f := range m {
			if !isTestFile(f) {
				return true
			}
		}
	}
	return false
}

func isTestFile(f string) bool {
	return strings.HasSuffix(f, rules.TestFileSuffix) || strings.HasSuffix(f, "_test.yml")
}
