package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/goodturn/goodturn/engine/store"
)

func runSuppress(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want add, list or remove", errUsage)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(env.Stderr, "Usage: goodturn suppress add|list|remove [flags]\n\nRun `goodturn suppress <command> -h` for its flags; docs/contact-policy.md explains suppressions.")
		return flag.ErrHelp
	case "add":
		return suppressAdd(ctx, env, args[1:])
	case "list":
		return suppressList(ctx, env, args[1:])
	case "remove":
		return suppressRemove(ctx, env, args[1:])
	}
	return fmt.Errorf("%w: unknown suppress command %q: want add, list or remove", errUsage, args[0])
}

func suppressAdd(ctx context.Context, env *Env, args []string) error {
	var c config
	fs := c.flagSet(env, "suppress add", "(--customer (ID | ACCOUNT_NO) | --segment NAME) [--ruleset NAME] [--rule ID] --as WHO --reason WHY [--expires 2006-01-02]", flagDB, flagBillingDB, flagNow)
	customer := fs.String("customer", "", "the customer to suppress, by id or account number")
	segment := fs.String("segment", "", "the segment to suppress")
	ruleset := fs.String("ruleset", "", "only this ruleset's rules (all by default)")
	rule := fs.String("rule", "", "only this rule (all by default)")
	owner := fs.String("as", "", "who asks for it (required), as --as names the person acting in every command")
	fs.StringVar(owner, "owner", "", "the former name of --as")
	reason := fs.String("reason", "", "why (required)")
	expires := fs.String("expires", "", "the first day it no longer applies (never by default)")
	now, err := c.parseNoArgs(fs, args)
	if err != nil {
		return err
	}
	s := store.Suppression{Segment: *segment, Ruleset: *ruleset, RuleID: *rule,
		Owner: *owner, Reason: *reason, Created: now()}
	if (*customer == "") == (*segment == "") {
		return fmt.Errorf("%w: give --customer or --segment", errUsage)
	}
	if *owner == "" || *reason == "" {
		return fmt.Errorf("%w: --as and --reason are required", errUsage)
	}
	if *expires != "" {
		t, err := time.Parse(time.DateOnly, *expires)
		if err != nil {
			return fmt.Errorf("%w: --expires %q: want 2006-01-02", errUsage, *expires)
		}
		s.ExpiresOn = t
	}
	db, bdb, closeAll, err := c.databases(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	if *customer != "" {
		if s.CustomerID, err = findCustomer(ctx, bdb, *customer, true); err != nil {
			return err
		}
	}
	if err := store.AddSuppression(ctx, db, &s); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Added suppression %d: %s.\n", s.ID, describeSuppression(s))
	return nil
}

func suppressList(ctx context.Context, env *Env, args []string) error {
	var c config
	fs := c.flagSet(env, "suppress list", "[--all]", flagDB, flagNow)
	all := fs.Bool("all", false, "include expired suppressions")
	now, err := c.parseNoArgs(fs, args)
	if err != nil {
		return err
	}
	db, _, closeAll, err := c.readDatabases(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	day := now().UTC().Truncate(24 * time.Hour)
	if *all {
		day = time.Time{}
	}
	list, err := store.ListSuppressions(ctx, db, day)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(env.Stdout, "No suppressions.")
		return nil
	}
	rows := [][]string{{"id", "who", "rules", "owner", "reason", "since", "until"}}
	for _, s := range list {
		who, rules := suppressionScope(s)
		until := "-"
		if !s.ExpiresOn.IsZero() {
			until = s.ExpiresOn.Format(time.DateOnly)
		}
		rows = append(rows, []string{strconv.FormatInt(s.ID, 10), who, rules, s.Owner, s.Reason, s.Created.Format(time.DateOnly), until})
	}
	printTable(env.Stdout, rows, 7)
	return nil
}

func suppressRemove(ctx context.Context, env *Env, args []string) error {
	var c config
	fs := c.flagSet(env, "suppress remove", "ID", flagDB, flagNow)
	positional, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := oneID(positional, "suppression id", "one suppression id")
	if err != nil {
		return err
	}
	db, _, closeAll, err := c.databases(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	if err := store.RemoveSuppression(ctx, db, id); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Removed suppression %d.\n", id)
	return nil
}

func suppressionScope(s store.Suppression) (who, rules string) {
	who = "segment " + s.Segment
	if s.CustomerID != 0 {
		who = fmt.Sprintf("customer %d", s.CustomerID)
	}
	switch {
	case s.RuleID != "" && s.Ruleset != "":
		rules = s.Ruleset + "/" + s.RuleID
	case s.RuleID != "":
		rules = s.RuleID
	case s.Ruleset != "":
		rules = "all of " + s.Ruleset
	default:
		rules = "all"
	}
	return who, rules
}

func describeSuppression(s store.Suppression) string {
	who, rules := suppressionScope(s)
	d := fmt.Sprintf("%s from %s rules", who, rules)
	if rules != "all" {
		d = fmt.Sprintf("%s from %s", who, rules)
	}
	if !s.ExpiresOn.IsZero() {
		d += " until " + s.ExpiresOn.Format(time.DateOnly)
	}
	return d + fmt.Sprintf(" (%s, by %s)", termSafe(s.Reason), termSafe(s.Owner))
}
