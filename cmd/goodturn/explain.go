package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/goodturn/goodturn/rules"
)

func runExplain(ctx context.Context, x *call) error {
	env, c, fs := x.Env, &x.config, x.Flags
	customer := fs.String("customer", "", "the customer to explain, by id or account number (required)")
	ruleID := fs.String("rule", "", "explain only this rule")
	var names stringList
	fs.Var(&names, "ruleset", "explain only this ruleset's rules (repeatable)")
	_, err := x.Parse()
	if err != nil {
		return err
	}
	if *customer == "" {
		return fmt.Errorf("%w: --customer is required", errUsage)
	}
	now := x.Now
	sets, err := c.loadRulesets(names)
	if err != nil {
		return fmt.Errorf("load rulesets: %w", err)
	}
	if *ruleID != "" {
		known := false
		for _, rs := range sets {
			known = known || rs.Rule(*ruleID) != nil
		}
		if !known {
			return fmt.Errorf("%w: no rule %q in the rulesets", errUsage, *ruleID)
		}
	}
	db, bdb, err := x.Databases(ctx)
	if err != nil {
		return err
	}
	eng := newEngine(env, db, bdb, c, 1)
	eng.Now = now
	id, err := findCustomer(ctx, bdb, *customer, false)
	if err != nil {
		return err
	}
	f, err := eng.CustomerFacts(ctx, id)
	if err != nil {
		return err
	}
	w := env.Stdout
	cur := f.Currency
	fmt.Fprintf(w, "Customer %d%s, %s, as of %s\n", f.Customer.ID, termSafe(accountSuffix(f.Customer.AccountNo)), termSafe(f.Customer.Name), f.Today.Format(time.DateOnly))
	if f.Plan.ID != "" {
		fmt.Fprintf(w, "On plan %s (%s, %s a month); %d months of usage, %d charges, %d events.\n",
			f.Plan.ID, f.Plan.Name, rules.FormatMoney(f.Plan.MonthlyPrice, cur), len(f.Usage), len(f.Charges), len(f.Events))
	} else {
		fmt.Fprintf(w, "No current subscription.\n")
	}
	found := false
	var machine vm.VM
	for _, rs := range sets {
		for _, r := range rs.Rules {
			if *ruleID != "" && r.ID != *ruleID {
				continue
			}
			found = true
			fmt.Fprintln(w)
			explainRule(w, &machine, r, f)
		}
	}
	if !found {
		return fmt.Errorf("no rule %q in the rulesets", *ruleID)
	}
	return nil
}

// explainRule prints, for one rule and customer, every named value, each
// clause of `when` with its value, and the value and offer of a match.
func explainRule(w io.Writer, machine *vm.VM, r *rules.Rule, f rules.Facts) {
	cur := f.Currency
	ex, err := r.Explain(machine, f)
	status := "does not match"
	switch {
	case err != nil:
		status = "FAILED"
	case ex.Matched:
		status = "MATCHES"
	}
	disabled := ""
	if !r.Enabled {
		disabled = " (disabled)"
	}
	fmt.Fprintf(w, "%s: %s%s — %s\n", r.ID, status, disabled, r.Name)
	if err != nil {
		fmt.Fprintf(w, "  error: %v\n", err)
		return
	}
	if len(ex.Values) > 0 {
		fmt.Fprintln(w, "  values:")
		for _, v := range ex.Values {
			fmt.Fprintf(w, "    %s = %s\n", v.Name, describe(v.Name, v.Value, f, cur, "      ", r.IsMoney))
		}
	}
	if len(ex.Facts) > 0 {
		fmt.Fprintln(w, "  facts read:")
		for _, v := range ex.Facts {
			fmt.Fprintf(w, "    %s = %s\n", v.Name, describe(v.Name, v.Value, f, cur, "      ", r.IsMoney))
		}
	}
	join := map[string]string{"and": "all must hold", "or": "any may hold", "": "must hold"}[ex.Op]
	fmt.Fprintf(w, "  when (%s):\n", join)
	for _, c := range ex.Clauses {
		mark := "?"
		val := "not evaluated: an earlier clause decided"
		if c.Evaluated {
			val = describe("", c.Value, f, cur, "", r.IsMoney)
			switch c.Value {
			case true:
				mark = "✓"
			case false:
				mark = "✗"
			}
		}
		fmt.Fprintf(w, "    %s %s  → %s\n", mark, c.Clause, val)
	}
	if ex.Matched {
		fmt.Fprintf(w, "  value: %s a year\n", rules.FormatMoney(ex.Value, cur))
		for _, o := range ex.Offer {
			fmt.Fprintf(w, "  offer %s = %s\n", o.Name, describe(o.Name, o.Value, f, cur, "    ", r.IsMoney))
		}
		if len(ex.Broken) > 0 {
			fmt.Fprintln(w, "  promises broken, so the match is held back:")
			for _, p := range ex.Broken {
				fmt.Fprintf(w, "    ✗ %s\n", p)
			}
		} else if n := len(r.Promises()); n > 0 {
			fmt.Fprintf(w, "  promises: all %d kept\n", n)
		}
	}
}

// describe formats a value for a person: amounts of money as money, quotes
// as a month-by-month comparison, dates as dates.
func describe(name string, v any, f rules.Facts, cur, indent string, isMoney func(string) bool) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case *rules.Quote:
		// cheapest_plan gives no quote when no plan fits (usage on a
		// meter no plan covers, say): a nil *Quote, which is not nil.
		if x == nil {
			return "nil"
		}
		return describeQuote(x, f, cur, indent)
	case int:
		if isMoney(name) {
			return fmt.Sprintf("%d (%s)", x, rules.FormatMoney(x, cur))
		}
		return fmt.Sprint(x)
	case time.Time:
		if x.IsZero() {
			return "none"
		}
		return x.Format(time.DateOnly)
	case string:
		return fmt.Sprintf("%q", x)
	case rules.Charge:
		return fmt.Sprintf("charge %d: %s of %s on %s", x.ID, x.Kind, rules.FormatMoney(x.Amount, cur), x.ChargedOn.Format(time.DateOnly))
	case rules.Event:
		return fmt.Sprintf("event %d: %s at %s", x.ID, x.Kind, x.OccurredAt.Format(time.DateTime))
	case rules.Plan:
		return fmt.Sprintf("plan %s (%s, %s a month)", x.ID, x.Name, rules.FormatMoney(x.MonthlyPrice, cur))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// describeQuote prints a quote as each month's cost on the quoted plan and
// on the current one, with the totals and the saving.
func describeQuote(q *rules.Quote, f rules.Facts, cur, indent string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "plan %s (%s, %s a month) over the last %d months:\n", q.Plan.ID, q.Plan.Name, rules.FormatMoney(q.Plan.MonthlyPrice, cur), q.Months)
	rows := [][]string{{"month", "on " + q.Plan.ID, "on " + f.Plan.ID + " (now)"}}
	for i := range q.Costs {
		month := "?"
		if i < len(f.Months) {
			month = f.Months[i].Format("2006-01")
		}
		rows = append(rows, []string{month, rules.FormatMoney(q.Costs[i], cur), rules.FormatMoney(q.CurrentCosts[i], cur)})
	}
	rows = append(rows, []string{"total", rules.FormatMoney(q.Total, cur), rules.FormatMoney(q.CurrentTotal, cur)})
	var t strings.Builder
	printTable(&t, rows, 1)
	for _, line := range strings.Split(strings.TrimRight(t.String(), "\n"), "\n") {
		b.WriteString(indent + line + "\n")
	}
	fmt.Fprintf(&b, "%s  saving %s (%s a month)", indent, rules.FormatMoney(q.Saving, cur), rules.FormatMoney(q.MonthlySaving, cur))
	return b.String()
}
