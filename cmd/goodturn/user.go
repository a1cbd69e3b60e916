package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/notify/review"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

func runUser(ctx context.Context, env *Env, args []string) error {
	return userCommand(ctx, env, args, os.Stdin)
}

// userCommand is `goodturn user`, reading passwords from in: without echo
// when in is a terminal, else its first line.
func userCommand(ctx context.Context, env *Env, args []string, in io.Reader) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want add, list, disable, enable, unlock or password", errUsage)
	}
	sub, args := args[0], args[1:]
	if sub == "-h" || sub == "--help" || sub == "help" {
		for _, name := range []string{"add", "list", "disable", "enable", "unlock", "password"} {
			fmt.Fprintln(env.Stderr, strings.TrimSpace("Usage: goodturn user "+name+" "+userUsage[name]))
		}
		return flag.ErrHelp
	}
	var c config
	var fs = c.flagSet(env, "user "+sub, userUsage[sub], flagDB, flagNow)
	role := ""
	if sub == "add" {
		fs.StringVar(&role, "role", "", "the user's role: viewer, reviewer or admin (required)")
	}
	switch sub {
	case "add", "list", "disable", "enable", "unlock", "password":
	default:
		return fmt.Errorf("%w: unknown user command %q: want add, list, disable, enable, unlock or password", errUsage, sub)
	}
	positional, err := parse(fs, args)
	if err != nil {
		return err
	}
	var name string
	if sub == "list" {
		if err := noArgs(positional); err != nil {
			return err
		}
	} else {
		if len(positional) != 1 {
			return fmt.Errorf("%w: want `goodturn user %s %s`", errUsage, sub, userUsage[sub])
		}
		name = positional[0]
	}
	if sub == "add" && !reviewdb.ValidRole(role) {
		if role == "" {
			return fmt.Errorf("%w: --role is required: viewer, reviewer or admin", errUsage)
		}
		return fmt.Errorf("%w: --role %q: want viewer, reviewer or admin", errUsage, role)
	}
	now, err := c.clock()
	if err != nil {
		return err
	}
	open := c.databases
	if sub == "list" {
		open = c.readDatabases // it only reads
	}
	db, _, closeAll, err := open(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	svc := review.New(db, review.Config{Now: now})
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
		return listUsers(ctx, env, db, svc)
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

var userUsage = map[string]string{
	"add":      "NAME --role viewer|reviewer|admin   (password prompted, or the first line of stdin)",
	"list":     "",
	"disable":  "NAME",
	"enable":   "NAME",
	"unlock":   "NAME   (lifts a lockout after failed logins)",
	"password": "NAME   (password prompted, or the first line of stdin)",
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
