package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goodturn/goodturn/rules"
	"github.com/goodturn/goodturn/rules/rulefmt"
)

func runCheck(ctx context.Context, env *Env, args []string) error {
	var c config
	fs := c.flagSet(env, "check", "[PATH]...")
	if err := fs.Parse(args); err != nil {
		return err
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{c.rulesets}
	}
	var dirs []string
	for _, p := range paths {
		found, err := rulesetDirs(p)
		if err != nil {
			return err
		}
		dirs = append(dirs, found...)
	}
	failed := false
	for _, dir := range dirs {
		fmt.Fprintf(env.Stdout, "Checking %s\n", dir)
		rs, err := rules.Load(dir)
		if err == nil {
			err = checkTemplates(rs)
		}
		if err != nil {
			failed = true
			fmt.Fprintln(env.Stdout, "  FAILED:")
			var es rulefmt.Errors
			if errors.As(err, &es) {
				for _, e := range es {
					fmt.Fprintln(env.Stdout, e.Error())
				}
			} else {
				fmt.Fprintln(env.Stdout, err.Error())
			}
			fmt.Fprintln(env.Stdout)
			continue
		}
		fmt.Fprintf(env.Stdout, "  SUCCESS: %d rules found\n\n", len(rs.Rules))
	}
	if failed {
		return errSilent
	}
	return nil
}

// rulesetDirs returns the ruleset folders at path: path itself if it holds
// rule files, else its subfolders that do.
func rulesetDirs(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("check: %s is not a ruleset folder", path)
	}
	if hasRuleFiles(path) {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	var dirs []string
	for _, e := range entries {
		if d := filepath.Join(path, e.Name()); e.IsDir() && hasRuleFiles(d) {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("check: no rule files in %s", path)
	}
	return dirs, nil
}

func hasRuleFiles(dir string) bool {
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, f := range m {
			if filepath.Ext(f) != "" && !isTestFile(f) {
				return true
			}
		}
	}
	return false
}

func isTestFile(f string) bool {
	return strings.HasSuffix(f, rules.TestFileSuffix) || strings.HasSuffix(f, "_test.yml")
}
