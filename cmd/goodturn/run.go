package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/rules"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runRun(ctx context.Context, env *Env, args []string) error {
	var c config
	fs := c.flagSet(env, "run", "[--ruleset NAME]... [--dry-run]")
	var names stringList
	fs.Var(&names, "ruleset", "run only this ruleset (repeatable); all rulesets by default")
	dryRun := fs.Bool("dry-run", false, "evaluate and report, but record nothing")
	workers := fs.Int("workers", 0, "evaluating goroutines; the number of CPUs by default")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	now, err := c.clock()
	if err != nil {
		return err
	}
	sets, err := c.loadRulesets(names)
	if err != nil {
		return fmt.Errorf("load rulesets: %w", err)
	}
	db, bdb, closeAll, err := c.databases(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	eng := newEngine(env, db, bdb, &c, *workers)
	eng.Now = now
	for _, rs := range sets {
		res, err := runWithProgress(ctx, env, eng, rs, engine.Options{DryRun: *dryRun, Samples: 3})
		if res != nil {
			printResult(env.Stdout, rs, res)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func newEngine(env *Env, db, bdb *database.DB, c *config, workers int) *engine.Engine {
	return &engine.Engine{
		DB:      db,
		Billing: &billing.Reader{DB: bdb, Months: c.months},
		Workers: workers,
		Logger:  env.Logger,
	}
}

// printResult prints what a run did, rule by rule.
func printResult(w io.Writer, rs *rules.Ruleset, res *engine.Result) {
	verb := "proposals"
	if res.DryRun {
		verb = "would propose"
		fmt.Fprintf(w, "Dry run of ruleset %s: %s customers in %s; nothing recorded.\n", rs.Name, count(res.Customers), res.Duration.Round(1e6))
	} else {
		fmt.Fprintf(w, "Run %d of ruleset %s: %s customers in %s (%s).\n", res.ID, rs.Name, count(res.Customers), res.Duration.Round(1e6), res.Status)
	}
	currency := res.Currency
	rows := [][]string{{"rule", "kind", "matched", verb, "yearly value", "held back", "errors"}}
	for _, rr := range res.Rules {
		rows = append(rows, []string{rr.RuleID, rr.Kind, count(rr.Matched), count(rr.Proposals),
			formatMoney(rr.Value, currency), count(rr.Skipped), count(rr.Errors)})
	}
	printTable(w, rows, 2)
	for _, rr := range res.Rules {
		for _, s := range rr.ErrorSamples {
			fmt.Fprintf(w, "  rule %q failed for customer %d: %s\n", rr.RuleID, s.CustomerID, s.Error)
		}
	}
	if res.Error != "" {
		fmt.Fprintf(w, "  the run failed: %s\n", res.Error)
	}
}

func formatMoney(v int64, currency string) string {
	if currency == "" {
		return rules.FormatMoney(int(v), "GBP")[len("£"):]
	}
	return rules.FormatMoney(int(v), currency)
}

// count formats a number with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// printTable prints rows as an indented table whose first textCols columns
// are aligned left and the rest, numbers, right.
func printTable(w io.Writer, rows [][]string, textCols int) {
	widths := map[int]int{}
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range rows {
		var b strings.Builder
		b.WriteString("  ")
		for i, cell := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			if i > 0 {
				b.WriteString("  ")
			}
			if i < textCols {
				b.WriteString(cell + pad)
			} else {
				b.WriteString(pad + cell)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}
