package web

import (
	"net/http"

	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

// batchCard is one batch on the batches page.
type batchCard struct {
	reviewdb.Batch
	Name, Description string
	// Status is the proposals the card charts and samples, as
	// reviewdb.ProposalPage.Status: the pending ones ("") while any are, then
	// the approved ones, or all when none was approved.
	Status string
	// Decided: nothing of the batch is pending any more.
	Decided bool
	// Values charts the spread of those proposals' yearly values;
	// ChartValue is their total.
	Values     *barChart
	ChartValue int64
	// Samples are messages of those proposals: the most valuable, the
	// least valuable and a few at random.
	Samples []sample
	// Decisions say who decided how many proposals; Delivery what became
	// of their messages.
	Decisions []decision
	Delivery  []channelDelivery
	// HeldBack says why the run held back some of the rule's matches
	// (the batch page only).
	HeldBack []heldReason
	// Approvals are first approvals awaiting a second reviewer.
	Approvals []reviewdb.Approval
	// NeedsTwo: approving takes two reviewers.
	NeedsTwo bool
	// SecondAbove is the batch size above which two reviewers approve.
	SecondAbove int
	Back        string
	// Overdue counts the pending proposals that would expire now (serve
	// expires them on its timer; showing the page changes nothing).
	Overdue int64
}

type sample struct {
	reviewdb.ReviewedProposal
	Customer string
	// Label says why this one was picked: "most valuable", …
	Label   string
	Message shownMessage
}

type batchesData struct {
	Batches []batchCard
	All     bool
}

// batches serves GET /: every batch with something pending (all batches
// with ?all=1), newest run first.
func (s *Server) batches(w http.ResponseWriter, r *http.Request, u *reviewdb.User) {
	ctx := r.Context()
	all := r.URL.Query().Get("all") == "1"
	bs, err := reviewdb.ListBatches(ctx, s.cfg.DB, reviewdb.BatchFilter{All: all})
	if err != nil {
		s.failErr(w, r, u, err)
		return
	}
	rules := s.rules()
	data := batchesData{All: all}
	for _, b := range bs {
		card, err := s.batchCard(r, b, rules[b.Ruleset+"/"+b.RuleID])
		if err != nil {
			s.failErr(w, r, u, err)
			return
		}
		card.Back = r.URL.RequestURI()
		data.Batches = append(data.Batches, card)
	}
	s.render(w, r, http.StatusOK, "batches", page{Title: "Batches", Nav: "batches", User: u, Data: data})
}
