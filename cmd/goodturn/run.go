package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/policy"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify"
	"github.com/goodturn/goodturn/rules"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runRun(ctx context.Context, x *call) error {
	env, c, fs := x.Env, &x.config, x.Flags
	var names stringList
	fs.Var(&names, "ruleset", "run only this ruleset (repeatable); all rulesets by default")
	dryRun := fs.Bool("dry-run", false, "evaluate and report, but record nothing")
	diff := fs.Bool("diff", false, "with --dry-run: compare with the proposals of the latest day the ruleset proposed anything")
	output := fs.String("output", "", "with --dry-run: write every match, proposed or held back and why, to this .csv or .json file")
	format := fs.String("format", "", "the format of --output: csv or json; by default the file's extension")
	workers := intIn(fs, "workers", 0, 0, maxWorkers, "evaluating goroutines; the number of CPUs by default")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	shards := intIn(fs, "shards", 0, 0, maxShards, "split the run into this many shards of customers, River jobs that this process and any 'goodturn worker' processes (PostgreSQL) work")
	rescue := durationIn(fs, "rescue-after", engine.DefaultRescueAfter, time.Nanosecond, "with --shards: how long each shard may run (its job carries it): then it is retried, and a dead worker's shard goes to another worker")
	attempts := intIn(fs, "shard-attempts", engine.DefaultShardAttempts, 1, maxShardAttempts, "with --shards: how many times each shard is tried (River backs off about attempt⁴ seconds between tries) before the run fails")
	_, err := x.Parse()
	if err != nil {
		return err
	}
	tuneGC(env)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	now := x.Now
	if _, err := c.policy(); err != nil {
		return err
	}
	// A broken ruleset is reported and not run; the others still run.
	sets, loadErr := c.loadRulesetsPartly(names)
	if loadErr != nil {
		fmt.Fprintf(env.Stderr, "goodturn run: these rulesets have errors and will not run:\n%v\n", loadErr)
		if len(sets) == 0 {
			return errSilent
		}
	}
	db, bdb, err := x.Databases(ctx)
	if err != nil {
		return err
	}
	eng := newEngine(env, db, bdb, c, *workers)
	eng.Now = now
	if *diff && !*dryRun {
		return fmt.Errorf("%w: --diff needs --dry-run", errUsage)
	}
	if *output != "" {
		if !*dryRun {
			return fmt.Errorf("%w: --output needs --dry-run", errUsage)
		}
		if *format, err = matchFormat(*output, *format); err != nil {
			return err
		}
	}
	if *shards > 0 {
		if *dryRun {
			return fmt.Errorf("%w: --shards and --dry-run do not go together", errUsage)
		}
		eng.ShardAttempts = *attempts
		if err := runSharded(ctx, env, eng, sets, *shards, *rescue); err != nil {
			return err
		}
		if loadErr != nil {
			return errSilent
		}
		return nil
	}
	if !*dryRun {
		unlock, err := lockRulesets(ctx, db, sets)
		if err != nil {
			return err
		}
		defer unlock()
	}
	opts := engine.Options{DryRun: *dryRun, Samples: 3, IgnoreHeld: *diff, Collect: *diff || *output != "", CollectHeld: *output != ""}
	results, err := runWithProgress(ctx, env, eng, sets, opts)
	if perr := printResults(ctx, env, db, sets, results, *diff && err == nil); perr != nil {
		return perr
	}
	if err != nil {
		return err
	}
	if *output != "" {
		n, err := writeMatches(*output, *format, results)
		if err != nil {
			return fmt.Errorf("write %s: %w", *output, err)
		}
		fmt.Fprintf(env.Stdout, "Wrote %s matches, proposed and held back, to %s.\n", count(int64(n)), *output)
	}
	if loadErr != nil {
		return errSilent
	}
	return nil
}

// lockRulesets takes each ruleset's run lock, so that one run of a ruleset
// happens at a time across processes (a scheduled run in `goodturn
// serve`, say, or another `goodturn run`), and returns what releases them.
func lockRulesets(ctx context.Context, db *database.DB, sets []*rules.Ruleset) (func(), error) {
	var locks []*store.RulesetLock
	unlock := func() {
		for _, l := range locks {
			l.Unlock()
		}
	}
	var busy []string
	for _, rs := range sets {
		lock, ok, err := store.TryLockRuleset(ctx, db, rs.Name)
		if err != nil {
			unlock()
			return nil, err
		}
		if !ok {
			busy = append(busy, rs.Name)
			continue
		}
		locks = append(locks, lock)
	}
	if len(busy) > 0 {
		unlock()
		return nil, fmt.Errorf("ruleset %s is being run by another process; try again when it has finished", strings.Join(busy, ", "))
	}
	return unlock, nil
}

// printResults prints what each ruleset's run did, a dry run's samples,
// and with diff how it differs from the latest day that proposed.
func printResults(ctx context.Context, env *Env, db *database.DB, sets []*rules.Ruleset, results []*engine.Result, diff bool) error {
	for i, res := range results {
		rs := sets[i]
		printResult(env.Stdout, rs, res)
		if res.DryRun {
			printSamples(env.Stdout, rs, res)
		}
		if diff {
			if err := printDiff(ctx, env.Stdout, db, rs, res); err != nil {
				return err
			}
		}
	}
	return nil
}

// printSamples shows a few of the customers each rule would propose to.
func printSamples(w io.Writer, rs *rules.Ruleset, res *engine.Result) {
	for _, r := range rs.Enabled() {
		ps := res.Samples[r.ID]
		if len(ps) == 0 {
			continue
		}
		fmt.Fprintf(w, "  %s, for example:\n", r.ID)
		for _, p := range ps {
			fmt.Fprintf(w, "    %s: %s a year; %s\n", customerLabel(p.CustomerID, p.AccountNo), formatMoney(p.Value, p.Currency), compactOffer(p.Offer))
		}
	}
}

// compactOffer writes an offer as name=value pairs on one line.
func compactOffer(raw []byte) string {
	var fields []struct {
		k string
		v json.RawMessage
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return string(raw)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return string(raw)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return string(raw)
		}
		fields = append(fields, struct {
			k string
			v json.RawMessage
		}{fmt.Sprint(k), v})
	}
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = f.k + "=" + string(f.v)
	}
	s := strings.Join(parts, " ")
	if utf8.RuneCountInString(s) > 110 {
		s = string([]rune(s)[:107]) + "..."
	}
	return s
}

// maxDiffLines is how many customers a diff lists per change and rule.
const maxDiffLines = 10

// printDiff compares a dry run's proposals with the latest real ones.
func printDiff(ctx context.Context, w io.Writer, db *database.DB, rs *rules.Ruleset, res *engine.Result) error {
	// The baseline is everything proposed on the latest day the ruleset
	// proposed anything: a second run that day proposes nothing new, so the
	// last run alone could be empty.
	day, err := store.LatestProposalDay(ctx, db, rs.Name)
	if errors.Is(err, store.ErrNotFound) {
		fmt.Fprintf(w, "No earlier proposals of %s to compare with; run it for real first.\n", rs.Name)
		return nil
	}
	if err != nil {
		return err
	}
	before, err := store.ListProposals(ctx, db, store.ProposalFilter{Ruleset: rs.Name, AsOf: day})
	if err != nil {
		return err
	}
	// --diff counts every match as if nothing held anyone back (no earlier
	// proposal, cooldown, frequency cap or suppression), so that it compares
	// what the rules match with what they proposed; a dry run without --diff
	// counts what a real run would propose now.
	fmt.Fprintf(w, "\nCompared with the %s proposals of %s made on %s (with --diff the counts above ignore earlier proposals, cooldowns, the frequency cap and suppressions):\n",
		count(int64(len(before))), rs.Name, day.Format(time.DateOnly))
	cur := res.Currency
	for _, d := range engine.Diff(before, res.Found) {
		fmt.Fprintf(w, "  %s: %s → %s proposals (%s → %s a year): %d added, %d removed, %d changed value\n",
			d.RuleID, count(int64(d.Before)), count(int64(d.After)), formatMoney(d.BeforeValue, cur), formatMoney(d.AfterValue, cur),
			len(d.Added), len(d.Removed), len(d.Changed))
		list := func(label string, ps []store.Proposal) {
			for i, p := range ps {
				if i == maxDiffLines {
					fmt.Fprintf(w, "    … and %d more\n", len(ps)-maxDiffLines)
					break
				}
				fmt.Fprintf(w, "    %s customer %d (%s a year)\n", label, p.CustomerID, formatMoney(p.Value, cur))
			}
		}
		list("+", d.Added)
		list("-", d.Removed)
		for i, c := range d.Changed {
			if i == maxDiffLines {
				fmt.Fprintf(w, "    … and %d more\n", len(d.Changed)-maxDiffLines)
				break
			}
			fmt.Fprintf(w, "    ~ customer %d: %s → %s a year\n", c.After.CustomerID, formatMoney(c.Before.Value, cur), formatMoney(c.After.Value, cur))
		}
	}
	return nil
}

func newEngine(env *Env, db, bdb *database.DB, c *config, workers int) *engine.Engine {
	pol, err := c.policy()
	if err != nil {
		// The flags were checked when the command started.
		pol = policy.DefaultPolicy
	}
	return &engine.Engine{
		DB:      db,
		Billing: &billing.Reader{DB: bdb, Months: c.months},
		Workers: workers,
		Logger:  env.Logger,
		Policy:  pol,
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
		if why, bad := res.Unhealthy[rr.RuleID]; bad {
			fmt.Fprintf(w, "  %s is UNHEALTHY: it %s\n", rr.RuleID, why)
		}
	}
	printHeld(w, res.Rules, res.Held)
	printControl(w, res.Rules)
	for _, rr := range res.Rules {
		byLocale := res.Uncovered[rr.RuleID]
		if len(byLocale) == 0 {
			continue
		}
		locales := make([]string, 0, len(byLocale))
		var n int64
		for l, c := range byLocale {
			locales = append(locales, l)
			n += c
		}
		sort.Strings(locales)
		parts := make([]string, len(locales))
		for i, l := range locales {
			name := l
			if name == "" {
				name = "no locale"
			}
			parts[i] = name + " " + count(byLocale[l])
		}
		fmt.Fprintf(w, "  %s: %s %s for customers whose language it has no template in (%s); they get %s\n", rr.RuleID, count(n),
			map[bool]string{true: "proposal", false: "proposals"}[n == 1], strings.Join(parts, ", "), notify.LanguageName(rs.Rule(rr.RuleID).Language))
	}
	for _, rr := range res.Rules {
		for _, s := range rr.ErrorSamples {
			fmt.Fprintf(w, "  rule %q failed for customer %d: %s\n", rr.RuleID, s.CustomerID, s.Error)
		}
	}
	printRefusals(w, res.Run)
	if res.Error != "" {
		fmt.Fprintf(w, "  the run failed: %s\n", res.Error)
	}
}

// printRefusals lists the customers a run refused for their billing data.
func printRefusals(w io.Writer, r store.Run) {
	if r.Refused == 0 {
		return
	}
	fmt.Fprintf(w, "  refused %s whose billing rows break the facts contract (goodturn doctor lists them all):\n",
		plural(int(r.Refused), "customer"))
	for _, s := range r.Refusals {
		fmt.Fprintf(w, "    %s\n", s.Error)
	}
	if more := r.Refused - int64(len(r.Refusals)); more > 0 {
		fmt.Fprintf(w, "    … and %s more\n", count(more))
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
	rows = safeRows(rows)
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

// tuneGC trades memory for speed in a long run: the heap of a run is small
// and flat (a few batches of customers), so collecting less often is cheap,
// and a soft memory limit keeps the total bounded. GOGC and GOMEMLIMIT in
// the environment still win.
func tuneGC(env *Env) {
	if env.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if env.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(200 << 20)
	}
}

// printHeld prints, rule by rule, why matches were held back and which
// promises they broke.
func printHeld(w io.Writer, rrs []store.RunRule, held map[string]map[string]int64) {
	for _, rr := range rrs {
		if why := heldReasons(held[rr.RuleID]); why != "" {
			fmt.Fprintf(w, "  %s held back: %s\n", rr.RuleID, why)
		}
		broken := policy.BrokenPromises(held[rr.RuleID])
		promises := make([]string, 0, len(broken))
		for p := range broken {
			promises = append(promises, p)
		}
		sort.Strings(promises)
		for _, p := range promises {
			fmt.Fprintf(w, "    broken promise %s: %s\n", p, count(broken[p]))
		}
	}
}

// heldReasons lists why a rule's matches were held back, in the order they
// are checked: "broken promise 3, no marketing consent 40".
func heldReasons(held map[string]int64) string {
	var parts []string
	for _, r := range policy.Reasons {
		if n := held[r]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", strings.ReplaceAll(r, "_", " "), count(n)))
		}
	}
	return strings.Join(parts, ", ")
}
