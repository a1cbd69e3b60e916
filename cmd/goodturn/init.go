package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// starter is what `goodturn init` writes: a ruleset with one rule, its test
// and template, a schedule file, and billing-view starters.
//
//go:embed starter
var starter embed.FS

func runInit(ctx context.Context, x *call) error {
	env := x.Env
	positional, err := x.Parse()
	if err != nil {
		return err
	}
	dir := "."
	if len(positional) == 1 {
		dir = positional[0]
	}
	files, err := starterFiles()
	if err != nil {
		return err
	}
	// Check every file first, so that init writes all or nothing.
	var exist []string
	for _, f := range files {
		if _, err := os.Lstat(filepath.Join(dir, f)); err == nil {
			exist = append(exist, filepath.Join(dir, f))
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if len(exist) > 0 {
		return fmt.Errorf("%s already exists; init never overwrites a file (start in an empty folder, or move it away)", exist[0])
	}
	for _, f := range files {
		b, err := starter.ReadFile("starter/" + f)
		if err != nil {
			return err
		}
		path := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "wrote %s\n", path)
	}
	cd := ""
	if dir != "." {
		cd = "cd " + dir + " && "
	}
	fmt.Fprintf(env.Stdout, "\nNext:\n")
	printTable(env.Stdout, [][]string{
		{cd + "goodturn check", "check the rule files"},
		{cd + "goodturn test", "run the rule's tests"},
		{"edit billing/postgres.sql or billing/sqlite.sql", "map your billing data onto the facts contract (docs/billing-data.md)"},
		{"goodturn doctor --billing-db URL", "check your billing data against the contract"},
		{"goodturn run --dry-run --billing-db URL", "what the rules would propose, recording nothing"},
	}, 2)
	return nil
}

// starterFiles lists the starter's files, slash-separated and relative to
// the folder init writes to.
func starterFiles() ([]string, error) {
	var files []string
	err := fs.WalkDir(starter, "starter", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files = append(files, path[len("starter/"):])
		return nil
	})
	return files, err
}
