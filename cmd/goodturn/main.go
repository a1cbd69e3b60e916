// Command goodturn finds customers who would benefit from a cheaper plan, a
// free replacement or a fee waiver, and prepares one honest message each for
// marketing to review. Run `goodturn help` for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"syscall"
)

// commands are goodturn's commands, in the order help lists them, each
// declaring what it needs (see needs) and how many arguments it takes. They
// are set in init because completion reads them.
var commands []*command

func init() {
	const (
		reads  = needDB                                                           // goodturn's database, as it is
		writes = needDBWrite                                                      // goodturn's database, migrated
		runs   = needBilling | needRulesets | needClock | needMonths | needPolicy // what evaluating rules needs
	)
	commands = []*command{
		{name: "init", summary: "start a project: a ruleset with a rule, its test and template, a schedule, billing views",
			synopsis: "[DIR]", args: optPositional, run: runInit},
		{name: "demo", summary: "build a sample operator, run the shipped rules and show the proposals",
			synopsis: "[--customers N] [--outcomes]", needs: writes | runs, args: noPositional, run: runDemo},
		{name: "migrate", summary: "create or update goodturn's tables",
			synopsis: "[--db DSN]", needs: writes, args: noPositional, run: runMigrate},
		{name: "run", summary: "evaluate rulesets against the billing data and record proposals",
			synopsis: "[--ruleset NAME]... [--dry-run]", needs: writes | runs, args: noPositional, run: runRun},
		{name: "worker", summary: "work the shards of sharded runs, River jobs in PostgreSQL",
			synopsis: "[--rescue-after 1h] [--poll 1s] [--exit-when-idle]", needs: writes | runs&^needClock, args: noPositional, run: runWorker},
		{name: "runs", summary: "list recent runs, or show one run's per-rule health", def: "list", subs: []*command{
			{name: "list", summary: "list recent runs, newest first", synopsis: "[--ruleset NAME] [--limit N] [--json]",
				needs: reads, args: noPositional, run: runsList},
			{name: "show", summary: "show one run's per-rule health", synopsis: "[--max-error-share PCT] [--json] ID",
				needs: reads, args: onePositional, run: runsShow},
		}},
		{name: "check", summary: "check rule files and report every problem",
			synopsis: "[--strict] [PATH]...", needs: needRulesets, args: anyPositional, run: runCheck},
		{name: "doctor", summary: "check the billing data against the facts contract and report every problem",
			synopsis: "[--billing-db DSN] [--now DATE] [--months N]", needs: needBilling | needClock | needMonths, args: noPositional, run: runDoctor},
		{name: "test", summary: "run the rule tests beside the rules",
			synopsis: "[--run REGEX] [--junit FILE] [-v] [PATH]...", needs: needRulesets, args: anyPositional, run: runTest},
		{name: "suppress", summary: "add, list or remove suppressions of customers or segments", subs: []*command{
			{name: "add", summary: "stop proposals to a customer or a segment",
				synopsis: "(--customer (ID | ACCOUNT_NO) | --segment NAME) [--ruleset NAME] [--rule ID] --as WHO --reason WHY [--expires 2006-01-02]",
				needs:    writes | needBilling | needClock, args: noPositional, run: suppressAdd},
			{name: "list", summary: "list the suppressions in force", synopsis: "[--all]",
				needs: reads | needClock, args: noPositional, run: suppressList},
			{name: "remove", summary: "remove a suppression", synopsis: "ID",
				needs: writes | needClock, args: onePositional, run: suppressRemove},
		}},
		{name: "explain", summary: "show why a customer did or did not match each rule, clause by clause",
			synopsis: "--customer (ID | ACCOUNT_NO) [--rule ID] [--ruleset NAME]", needs: reads | runs, args: noPositional, run: runExplain},
		{name: "serve", summary: "run the rulesets on their schedules, serve the review page, /healthz and /metrics, and send",
			synopsis: "[--listen ADDR] [--trust-proxy] [--schedule FILE] [--catch-up DURATION]", needs: writes | runs&^needClock, args: noPositional, run: runServe},
		{name: "bench", summary: "measure a run over generated customers against the database's own COPY and a SQL peer",
			synopsis: "[--db DSN] [--customers N] [--reuse] [--rounds N]", needs: writes | runs&^needBilling, args: noPositional, run: runBench},
		{name: "review", summary: "list, show, approve or reject batches of proposals; show the audit log", subs: reviewCommands()},
		{name: "send", summary: "deliver approved proposals' messages; list or retry messages", def: "deliver", subs: []*command{
			{name: "deliver", summary: "enqueue approved proposals, then work the send jobs (River) until none is due, and stop",
				synopsis: "[--smtp-host HOST --smtp-from ADDR] [--sms-webhook-url URL] [--billing-webhook-url URL] [--log]",
				needs:    writes | needBilling | needRulesets | needClock, args: noPositional, run: sendOnce},
			{name: "list", summary: "list messages, newest first", synopsis: "[--status queued|sending|sent|dead|skipped] [--channel NAME] [--limit N]",
				needs: reads, args: noPositional, run: sendList},
			{name: "retry", summary: "queue dead messages again and retry their send jobs", synopsis: "(ID | --all [--channel NAME] [--error TEXT])",
				needs: writes | needClock, args: optPositional, run: sendRetry},
		}},
		{name: "outcomes", summary: "measure uptake, churn and revenue of contacted customers against each rule's control group",
			synopsis: "[--ruleset NAME] [--json]", needs: reads | needBilling | needClock, args: noPositional, run: runOutcomes},
		{name: "user", summary: "add, list, disable or enable the people who review", subs: userCommands()},
		{name: "completion", summary: "print a shell completion script: completion bash|zsh|fish",
			synopsis: "bash|zsh|fish", args: onePositional, run: runCompletion},
		{name: "version", summary: "print the version", args: noPositional, run: runVersion},
	}
}

// Env is what a command talks to: its output streams and environment.
type Env struct {
	Stdout, Stderr io.Writer
	// Stdin is where commands read what they ask for, such as passwords.
	Stdin  io.Reader
	Getenv func(string) string
	Logger *slog.Logger
	// Interactive reports whether Stderr is a terminal, for progress lines.
	Interactive bool
	// OSUser is the operating system user running the command, recorded
	// with its review decisions; "" means the process's own user.
	OSUser string
	// log is what --log-format and --log-level set.
	log logSettings
}

// osUser returns the operating system user running the command: the
// account of the process's user id, not $USER, which anyone can set.
func osUser(env *Env) string {
	if env.OSUser != "" {
		return env.OSUser
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Interactive: isTerminal(os.Stderr)}
	env.Logger = newLogger(env)
	os.Exit(Main(ctx, env, os.Args[1:]))
}

// Main runs the command line and returns the exit code.
func Main(ctx context.Context, env *Env, args []string) int {
	if env.Logger == nil {
		env.Logger = newLogger(env)
	}
	switch {
	case len(args) == 0:
		usage(env.Stderr)
		return 2
	case args[0] == "help" && len(args) > 1:
		// goodturn help review approve is goodturn review approve -h.
		return Main(ctx, env, append(args[1:len(args):len(args)], "-h"))
	case args[0] == "help" || args[0] == "-h" || args[0] == "--help":
		usage(env.Stdout)
		return 0
	case args[0] == "--version" || args[0] == "-version":
		args = []string{"version"}
	}
	for _, c := range commands {
		if c.name == args[0] {
			if asksHelp(args[1:]) {
				// Help is the answer asked for: to standard output.
				e := *env
				e.Stderr = env.Stdout
				env = &e
			}
			err := c.invoke(ctx, env, c.name, args[1:])
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errSilent):
				return 1
			case errors.Is(err, errBadFlag):
				return 2
			case errors.Is(err, errUsage):
				fmt.Fprintf(env.Stderr, "goodturn %s: %s\n", c.name, termSafeLines(err.Error()))
				return 2
			default:
				fmt.Fprintf(env.Stderr, "goodturn %s: %s\n", c.name, termSafeLines(err.Error()))
				return 1
			}
		}
	}
	fmt.Fprintf(env.Stderr, "goodturn: unknown command %q\n\n", args[0])
	usage(env.Stderr)
	return 2
}

// asksHelp reports whether a command's arguments ask for its help.
func asksHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// errSilent marks a failure already reported to the user.
var errSilent = errors.New("failed")

// errUsage marks a command line mistake.
var errUsage = errors.New("usage")

// errBadFlag marks a flag mistake the flag package has already reported.
var errBadFlag = errors.New("bad flag")

func usage(w io.Writer) {
	fmt.Fprintln(w, "goodturn finds customers who would benefit from a cheaper plan, a free replacement")
	fmt.Fprintln(w, "or a fee waiver, and prepares one honest message each for review.")
	fmt.Fprintln(w, "\nUsage: goodturn <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `goodturn <command> -h` for a command's flags. --db, --billing-db, --rulesets,")
	fmt.Fprintln(w, "--now, --log-format (text, json) and --log-level (debug, info, warn, error) can also")
	fmt.Fprintln(w, "be set with GOODTURN_DB, GOODTURN_BILLING_DB, GOODTURN_RULESETS, GOODTURN_NOW,")
	fmt.Fprintln(w, "GOODTURN_LOG_FORMAT and GOODTURN_LOG_LEVEL.")
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
