package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/goodturn/goodturn/engine/store"
)

func suppressAdd(ctx context.Context, x *call) error {
	env, fs := x.Env, x.Flags
	customer := fs.String("customer", "", "the customer to suppress, by id or account number")
	segment := fs.String("segment", "", "the segment to suppress")
	ruleset := fs.String("ruleset", "", "only this ruleset's rules (all by default)")
	rule := fs.String("rule", "", "only this rule (all by default)")
	owner := fs.String("as", "", "who asks for it (required), as --as names the person acting in every command")
	fs.StringVar(owner, "owner", "", "the former name of --as")
	reason := fs.String("reason", "", "why (required)")
	expires := fs.String("expires", "", "the first day it no longer applies (never by default)")
	if _, err := x.Parse(); err != nil {
		return err
	}
	now := x.Now
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
	db, bdb, err := x.Databases(ctx)
	if err != nil {
		return err
	}
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

func suppressList(ctx context.Context, x *call) error {
	env, fs := x.Env, x.Flags
	all := fs.Bool("all", false, "include expired suppressions")
	if _, err := x.Parse(); err != nil {
		return err
	}
	now := x.Now
	db, err := x.DB(ctx)
	if err != nil {
		return err
	}
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

func suppressRemove(ctx context.Context, x *call) error {
	env := x.Env
	positional, err := x.Parse()
	if err != nil {
		return err
	}
	id, err := oneID(positional, "suppression id", "one suppression id")
	if err != nil {
		return err
	}
	db, err := x.DB(ctx)
	if err != nil {
		return err
	}
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
