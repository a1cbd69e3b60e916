package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"time"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/policy"
	"github.com/goodturn/goodturn/notify"
	"github.com/goodturn/goodturn/rules"
	"github.com/goodturn/goodturn/rules/rulefmt"
)

// config holds the flags most commands share.
type config struct {
	db        string
	billingDB string
	rulesets  string
	now       string
	months    int
	cap       int
	capWindow time.Duration
	// stderr receives notes such as "using the embedded rulesets".
	stderr io.Writer
}

// The shared flags a command may take (see flagSet).
const (
	flagDB        = "db"
	flagBillingDB = "billing-db"
	flagRulesets  = "rulesets"
	flagNow       = "now"
	flagMonths    = "months"
	flagCap       = "cap"
)

// flagSet returns a flag set for a command with the shared flags it names
// (flagDB, flagCap for --cap and --cap-window, …), bound to c. Every shared setting is defaulted from its GOODTURN_*
// environment variable whether or not the command takes its flag, so that
// -h lists a command's own flags only and nothing reads an unset value.
func (c *config) flagSet(env *Env, name, args string, shared ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	if env.Getenv != nil {
		flagEnvs.Store(fs, env.Getenv)
	}
	c.stderr = env.Stderr
	def := func(key, fallback string) string {
		if v := env.Getenv(key); v != "" {
			return v
		}
		return fallback
	}
	takes := func(flag string) bool {
		for _, f := range shared {
			if f == flag {
				return true
			}
		}
		return false
	}
	c.db, c.billingDB, c.rulesets, c.now = def("GOODTURN_DB", "goodturn.db"), def("GOODTURN_BILLING_DB", ""),
		def("GOODTURN_RULESETS", defaultRulesets), def("GOODTURN_NOW", "")
	c.months, c.cap, c.capWindow = billing.DefaultMonths, policy.DefaultPolicy.Cap, policy.DefaultPolicy.CapWindow
	if takes(flagDB) {
		fs.StringVar(&c.db, "db", c.db, "goodturn's database: an SQLite file path or sqlite: URL, or a postgres:// URL (GOODTURN_DB)")
	}
	if takes(flagBillingDB) {
		fs.StringVar(&c.billingDB, "billing-db", c.billingDB, "the database holding the billing relations; defaults to --db (GOODTURN_BILLING_DB)")
	}
	if takes(flagRulesets) {
		fs.StringVar(&c.rulesets, "rulesets", c.rulesets, "the folder of ruleset folders (GOODTURN_RULESETS)")
	}
	if takes(flagNow) {
		fs.StringVar(&c.now, "now", c.now, "the run's clock as 2006-01-02 or RFC 3339, for reproducible runs; defaults to the current time (GOODTURN_NOW)")
	}
	if takes(flagMonths) {
		intVar(fs, &c.months, "months", billing.DefaultMonths, 1, 120, "complete months of usage each customer's facts hold")
	}
	if takes(flagCap) {
		intVar(fs, &c.cap, "cap", policy.DefaultPolicy.Cap, 0, math.MaxInt, "promotional proposals a customer may get within --cap-window across all rules; 0 turns the cap off")
		fs.Var(&ruleDurationFlag{&c.capWindow}, "cap-window", "the window of the frequency cap, like 7d")
	}
	bindLogFlags(env, fs)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: goodturn %s %s\n\nFlags:\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags that may come before, between or after the
// positional arguments (`goodturn test rulesets/ --run x`) and returns the
// positional arguments. A bad flag is a usage error; the flag package has
// already said what is wrong; a NUL byte in a flag or argument is a usage
// error too. Flags whose usage ends with an environment
// variable, "(GOODTURN_SMTP_PORT)", are first set from that variable when
// it is set; a bad value there is a usage error naming the variable.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	if err := setFromEnv(fs); err != nil {
		return nil, err
	}
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errBadFlag
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, refuseNUL(fs, rest)
		}
		if args[0] == "--" {
			rest = append(rest, args[1:]...)
			return rest, refuseNUL(fs, rest)
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}

// noArgs reports a usage error if there are positional arguments.
func noArgs(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, args[0])
	}
	return nil
}

// policy returns the contact policy the flags set. The flags were checked
// as they were parsed; the error is kept for callers that build a config
// by hand.
func (c *config) policy() (policy.Policy, error) {
	if c.capWindow <= 0 {
		return policy.Policy{}, fmt.Errorf("%w: --cap-window %s: want a duration above 0, like 7d", errUsage, rulefmt.FormatDuration(c.capWindow))
	}
	if c.cap <= 0 {
		return policy.Policy{Cap: -1}, nil
	}
	return policy.Policy{Cap: c.cap, CapWindow: c.capWindow}, nil
}

// oneID reads the single id a command takes as its argument; what names it
// in errors ("suppression id"), want says what to give when it is missing.
func oneID(positional []string, what, want string) (int64, error) {
	if len(positional) != 1 {
		return 0, fmt.Errorf("%w: want %s", errUsage, want)
	}
	id, err := strconv.ParseInt(positional[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not a %s", errUsage, positional[0], what)
	}
	return id, nil
}

// clock returns the configured clock.
func (c *config) clock() (func() time.Time, error) {
	if c.now == "" {
		return time.Now, nil
	}
	for _, layout := range []string{time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, c.now); err == nil {
			return func() time.Time { return t }, nil
		}
	}
	return nil, fmt.Errorf("%w: --now %q: want 2006-01-02 or 2006-01-02T15:04:05Z", errUsage, c.now)
}

// loadRulesets loads the named rulesets (all when none are named) and checks
// their message templates. Any problem is an error.
func (c *config) loadRulesets(names []string) ([]*rules.Ruleset, error) {
	sets, err := c.loadRulesetsPartly(names)
	if err != nil {
		return nil, err
	}
	return sets, nil
}

// loadRulesetsPartly is loadRulesets that, with no names, also returns the
// rulesets that loaded when others did not.
func (c *config) loadRulesetsPartly(names []string) ([]*rules.Ruleset, error) {
	if c.useEmbedded() {
		return loadEmbedded(c.stderr, names)
	}
	if len(names) > 0 {
		var sets []*rules.Ruleset
		for _, n := range names {
			rs, err := rules.Load(filepath.Join(c.rulesets, n))
			if err != nil {
				return nil, err
			}
			if err := checkTemplates(rs); err != nil {
				return nil, err
			}
			sets = append(sets, rs)
		}
		return sets, nil
	}
	all, err := rules.LoadAll(c.rulesets)
	var errs rulefmt.Errors
	if err != nil && !errors.As(err, &errs) {
		return nil, err
	}
	var good []*rules.Ruleset
	for _, rs := range all {
		if terr := checkTemplates(rs); terr != nil {
			var tes rulefmt.Errors
			errors.As(terr, &tes)
			errs = append(errs, tes...)
			continue
		}
		good = append(good, rs)
	}
	if len(errs) > 0 {
		return good, errs
	}
	return good, nil
}

// checkTemplates parses every rule's message templates (and translations) and returns all the
// problems as rulefmt.Errors.
func checkTemplates(rs *rules.Ruleset) error {
	var errs rulefmt.Errors
	for _, r := range rs.Rules {
		if _, err := notify.LoadTemplates(r); err != nil {
			errs = append(errs, &rulefmt.Error{Path: r.Path, Pos: r.Message.TemplatePos, Rule: r.ID, Msg: err.Error()})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}
