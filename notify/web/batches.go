package web

import (
	"net/http"

	"github.com/goodturn/goodturn/engine/store"
)

// samplesPerBatch is how many rendered messages a batch shows.
const samplesPerBatch = 3

// batchCard is one batch on the batches page.
type batchCard struct {
	store.Batch
	Name, Description string
	// Values charts the spread of the pending proposals' yearly values.
	Values *barChart
	// Samples are the most valuable pending proposals' messages.
	Samples []sample
	// Approvals are first approvals awaiting a second reviewer.
	Approvals []store.Approval
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
	store.ReviewedProposal
	Customer string
	Message  message
}

type batchesData struct {
	Batches []batchCard
	All     bool
}

// batches serves GET /: every batch with something pending (all batches
// with ?all=1), newest run first.
func (s *Server) batches(w http.ResponseWriter, r *http.Request, u *store.User) {
	ctx := r.Context()
	all := r.URL.Query().Get("all") == "1"
	bs, err := store.ListBatches(ctx, s.cfg.DB, store.BatchFilter{All: all})
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
