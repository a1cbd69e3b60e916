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

// command is one subcommand.
type command struct {
	name  string
	usage string
	run   func(ctx context.Context, env *Env, args []string) error
}

// commands are goodturn's commands, in the order help lists them. They are
// set in init because completion reads them.
var commands []command

func init() {
	commands = []command{
		{"init", "start a project: a ruleset with a rule, its test and template, a schedule, billing views", runInit},
		{"demo", "build a sample operator, run the shipped rules and show the proposals", runDemo},
		{"migrate", "create or update goodturn's tables", runMigrate},
		{"run", "evaluate rulesets against the billing data and record proposals", runRun},
		{"worker", "claim shards of sharded runs from PostgreSQL and evaluate them", runWorker},
		{"runs", "list recent runs, or show one run's per-rule health", runRuns},
		{"check", "check rule files and report every problem", runCheck},
		{"doctor", "check the billing data against the facts contract and report every problem", runDoctor},
		{"test", "run the rule tests beside the rules", runTest},
		{"suppress", "add, list or remove suppressions of customers or segments", runSuppress},
		{"explain", "show why a customer did or did not match each rule, clause by clause", runExplain},
		{"serve", "run the rulesets on their schedules and serve /healthz and /metrics", runServe},
		{"bench", "measure a run over generated customers against the database's own COPY", runBench},
		{"review", "list, show, approve or reject batches of proposals; show the audit log", runReview},
		{"send", "enqueue approved proposals and deliver due messages once; list or retry messages", runSend},
		{"outcomes", "measure uptake and churn of contacted customers against each rule's control group", runOutcomes},
		{"user", "add, list, disable or enable the people who review", runUser},
		{"completion", "print a shell completion script: completion bash|zsh|fish", runCompletion},
		{"version", "print the version", runVersion},
	}
}

// Env is what a command talks to: its output streams and environment.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Logger         *slog.Logger
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
	env := &Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Interactive: isTerminal(os.Stderr)}
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
		// goodturn help run is goodturn run -h.
		return Main(ctx, env, []string{args[1], "-h"})
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
			err := c.run(ctx, env, args[1:])
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
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.usage)
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
