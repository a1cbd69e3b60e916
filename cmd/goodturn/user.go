package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/notify/review"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

// userCommands are the subcommands of `goodturn user`. Passwords are read
// from the command's standard input: without echo when it is a terminal,
// else its first line.
func userCommands() []*command {
	sub := func(name, summary, synopsis string, n needs, args argc) *command {
		return &command{name: name, summary: summary, synopsis: synopsis, needs: n | needClock, args: args, run: userRun(name)}
	}
	return []*command{
		sub("add", "add a person who reviews (password prompted, or the first line of stdin)",
			"NAME --role viewer|reviewer|admin", needDBWrite, onePositional),
		sub("list", "list the people who review, their roles and whether they may log in", "", needDB, noPositional),
		sub("disable", "stop a person logging in and end their sessions", "NAME", needDBWrite, onePositional),
		sub("enable", "let a disabled person log in again", "NAME", needDBWrite, onePositional),
		sub("unlock", "lift a lockout after failed logins", "NAME", needDBWrite, onePositional),
		sub("password", "change a person's password (prompted, or the first line of stdin)", "NAME", needDBWrite, onePositional),
	}
}

// userRun returns the run of the user command sub.
func userRun(sub string) func(context.Context, *call) error {
	return func(ctx context.Context, x *call) error {
		role := ""
		if sub == "add" {
			x.Flags.StringVar(&role, "role", "", "the user's role: viewer, reviewer or admin (required)")
		}
		positional, err := x.Parse()
		if err != nil {
			return err
		}
		var name string
		if len(positional) == 1 {
			name = positional[0]
		}
		if sub == "add" && !reviewdb.ValidRole(role) {
			if role == "" {
				return fmt.Errorf("%w: --role is required: viewer, reviewer or admin", errUsage)
			}
			return fmt.Errorf("%w: --role %q: want viewer, reviewer or admin", errUsage, role)
		}
		db, err := x.DB(ctx)
		if err != nil {
			return err
		}
		return userDo(ctx, x.Env, review.New(db, review.Config{Now: x.Now}), sub, name, role)
	}
}

// userDo does the user command sub.
func userDo(ctx context.Context, env *Env, svc *review.Service, sub, name, role string) error {
	in := env.Stdin
	actor := operator(env)
	switch sub {
	case "add":
		password, err := readPassword(env, in, name)
		if err != nil {
			return err
		}
		u, err := svc.AddUser(ctx, actor, name, role, password)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "Added %s %s.\n", u.Role, u.Name)
	case "password":
		password, err := readPassword(env, in, name)
		if err != nil {
			return err
		}
		if err := svc.SetPassword(ctx, actor, name, password); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "Changed the password of %s; their sessions have ended.\n", name)
	case "disable", "enable":
		if err := svc.SetDisabled(ctx, actor, name, sub == "disable"); err != nil {
			return err
		}
		if sub == "disable" {
			fmt.Fprintf(env.Stdout, "Disabled %s; their sessions have ended.\n", name)
		} else {
			fmt.Fprintf(env.Stdout, "Enabled %s.\n", name)
		}
	case "unlock":
		n, err := svc.Unlock(ctx, actor, name)
		if err != nil {
			return err
		}
		if n == 0 {
			fmt.Fprintf(env.Stdout, "%s had no failed logins to forget.\n", name)
		} else {
			fmt.Fprintf(env.Stdout, "Unlocked %s: forgot %d failed login(s); they may log in now.\n", name, n)
		}
	case "list":
		return listUsers(ctx, env, svc.DB, svc)
	}
	return nil
}

// listUsers prints the people who review, with their roles and whether
// they are disabled or locked out.
func listUsers(ctx context.Context, env *Env, db *database.DB, svc *review.Service) error {
	users, err := reviewdb.ListUsers(ctx, db)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		fmt.Fprintln(env.Stdout, "No users. Add one with `goodturn user add NAME --role reviewer`.")
		return nil
	}
	rows := [][]string{{"name", "role", "created", "status"}}
	for _, u := range users {
		status := "active"
		until, err := svc.LockedOut(ctx, u.Name)
		if err != nil {
			return err
		}
		switch {
		case u.Disabled:
			status = "disabled"
		case !until.IsZero():
			status = "locked out until " + until.Local().Format("2006-01-02 15:04")
		}
		rows = append(rows, []string{u.Name, u.Role, u.CreatedAt.Local().Format("2006-01-02 15:04"), status})
	}
	printTable(env.Stdout, rows, 4)
	return nil
}

// operator names who ran a command in the audit log: "cli:$USER".
func operator(env *Env) string {
	if u := env.Getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli"
}

// readPassword prompts for a password twice without echo when in is a
// terminal, and otherwise reads its first line.
func readPassword(env *Env, in io.Reader, name string) (string, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(env.Stderr, "Password for %s: ", name)
		first, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if err := review.CheckPassword(string(first)); err != nil {
			return "", err
		}
		fmt.Fprintf(env.Stderr, "Again: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(first) != string(again) {
			return "", errors.New("the passwords differ")
		}
		return string(first), nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no password: type it at the prompt or give it as the first line of stdin")
		}
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
