package main

import (
	"context"
	"fmt"
	"time"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/rules"
)

// benchOutcomesDays is how long after the bench's run `bench --outcomes`
// writes what customers did.
const benchOutcomesDays = 120

// benchOutcomes runs the rulesets again over the bench's customers, untimed
// and in this process, with the demo's control group for every rule that
// declares none; approves every batch; and writes what the customers did in
// the benchOutcomesDays after, with the demo's planted effect, for
// `goodturn outcomes` to measure at scale. The bench's mark is changed so
// that a later --reuse generates its customers afresh: their charges now
// run past the clock.
func benchOutcomes(ctx context.Context, env *Env, c *config, db *database.DB, sets []*rules.Ruleset, now time.Time, seed uint64, mark string) error {
	w := env.Stdout
	if err := store.Reset(ctx, db); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nOutcomes: running every ruleset again with a control group for each rule…\n")
	start := time.Now()
	withDemoControl(sets)
	eng := newEngine(env, db, db, c, 0)
	eng.Now = func() time.Time { return now }
	if _, err := runWithProgress(ctx, env, eng, sets, engine.Options{}); err != nil {
		return err
	}
	if err := store.SetMeta(ctx, db, benchKey, mark+" outcomes"); err != nil {
		return err
	}
	until := now.AddDate(0, 0, benchOutcomesDays)
	st, err := approveAndPlant(ctx, db, db, seed, until)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Approved every batch and wrote what customers did in the %d days after the run: %s plan changes, %s departures, %s monthly bills (%s).\n",
		benchOutcomesDays, count(int64(st.PlanChanges)), count(int64(st.Departures)), count(int64(st.Bills)), time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(w, "Measure them: goodturn outcomes --db %s --now %s\n", database.Redact(c.db), until.Format(time.DateOnly))
	return nil
}
