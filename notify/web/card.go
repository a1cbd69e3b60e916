package web

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/goodturn/goodturn/engine/policy"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/outbox/outboxdb"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
	"github.com/goodturn/goodturn/rules"
)

// randomSamples is how many messages chosen at random a batch shows
// besides its most and least valuable.
const randomSamples = 2

// batchCard gathers what the batches page and a batch page show of a
// batch: the rule, the values' spread, sample messages, first approvals
// and, once decided, who decided what and what has been sent since.
func (s *Server) batchCard(r *http.Request, b reviewdb.Batch, rule *rules.Rule) (batchCard, error) {
	ctx := r.Context()
	card := batchCard{Batch: b, Name: b.RuleID}
	if rule != nil {
		card.Name, card.Description = rule.Name, rule.Description
	}
	if b.Pending == 0 {
		// A decided batch charts and samples what was approved, or every
		// decided proposal when none was.
		card.Status, card.Decided = "all", true
		if b.Approved > 0 {
			card.Status = store.ProposalApproved
		}
	}
	values, err := reviewdb.BatchValues(ctx, s.cfg.DB, b.RunID, b.RuleID, card.Status)
	if err != nil {
		return card, err
	}
	for _, v := range values {
		card.ChartValue += v
	}
	card.Values = histogram(values, b.Currency)
	if card.Samples, err = s.samples(ctx, b, rule, card.Status); err != nil {
		return card, err
	}
	if card.Approvals, err = reviewdb.BatchApprovals(ctx, s.cfg.DB, b.RunID, b.RuleID); err != nil {
		return card, err
	}
	if card.Decisions, err = s.decisions(ctx, b); err != nil {
		return card, err
	}
	if card.Delivery, err = s.delivery(ctx, b); err != nil {
		return card, err
	}
	if card.Overdue, err = s.overdue(ctx, b); err != nil {
		return card, err
	}
	above := s.cfg.Review.SecondReviewerAbove
	card.NeedsTwo, card.SecondAbove = above >= 0 && b.Pending > int64(above), above
	return card, nil
}

// samples picks a batch's sample messages among its proposals of status
// (as reviewdb.ProposalPage.Status):
// the most valuable, the least valuable and a few at random, the same few
// every time the batch is shown.
func (s *Server) samples(ctx context.Context, b reviewdb.Batch, rule *rules.Rule, status string) ([]sample, error) {
	_, total, err := reviewdb.BatchProposals(ctx, s.cfg.DB, b.RunID, b.RuleID, reviewdb.ProposalPage{Status: status, Limit: 1})
	if err != nil || total == 0 {
		return nil, err
	}
	type pick struct {
		at    int64
		label string
	}
	picks := []pick{{0, "most valuable"}}
	if total > 1 {
		picks = append(picks, pick{total - 1, "least valuable"})
	}
	if total > 2 {
		h := fnv.New64a()
		h.Write([]byte(b.Key()))
		rnd := rand.New(rand.NewPCG(h.Sum64(), uint64(b.RunID)))
		// Between the first and the last, without repeats.
		for _, i := range rnd.Perm(int(total - 2))[:min(randomSamples, int(total-2))] {
			picks = append(picks, pick{int64(i) + 1, "chosen at random"})
		}
	}
	var out []sample
	for _, pk := range picks {
		ps, _, err := reviewdb.BatchProposals(ctx, s.cfg.DB, b.RunID, b.RuleID, reviewdb.ProposalPage{Status: status, Limit: 1, Offset: int(pk.at)})
		if err != nil {
			return nil, err
		}
		if len(ps) == 0 {
			continue
		}
		cust, _ := s.customer(ctx, ps[0].CustomerID)
		out = append(out, sample{ReviewedProposal: ps[0], Customer: cust.Name, Label: pk.label, Message: s.showMessage(rule, ps[0].Proposal, cust)})
	}
	return out, nil
}

// decision is who decided how many of a batch's proposals, and when.
type decision struct {
	Status string
	By     string
	Count  int64
	Value  int64
	At     time.Time
}

// decisions lists who approved, rejected or let expire a batch's
// proposals, the most first.
func (s *Server) decisions(ctx context.Context, b reviewdb.Batch) ([]decision, error) {
	db := s.cfg.DB
	rows, err := db.QueryContext(ctx, db.Rebind(`SELECT status, decided_by, COUNT(*), SUM(value), MAX(decided_at) FROM proposals
		WHERE run_id = ? AND rule_id = ? AND status IN (?, ?, ?) GROUP BY status, decided_by ORDER BY COUNT(*) DESC, decided_by`),
		b.RunID, b.RuleID, store.ProposalApproved, store.ProposalRejected, store.ProposalExpired)
	if err != nil {
		return nil, fmt.Errorf("decisions of batch %s: %w", b.Key(), err)
	}
	defer rows.Close()
	var out []decision
	for rows.Next() {
		var d decision
		var at any
		if err := rows.Scan(&d.Status, &d.By, &d.Count, &d.Value, &at); err != nil {
			return nil, fmt.Errorf("decisions of batch %s: %w", b.Key(), err)
		}
		d.At = anyTime(at)
		out = append(out, d)
	}
	return out, rows.Err()
}

// anyTime reads a time an aggregate returns: a time.Time from
// PostgreSQL, text from SQLite.
func anyTime(v any) time.Time {
	switch x := v.(type) {
	case time.Time:
		return x
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999"} {
			if t, err := time.Parse(layout, x); err == nil {
				return t
			}
		}
	case []byte:
		return anyTime(string(x))
	}
	return time.Time{}
}

// channelDelivery counts a batch's messages on one channel by status.
type channelDelivery struct {
	Channel                     string
	Queued, Sent, Dead, Skipped int64
}

// delivery counts the outbox messages of a batch's proposals, by channel
// and status: what has been sent, delivered or given up on since it was
// approved.
func (s *Server) delivery(ctx context.Context, b reviewdb.Batch) ([]channelDelivery, error) {
	db := s.cfg.DB
	rows, err := db.QueryContext(ctx, db.Rebind(`SELECT o.channel, o.status, COUNT(*) FROM outbox o
		JOIN proposals p ON p.id = o.proposal_id WHERE p.run_id = ? AND p.rule_id = ? GROUP BY o.channel, o.status`), b.RunID, b.RuleID)
	if err != nil {
		return nil, fmt.Errorf("messages of batch %s: %w", b.Key(), err)
	}
	defer rows.Close()
	by := map[string]*channelDelivery{}
	for rows.Next() {
		var ch, st string
		var n int64
		if err := rows.Scan(&ch, &st, &n); err != nil {
			return nil, fmt.Errorf("messages of batch %s: %w", b.Key(), err)
		}
		d := by[ch]
		if d == nil {
			d = &channelDelivery{Channel: ch}
			by[ch] = d
		}
		switch st {
		case outboxdb.Sent:
			d.Sent += n
		case outboxdb.Dead:
			d.Dead += n
		case outboxdb.Skipped:
			d.Skipped += n
		default:
			d.Queued += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("messages of batch %s: %w", b.Key(), err)
	}
	out := make([]channelDelivery, 0, len(by))
	for _, d := range by {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Channel < out[j].Channel })
	return out, nil
}

// heldReason is one reason a rule's matches were held back in a run.
type heldReason struct {
	Reason    string
	Customers int64
	// Promises are, for broken promises, each promise and how many
	// matches broke it.
	Promises []heldPromise
}

type heldPromise struct {
	Promise   string
	Customers int64
}

// reasonText says each held-back reason in words.
var reasonText = map[string]string{
	policy.ReasonBrokenPromise: "broke a promise the rule keeps",
	policy.ReasonSuppressed:    "suppressed",
	policy.ReasonOptedOut:      "opted out of contact",
	policy.ReasonUnreachable:   "no address for the rule's channels",
	policy.ReasonNoConsent:     "no marketing consent",
	policy.ReasonPending:       "already have one pending",
	policy.ReasonCooldown:      "contacted within the cooldown",
	policy.ReasonFrequencyCap:  "contacted too often lately",
	policy.ReasonOutranked:     "got a more valuable offer instead",
	policy.ReasonUnhealthy:     "the rule failed too often in this run",
}

// held says how many of a batch's rule's matches the run held back, and
// why, in the order the reasons are checked.
func (s *Server) held(ctx context.Context, b reviewdb.Batch) ([]heldReason, error) {
	all, err := store.Held(ctx, s.cfg.DB, b.RunID)
	if err != nil {
		return nil, err
	}
	counts := all[b.RuleID]
	var out []heldReason
	for _, reason := range policy.Reasons {
		n := counts[reason]
		if n == 0 {
			continue
		}
		h := heldReason{Reason: reasonText[reason], Customers: n}
		if reason == policy.ReasonBrokenPromise {
			for p, n := range policy.BrokenPromises(counts) {
				h.Promises = append(h.Promises, heldPromise{Promise: p, Customers: n})
			}
			sort.Slice(h.Promises, func(i, j int) bool { return h.Promises[i].Promise < h.Promises[j].Promise })
		}
		out = append(out, h)
	}
	for reason, n := range counts {
		if !strings.HasPrefix(reason, policy.ReasonBrokenPromise) && reasonText[reason] == "" && n > 0 {
			out = append(out, heldReason{Reason: reason, Customers: n})
		}
	}
	return out, nil
}

// overdue counts the batch's pending proposals that would expire now.
func (s *Server) overdue(ctx context.Context, b reviewdb.Batch) (int64, error) {
	if s.cfg.Review == nil {
		return 0, nil
	}
	overdue, err := s.cfg.Review.Overdue(ctx, reviewdb.Selection{RunID: b.RunID, RuleID: b.RuleID})
	return overdue[b.Key()], err
}
