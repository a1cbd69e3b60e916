package engine

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/policy"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/rules"
)

// earlierIndex holds the latest earlier proposal of each slot (a rule of
// a ruleset of the run) to each customer that can hold back a new one:
// pending, or within the longest cooldown of its ruleset. It is sorted by
// customer, then slot, and searched; 16 bytes an entry, where a map keyed
// by ruleset, rule name and customer took about a hundred, and a night
// after a night whose proposals still wait for review holds one entry for
// each of them (225,000 at 1,000,000 customers).
type earlierIndex []earlierEntry

// earlierEntry is the latest earlier proposal of a slot to a customer.
type earlierEntry struct {
	customer int64
	// day is the day it was proposed, in days since 1970-01-01.
	day     int32
	slot    uint16
	pending bool
}

const secondsPerDay = 24 * 60 * 60

func compareEarlier(a, b earlierEntry) int {
	return cmp.Or(cmp.Compare(a.customer, b.customer), cmp.Compare(a.slot, b.slot))
}

// find returns the latest earlier proposal of slot si to the customer, or
// nil.
func (x earlierIndex) find(si int, customer int64) *policy.Earlier {
	i, ok := slices.BinarySearchFunc(x, earlierEntry{customer: customer, slot: uint16(si)}, compareEarlier)
	if !ok {
		return nil
	}
	return &policy.Earlier{Pending: x[i].pending, AsOf: time.Unix(int64(x[i].day)*secondsPerDay, 0).UTC()}
}

// earlierProposals reads the earlier proposals of the slots' rulesets that
// can hold back a new proposal to a customer of rng: those pending and
// those within the ruleset's longest cooldown, leaving out the proposals
// of excludeRuns. A proposal of a rule that is not a slot (disabled, or
// gone from the rule files) holds nobody back and is not kept.
func (e *Engine) earlierProposals(ctx context.Context, sets []*rules.Ruleset, slots []slot, today time.Time, rng billing.Range, excludeRuns ...int64) (earlierIndex, error) {
	if len(slots) > math.MaxUint16+1 {
		return nil, fmt.Errorf("earlier proposals: %d rules in one run, at most %d", len(slots), math.MaxUint16+1)
	}
	var x earlierIndex
	for set, rs := range sets {
		var longest time.Duration
		for _, r := range rs.Rules {
			longest = max(longest, r.Cooldown)
		}
		slotOf := map[string]uint16{}
		for si, sl := range slots {
			if sl.set == set {
				slotOf[sl.rule.ID] = uint16(si)
			}
		}
		q := store.RecentQuery{Ruleset: rs.Name, Since: today.Add(-longest), From: rng.From, To: rng.To, ExcludeRuns: excludeRuns}
		err := store.RecentProposals(ctx, e.DB, q, func(k store.ProposalKey) error {
			si, ok := slotOf[k.RuleID]
			if !ok {
				return nil
			}
			x = append(x, earlierEntry{customer: k.CustomerID, slot: si, pending: k.Status == store.ProposalPending,
				day: int32(k.AsOf.UTC().Unix() / secondsPerDay)})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return x.merged(), nil
}

// merged sorts the index and keeps one entry per slot and customer:
// pending if any of theirs is, on the latest day.
func (x earlierIndex) merged() earlierIndex {
	slices.SortFunc(x, compareEarlier)
	out := x[:0]
	for _, en := range x {
		if n := len(out); n > 0 && compareEarlier(out[n-1], en) == 0 {
			last := &out[n-1]
			last.pending, last.day = last.pending || en.pending, max(last.day, en.day)
			continue
		}
		out = append(out, en)
	}
	return slices.Clip(out)
}
