package web

import (
	"net/http"
	"strconv"

	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify"
	"github.com/goodturn/goodturn/notify/outbox/outboxdb"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
	"github.com/goodturn/goodturn/rules"
)

type proposalData struct {
	P        *reviewdb.ReviewedProposal
	BatchKey string
	RuleName string
	Customer rules.Customer
	Known    bool
	Offer    []field
	Evidence evidence
	EvErr    string
	Message  shownMessage
	// Sent are the proposal's outbox rows once it was approved: what was
	// (or will be) sent.
	Sent []outboxdb.Message
	// Usage charts, for plan changes.
	Usage     []usageChart
	UsageNote string
	Back      string
}

// proposal serves GET /proposals/{id}: the offer, the message as it would
// be sent, the evidence (named values, each clause with its value, the
// facts read) and, for a plan change, the customer's usage against the
// allowances of the current and the proposed plan.
func (s *Server) proposal(w http.ResponseWriter, r *http.Request, u *reviewdb.User) {
	ctx := r.Context()
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.fail(w, r, u, http.StatusNotFound, "There is no proposal "+r.PathValue("id")+".")
		return
	}
	p, err := reviewdb.GetProposal(ctx, s.cfg.DB, id)
	if err != nil {
		s.failErr(w, r, u, err)
		return
	}
	rule := s.rules()[p.Ruleset+"/"+p.RuleID]
	d := proposalData{P: p, BatchKey: store.BatchKey(p.RunID, p.RuleID), RuleName: p.RuleID, Back: r.URL.RequestURI()}
	if rule != nil {
		d.RuleName = rule.Name
	}
	d.Customer, d.Known = s.customer(ctx, p.CustomerID)
	var a amounts
	if d.Evidence, a, err = decodeEvidence(p.Evidence, p.Offer, p.Currency); err != nil {
		d.EvErr = err.Error()
	}
	offer, err := notify.DecodeObject(p.Offer)
	if err == nil {
		d.Offer = fields(offer, a)
	}
	if rule != nil {
		withDescriptions(d.Offer, rule.OfferDescription)
		withDescriptions(d.Evidence.Values, rule.ValueDescription)
	}
	d.Message = s.showMessage(rule, p.Proposal, d.Customer)
	if d.Sent, err = outboxdb.List(ctx, s.cfg.DB, outboxdb.Filter{ProposalID: p.ID}); err != nil {
		s.failErr(w, r, u, err)
		return
	}
	planID, _ := offer["plan_id"].(string)
	if planID == "" {
		planID, _ = offer["best_plan_id"].(string)
	}
	if planID != "" && d.Known {
		facts, err := s.cfg.Billing.CustomerFacts(ctx, p.CustomerID, p.AsOf)
		if err != nil {
			s.log.Warn("review page: usage", "customer", p.CustomerID, "error", err)
			d.UsageNote = "The customer's usage could not be read."
		} else {
			proposed, ok := facts.PlanByID(planID)
			if !ok {
				d.UsageNote = "The offered plan " + planID + " is no longer in the catalogue."
			}
			d.Usage = usageCharts(facts, proposed, ok)
		}
	}
	s.render(w, r, http.StatusOK, "proposal", page{Title: "Proposal " + strconv.FormatInt(p.ID, 10), Nav: "batches", User: u, Data: d})
}
