package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/rules"
)

// runDoctor checks the billing data against the facts contract, as a run
// reads it, and prints every problem. It only reads.
func runDoctor(ctx context.Context, x *call) error {
	if _, err := x.Parse(); err != nil {
		return err
	}
	bdb, err := x.BillingDB(ctx)
	if err != nil {
		return err
	}
	n, err := checkBillingData(ctx, x.Stdout, &billing.Reader{DB: bdb, Months: x.months}, x.Now())
	if err != nil {
		return err
	}
	if n > 0 {
		return errSilent
	}
	return nil
}

// checkBillingData reads the catalogue and every customer as a run at now
// would, prints each problem, and returns how many it found.
func checkBillingData(ctx context.Context, w io.Writer, r *billing.Reader, now time.Time) (int, error) {
	win := r.Window(now)
	fmt.Fprintf(w, "Checking the billing data as a run at %s reads it: usage months %s to %s, charges and events since %s.\n",
		now.UTC().Format(time.DateOnly), win.UsageFrom.Format("2006-01"), win.UsageTo.AddDate(0, -1, 0).Format("2006-01"),
		win.HistoryFrom.Format(time.DateOnly))
	problems := 0
	cat, err := r.Catalogue(ctx)
	var ce *billing.CatalogueError
	switch {
	case errors.As(err, &ce):
		fmt.Fprintf(w, "\nplans and plan_allowances: %s, so every run fails before any proposal:\n", plural(len(ce.Problems), "problem"))
		for _, p := range ce.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
		problems += len(ce.Problems)
	case err != nil:
		return 0, err
	default:
		fmt.Fprintf(w, "\nplans and plan_allowances: %s, no problems.\n", plural(len(cat), "plan"))
	}
	var refused []billing.Refusal
	r.OnRefuse = func(rf billing.Refusal) { refused = append(refused, rf) }
	st, err := r.Read(ctx, billing.Range{}, now, cat, func(rules.Facts) error { return nil })
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(w, "\ncustomers: %s read, %s refused", count(int64(st.Customers+st.Refused)), count(int64(st.Refused)))
	if len(refused) == 0 {
		fmt.Fprintln(w, ".")
	} else {
		fmt.Fprintln(w, " (runs skip them):")
	}
	for _, rf := range refused {
		fmt.Fprintf(w, "  %s\n", rf.Reason)
	}
	problems += len(refused)
	if problems == 0 {
		fmt.Fprintln(w, "\nOK: the billing data keeps the facts contract.")
	} else {
		fmt.Fprintf(w, "\nFAILED: %s (see docs/billing-data.md).\n", plural(problems, "problem"))
	}
	return problems, nil
}

// plural writes a count with its noun: "1 problem", "3 problems".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return count(int64(n)) + " " + noun + "s"
}
