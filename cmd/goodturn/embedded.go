package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/goodturn/goodturn/rules"
	"github.com/goodturn/goodturn/rules/rulefmt"
	"github.com/goodturn/goodturn/rulesets"
)

// defaultRulesets is --rulesets when neither the flag nor GOODTURN_RULESETS
// sets it.
const defaultRulesets = "rulesets"

// useEmbedded reports whether the commands that run rules use the rulesets
// embedded in the binary: when no rulesets folder was given and there is
// none in the working directory.
func (c *config) useEmbedded() bool {
	if c.rulesets != defaultRulesets {
		return false
	}
	_, err := os.Stat(c.rulesets)
	return errors.Is(err, fs.ErrNotExist)
}

// loadEmbedded loads the named embedded rulesets (all when none are named),
// saying so on w, and checks their templates.
func loadEmbedded(w io.Writer, names []string) ([]*rules.Ruleset, error) {
	if w != nil {
		fmt.Fprintln(w, "goodturn: no rulesets folder here; using the shipped rulesets built into goodturn (goodturn init starts a folder of your own)")
	}
	var sets []*rules.Ruleset
	if len(names) == 0 {
		all, err := rules.LoadAllFS(rulesets.FS, ".")
		if err != nil {
			return nil, err
		}
		sets = all
	}
	for _, n := range names {
		rs, err := rules.LoadFS(rulesets.FS, n)
		if err != nil {
			return nil, fmt.Errorf("%w (the built-in rulesets are %s)", err, embeddedNames())
		}
		sets = append(sets, rs)
	}
	var errs rulefmt.Errors
	for _, rs := range sets {
		if err := checkTemplates(rs); err != nil {
			var es rulefmt.Errors
			errors.As(err, &es)
			errs = append(errs, es...)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return sets, nil
}

// embeddedNames lists the embedded rulesets' names, comma separated.
func embeddedNames() string {
	entries, _ := fs.ReadDir(rulesets.FS, ".")
	s := ""
	for _, e := range entries {
		if e.IsDir() {
			if s != "" {
				s += ", "
			}
			s += e.Name()
		}
	}
	return s
}
