package sample

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/goodturn/goodturn/engine/database"
)

// OutcomeSchema is the DDL of the optional outcome relations of the facts
// contract (docs/billing-data.md): the plan changes, and the day a customer
// left as a column of customers.
const OutcomeSchema = `CREATE TABLE IF NOT EXISTS plan_changes (
    customer_id  BIGINT NOT NULL,
    changed_on   DATE NOT NULL,
    from_plan_id TEXT NOT NULL,
    to_plan_id   TEXT NOT NULL
)`

// Contact is one customer a rule proposed a benefit to: contacted, or kept
// in the rule's control group.
type Contact struct {
	CustomerID int64
	Rule       string
	AsOf       time.Time
	// PlanID is the plan the offer moves the customer to, or "".
	PlanID    string
	Contacted bool
}

// Effect is the behaviour planted in the sample: the chance, within 90 days
// of a proposal, that its customer takes the offer or leaves, and how being
// contacted changes each. Chances are shares between 0 and 1.
type Effect struct {
	// Uptake is the chance an uncontacted customer takes the offer anyway
	// (finds the plan themselves); Lift is added when contacted.
	Uptake, Lift float64
	// Churn is the chance an uncontacted customer leaves; contacting
	// takes ChurnCut off it.
	Churn, ChurnCut float64
}

// DemoEffect is the effect `goodturn demo --outcomes` plants: contacting
// triples uptake and halves churn.
var DemoEffect = Effect{Uptake: 0.10, Lift: 0.20, Churn: 0.08, ChurnCut: 0.04}

// OutcomeStats counts what GenerateOutcomes wrote.
type OutcomeStats struct {
	PlanChanges int
	Departures  int
	// Bills is the number of monthly plan charges after the proposals.
	Bills int
}

// outcomes is what GenerateOutcomes draws before it writes it.
type outcomes struct {
	changes []planChangeRow
	// byCustomer holds each customer's changes, in the order drawn.
	byCustomer map[int64][]planChangeRow
	left       map[int64]time.Time
	// first is each customer's earliest proposal day.
	first map[int64]time.Time
	order []int64
}

type planChangeRow struct {
	customerID int64
	on         time.Time
	from, to   string
}

var tPlanChanges = table{"plan_changes", []string{"customer_id", "changed_on", "from_plan_id", "to_plan_id"}}

// GenerateOutcomes writes what happened to the customers of contacts after
// their proposals: plan changes (to the offered plan, or for an offer
// without one to another plan of the catalogue) and departures, each on a
// day within 90 days of the proposal and not after until, drawn with the
// chances of effect; and their bills, a plan charge on the first of each
// month after their first proposal up to until, at the price of the plan
// they were on that day, until the day they left. The same seed and
// contacts give the same rows, and a customer's draws do not depend on
// whether they were contacted, so that runs with and without an effect
// differ only by it. It creates plan_changes and customers.left_on if they
// are missing, and replaces what an earlier call wrote: every plan change
// and departure, and the charges after the earliest proposal.
func GenerateOutcomes(ctx context.Context, db *database.DB, contacts []Contact, effect Effect, seed uint64, until time.Time) (OutcomeStats, error) {
	var st OutcomeStats
	fail := func(err error) (OutcomeStats, error) { return st, fmt.Errorf("generate outcomes: %w", err) }
	current, err := prepareOutcomes(ctx, db, contacts)
	if err != nil {
		return fail(err)
	}
	o := drawOutcomes(contacts, current, effect, seed, dateOf(until))
	w := &writer{db: db, pg: db.IsPostgres()}
	err = w.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := w.rows(ctx, tx, tPlanChanges, len(o.changes), func(i int, v []any) {
			c := &o.changes[i]
			v[0], v[1], v[2], v[3] = c.customerID, dateString(c.on), c.from, c.to
		}); err != nil {
			return err
		}
		for id, on := range o.left {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE customers SET left_on = ? WHERE id = ?`), dateString(on), id); err != nil {
				return err
			}
		}
		var last int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM charges`).Scan(&last); err != nil {
			return err
		}
		bills := o.bills(current, dateOf(until), last)
		st.Bills = len(bills)
		return w.rows(ctx, tx, tCharges, len(bills), func(i int, v []any) {
			c := &bills[i]
			v[0], v[1], v[2], v[3], v[4], v[5] = c.id, c.customerID, dateString(c.on), c.kind, c.amount, c.waived
		})
	})
	if err != nil {
		return fail(err)
	}
	st.PlanChanges, st.Departures = len(o.changes), len(o.left)
	return st, nil
}

// prepareOutcomes creates the outcome relations if they are missing,
// empties what an earlier GenerateOutcomes wrote, and returns each
// customer's current plan.
func prepareOutcomes(ctx context.Context, db *database.DB, contacts []Contact) (map[int64]string, error) {
	if _, err := db.ExecContext(ctx, OutcomeSchema); err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, `ALTER TABLE customers ADD COLUMN left_on DATE`); err != nil {
		// It is there already: start afresh.
		if _, err2 := db.ExecContext(ctx, `UPDATE customers SET left_on = NULL`); err2 != nil {
			return nil, err
		}
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM plan_changes`); err != nil {
		return nil, err
	}
	if len(contacts) > 0 {
		first := dateOf(contacts[0].AsOf)
		for _, c := range contacts {
			if d := dateOf(c.AsOf); d.Before(first) {
				first = d
			}
		}
		if _, err := db.ExecContext(ctx, db.Rebind(`DELETE FROM charges WHERE charged_on > ?`), dateString(first)); err != nil {
			return nil, err
		}
	}
	current := map[int64]string{}
	rows, err := db.QueryContext(ctx, `SELECT customer_id, plan_id FROM subscriptions`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var plan string
		if err := rows.Scan(&id, &plan); err != nil {
			return nil, err
		}
		current[id] = plan
	}
	return current, rows.Err()
}

// drawOutcomes draws each contact's plan change and departure.
func drawOutcomes(contacts []Contact, current map[int64]string, effect Effect, seed uint64, until time.Time) *outcomes {
	var others []string
	for _, p := range catalogue {
		if p.available {
			others = append(others, p.id)
		}
	}
	o := &outcomes{byCustomer: map[int64][]planChangeRow{}, left: map[int64]time.Time{}, first: map[int64]time.Time{}}
	for _, c := range contacts {
		h := fnv.New64a()
		fmt.Fprintf(h, "%s/%d", c.Rule, c.CustomerID)
		r := rand.New(rand.NewPCG(seed, splitmix64(h.Sum64())))
		uptake, churn := effect.Uptake, effect.Churn
		if c.Contacted {
			uptake += effect.Lift
			churn -= effect.ChurnCut
		}
		// Draw every number whatever happens, so that one customer's rows
		// do not depend on another's.
		takes, takeDay := r.Float64() < uptake, 1+r.IntN(90)
		leaves, leaveDay := r.Float64() < churn, 1+r.IntN(90)
		pick := r.IntN(len(others))
		asOf := dateOf(c.AsOf)
		if f, ok := o.first[c.CustomerID]; !ok || asOf.Before(f) {
			if !ok {
				o.order = append(o.order, c.CustomerID)
			}
			o.first[c.CustomerID] = asOf
		}
		if on := asOf.AddDate(0, 0, takeDay); takes && !on.After(until) {
			from, to := current[c.CustomerID], c.PlanID
			if to == "" {
				to = others[pick]
				if to == from {
					to = others[(pick+1)%len(others)]
				}
			}
			ch := planChangeRow{customerID: c.CustomerID, on: on, from: from, to: to}
			o.changes = append(o.changes, ch)
			o.byCustomer[c.CustomerID] = append(o.byCustomer[c.CustomerID], ch)
		}
		if on := asOf.AddDate(0, 0, leaveDay); leaves && !on.After(until) {
			if prev, ok := o.left[c.CustomerID]; !ok || on.Before(prev) {
				o.left[c.CustomerID] = on
			}
		}
	}
	return o
}

// bills are the customers' plan charges on the first of each month after
// their first proposal, up to until, at the price of the plan they were on
// that day (the latest change on or before it, else their current plan),
// while they were a customer; ids follow last.
func (o *outcomes) bills(current map[int64]string, until time.Time, last int64) []chargeRow {
	price := map[string]int64{}
	for _, p := range catalogue {
		price[p.id] = int64(p.price)
	}
	var out []chargeRow
	for _, id := range o.order {
		first := o.first[id]
		left, gone := o.left[id]
		for m := time.Date(first.Year(), first.Month()+1, 1, 0, 0, 0, 0, time.UTC); !m.After(until); m = m.AddDate(0, 1, 0) {
			if gone && !m.Before(left) {
				break
			}
			plan, changed := current[id], time.Time{}
			for _, ch := range o.byCustomer[id] {
				if !ch.on.After(m) && !ch.on.Before(changed) {
					plan, changed = ch.to, ch.on
				}
			}
			p, ok := price[plan]
			if !ok {
				continue
			}
			last++
			out = append(out, chargeRow{id: last, customerID: id, on: m, kind: "plan", amount: p})
		}
	}
	return out
}
