package sample

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"

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
}

// GenerateOutcomes writes what happened to the customers of contacts after
// their proposals: plan changes (to the offered plan, or for an offer
// without one to another plan of the catalogue) and departures, each on a
// day within 90 days of the proposal and not after until, drawn with the
// chances of effect. The same seed and contacts give the same rows. It
// creates plan_changes and customers.left_on if they are missing, and
// replaces what an earlier call wrote.
func GenerateOutcomes(ctx context.Context, db *database.DB, contacts []Contact, effect Effect, seed uint64, until time.Time) (OutcomeStats, error) {
	var st OutcomeStats
	fail := func(err error) (OutcomeStats, error) { return st, fmt.Errorf("generate outcomes: %w", err) }
	if _, err := db.ExecContext(ctx, OutcomeSchema); err != nil {
		return fail(err)
	}
	if _, err := db.ExecContext(ctx, `ALTER TABLE customers ADD COLUMN left_on DATE`); err != nil {
		// It is there already: start afresh.
		if _, err2 := db.ExecContext(ctx, `UPDATE customers SET left_on = NULL`); err2 != nil {
			return fail(err)
		}
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM plan_changes`); err != nil {
		return fail(err)
	}
	current := map[int64]string{}
	rows, err := db.QueryContext(ctx, `SELECT customer_id, plan_id FROM subscriptions`)
	if err != nil {
		return fail(err)
	}
	for rows.Next() {
		var id int64
		var plan string
		if err := rows.Scan(&id, &plan); err != nil {
			rows.Close()
			return fail(err)
		}
		current[id] = plan
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	var others []string
	for _, p := range catalogue {
		if p.available {
			others = append(others, p.id)
		}
	}

	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	left := map[int64]time.Time{}
	untilDay := dateOf(until)
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
		if on := asOf.AddDate(0, 0, takeDay); takes && !on.After(untilDay) {
			from, to := current[c.CustomerID], c.PlanID
			if to == "" {
				to = others[pick]
				if to == from {
					to = others[(pick+1)%len(others)]
				}
			}
			if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO plan_changes (customer_id, changed_on, from_plan_id, to_plan_id) VALUES (?, ?, ?, ?)`),
				c.CustomerID, database.Date(on), from, to); err != nil {
				return fail(err)
			}
			st.PlanChanges++
		}
		if on := asOf.AddDate(0, 0, leaveDay); leaves && !on.After(untilDay) {
			if prev, ok := left[c.CustomerID]; !ok || on.Before(prev) {
				left[c.CustomerID] = on
			}
		}
	}
	for id, on := range left {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE customers SET left_on = ? WHERE id = ?`), database.Date(on), id); err != nil {
			return fail(err)
		}
		st.Departures++
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return st, nil
}
