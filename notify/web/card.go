package web

import (
	"net/http"

	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/rules"
)

// batchCard gathers what the batches page and a batch page show of a
// batch: the rule, the values' spread, sample messages and first
// approvals.
func (s *Server) batchCard(r *http.Request, b store.Batch, rule *rules.Rule) (batchCard, error) {
	ctx := r.Context()
	card := batchCard{Batch: b, Name: b.RuleID}
	if rule != nil {
		card.Name, card.Description = rule.Name, rule.Description
	}
	values, err := store.BatchValues(ctx, s.cfg.DB, b.RunID, b.RuleID, "")
	if err != nil {
		return card, err
	}
	card.Values = histogram(values, b.Currency)
	ps, _, err := store.BatchProposals(ctx, s.cfg.DB, b.RunID, b.RuleID, store.ProposalPage{Limit: samplesPerBatch})
	if err != nil {
		return card, err
	}
	for _, p := range ps {
		cust, _ := s.customer(ctx, p.CustomerID)
		card.Samples = append(card.Samples, sample{ReviewedProposal: p, Customer: cust.Name, Message: renderMessage(rule, p.Proposal, cust)})
	}
	if card.Approvals, err = store.BatchApprovals(ctx, s.cfg.DB, b.RunID, b.RuleID); err != nil {
		return card, err
	}
	if card.Overdue, err = s.overdue(r, b); err != nil {
		return card, err
	}
	above := s.cfg.Review.SecondReviewerAbove
	card.NeedsTwo, card.SecondAbove = above >= 0 && b.Pending > int64(above), above
	return card, nil
}

// overdue counts the batch's pending proposals that would expire now.
func (s *Server) overdue(r *http.Request, b store.Batch) (int64, error) {
	if s.cfg.Review == nil {
		return 0, nil
	}
	overdue, err := s.cfg.Review.Overdue(r.Context(), store.Selection{RunID: b.RunID, RuleID: b.RuleID})
	return overdue[b.Key()], err
}
