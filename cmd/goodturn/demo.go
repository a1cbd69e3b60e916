package main

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/sample"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify"
	"github.com/goodturn/goodturn/rules"
)

// demoKey marks, in the meta table, a database whose billing data the demo
// made, so that a second demo may replace it.
const demoKey = "demo"

func runDemo(ctx context.Context, x *call) error {
	env, c, fs := x.Env, &x.config, x.Flags
	customers := intIn(fs, "customers", 3000, 1, math.MaxInt, "how many sample customers to create")
	seed := fs.Uint64("seed", 1, "the seed of the sample data")
	withOutcomes := fs.Bool("outcomes", false, "run as of 120 days ago with a 25% control group per rule, approve everything, and generate what customers did since (see goodturn outcomes)")
	if _, err := x.Parse(); err != nil {
		return err
	}
	now := x.Now
	if _, err := c.policy(); err != nil {
		return err
	}
	sets, err := c.loadRulesets(nil)
	if err != nil {
		return fmt.Errorf("load rulesets: %w", err)
	}
	today := now
	if *withOutcomes {
		now = demoOutcomesClock(sets, today)
	}
	db, bdb, err := x.Databases(ctx)
	if err != nil {
		return err
	}
	if err := prepareDemo(ctx, env, db, bdb); err != nil {
		return err
	}

	out := env.Stdout
	start := time.Now()
	st, err := sample.Generate(ctx, bdb, sample.Options{Customers: *customers, Seed: *seed, Now: now(), Months: c.months})
	if err != nil {
		return fmt.Errorf("generate sample data: %w", err)
	}
	fmt.Fprintf(out, "Built a sample mobile operator in %s: %s customers on %d plans, %s usage rows, %s charges, %s events (%s).\n\n",
		bdb.DSN, count(int64(st.Customers)), st.Plans, count(int64(st.UsageRows)), count(int64(st.Charges)), count(int64(st.Events)),
		time.Since(start).Round(time.Millisecond))

	eng := newEngine(env, db, bdb, c, 0)
	eng.Now = now
	results, err := runWithProgress(ctx, env, eng, sets, engine.Options{Samples: 1})
	for i, res := range results {
		printResult(out, sets[i], res)
		fmt.Fprintln(out)
	}
	if err != nil {
		return err
	}
	for i, res := range results {
		if err := printSampleMessages(ctx, env, eng.Billing, sets[i], res); err != nil {
			return err
		}
	}
	if *withOutcomes {
		if err := demoOutcomes(ctx, env, db, bdb, *seed, today()); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "Every proposal is pending review; nothing has been sent.\n\n")
	}
	flags := ""
	if c.db != "goodturn.db" {
		flags += " --db " + database.Redact(c.db)
	}
	if c.billingDB != "" {
		flags += " --billing-db " + database.Redact(c.billingDB)
	}
	if c.now != "" {
		flags += " --now " + c.now
	}
	fmt.Fprintf(out, "Next:\n")
	var sample string
	for i, res := range results {
		for _, r := range sets[i].Enabled() {
			if ps := res.Samples[r.ID]; len(ps) > 0 && sample == "" {
				sample = fmt.Sprintf("%d", ps[0].CustomerID)
			}
		}
	}
	next := [][]string{
		{"goodturn review list" + flags, "the batches waiting for review"},
		{"goodturn outcomes" + flags, "uptake, churn and revenue of contacted customers against each rule's control group"},
		{"goodturn user add NAME --role reviewer" + flags, "a reviewer, to approve with review approve --as NAME"},
	}
	if sample != "" {
		next = append(next, []string{"goodturn explain --customer " + sample + flags, "why that customer got their proposal, clause by clause"})
	}
	next = append(next, []string{"goodturn run --dry-run" + flags, "see what the rules would propose, recording nothing"})
	if c.useEmbedded() {
		next = append(next, []string{"goodturn init", "start a project of your own: a rule, its test, billing views"})
		printTable(out, next, 2)
		fmt.Fprintf(out, "\nThese are the shipped rulesets built into goodturn; docs/rules.md explains how to write rules.\n")
		return nil
	}
	next = append(next, []string{"goodturn check " + c.rulesets, "check the rule files"})
	printTable(out, next, 2)
	fmt.Fprintf(out, "\nRules live in %s/mobile/*.yaml and docs/rules.md explains how to write them.\n", c.rulesets)
	return nil
}

// prepareDemo makes room for the sample operator. It refuses to touch billing
// data the demo did not make; an earlier demo's data, runs and proposals are
// replaced.
func prepareDemo(ctx context.Context, env *Env, db, bdb *database.DB) error {
	mark, err := store.Meta(ctx, db, demoKey)
	if err != nil {
		return err
	}
	var n int
	if err := bdb.QueryRowContext(ctx, `SELECT count(*) FROM customers`).Scan(&n); err == nil && n > 0 && mark == "" {
		return fmt.Errorf("%s already holds billing data that goodturn demo did not create; give the demo another database with --db", bdb.DSN)
	}
	if mark != "" {
		fmt.Fprintf(env.Stdout, "Replacing the earlier demo in %s.\n", db.DSN)
		if err := store.Reset(ctx, db); err != nil {
			return err
		}
	}
	if err := billing.DropSchema(ctx, bdb); err != nil {
		return err
	}
	if err := billing.CreateSchema(ctx, bdb); err != nil {
		return err
	}
	return store.SetMeta(ctx, db, demoKey, time.Now().UTC().Format(time.RFC3339))
}

// printSampleMessages renders, for each rule, the message its first proposal
// would send.
func printSampleMessages(ctx context.Context, env *Env, reader *billing.Reader, rs *rules.Ruleset, res *engine.Result) error {
	for _, r := range rs.Enabled() {
		ps := res.Samples[r.ID]
		if len(ps) == 0 {
			continue
		}
		p := ps[0]
		tmpl, err := notify.LoadTemplates(r)
		if err != nil {
			return err
		}
		cust, err := reader.Customer(ctx, p.CustomerID)
		if err != nil {
			return err
		}
		rendered, err := tmpl.RenderProposal(notify.Proposal{Value: p.Value, Currency: p.Currency, Offer: p.Offer, Evidence: p.Evidence}, cust)
		if err != nil {
			return fmt.Errorf("proposal %d: %w", p.ID, err)
		}
		msg := rendered.Message
		fmt.Fprintf(env.Stdout, "── %s, to %s, %s ──\n", r.ID, customerLabel(cust.ID, cust.AccountNo), cust.Name)
		if msg.Subject != "" {
			fmt.Fprintf(env.Stdout, "Subject: %s\n\n%s\n", msg.Subject, msg.Text)
		}
		if msg.SMS != "" {
			fmt.Fprintf(env.Stdout, "\nSMS: %s\n", msg.SMS)
		}
		fmt.Fprintln(env.Stdout)
	}
	return nil
}
