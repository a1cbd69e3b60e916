package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/policy"
)

// TestCollectHeldListsEveryHeldMatch checks that a dry run collecting held
// matches lists one for every match it counted as held back, with its
// reason, and that matches = proposals + held.
func TestCollectHeldListsEveryHeldMatch(t *testing.T) {
	ctx := context.Background()
	db := dbtest.MustOpenSQLite(t)
	eng := mustSetup(t, db, 400)
	res, err := eng.Run(ctx, mustLoad(t, "../rulesets/mobile"), engine.Options{DryRun: true, Collect: true, CollectHeld: true})
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]map[string]int64{}
	for _, h := range res.HeldMatches {
		if h.Reason == "" || h.CustomerID == 0 || len(h.Offer) == 0 {
			t.Fatalf("held match without reason, customer or offer: %+v", h)
		}
		if listed[h.RuleID] == nil {
			listed[h.RuleID] = map[string]int64{}
		}
		listed[h.RuleID][h.Reason]++
	}
	if len(res.HeldMatches) == 0 {
		t.Fatal("no held matches listed; the sample data holds some back")
	}
	for _, rr := range res.Rules {
		for reason, n := range res.Held[rr.RuleID] {
			if strings.HasPrefix(reason, policy.ReasonBrokenPromise+": ") || reason == policy.ReasonUnhealthy {
				continue // counted per promise, or after the run
			}
			if listed[rr.RuleID][reason] != n {
				t.Errorf("%s: %d held for %s, %d listed", rr.RuleID, n, reason, listed[rr.RuleID][reason])
			}
		}
		var found int64
		for _, p := range res.Found {
			if p.RuleID == rr.RuleID {
				found++
			}
		}
		var held int64
		for _, n := range listed[rr.RuleID] {
			held += n
		}
		if found+held != rr.Matched {
			t.Errorf("%s: %d proposed + %d held, but %d matched", rr.RuleID, found, held, rr.Matched)
		}
	}
}
