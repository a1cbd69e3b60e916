package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify"
	"github.com/goodturn/goodturn/rules"
)

// evidence is a proposal's recorded evidence, written for people.
type evidence struct {
	Values  []field
	Clauses []clause
	Facts   []field
}

type clause struct {
	Clause    string
	Value     field
	Evaluated bool
	Holds     bool
}

func decodeEvidence(raw []byte, currency string) (evidence, error) {
	var ev struct {
		Values []struct {
			Name  string `json:"name"`
			Value any    `json:"value"`
		} `json:"values"`
		Clauses []struct {
			Clause    string `json:"clause"`
			Value     any    `json:"value"`
			Evaluated bool   `json:"evaluated"`
		} `json:"clauses"`
		Facts []struct {
			Name  string `json:"name"`
			Value any    `json:"value"`
		} `json:"facts"`
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&ev); err != nil {
		return evidence{}, err
	}
	var out evidence
	for _, v := range ev.Values {
		out.Values = append(out.Values, describe(v.Name, v.Value, currency))
	}
	for _, c := range ev.Clauses {
		out.Clauses = append(out.Clauses, clause{Clause: c.Clause, Value: describe("", c.Value, currency), Evaluated: c.Evaluated, Holds: c.Value == true})
	}
	for _, f := range ev.Facts {
		out.Facts = append(out.Facts, describe(f.Name, f.Value, currency))
	}
	return out, nil
}

// message is a proposal's message rendered exactly as the outbox would
// enqueue it: the rule's template in the customer's locale.
type message struct {
	Channels []string
	To       string
	Phone    string
	notify.Message
	// Err says why the message cannot be rendered.
	Err string
}

// renderMessage renders p's message for its customer as the outbox
// enqueuer does (notify.Template.RenderLocalized over the same data).
func renderMessage(r *rules.Rule, p store.Proposal, cust rules.Customer) message {
	if r == nil {
		return message{Err: fmt.Sprintf("rule %s/%s is not among the loaded rulesets, so its message cannot be shown", p.Ruleset, p.RuleID)}
	}
	m := message{Channels: r.Message.Channels, To: cust.Email, Phone: cust.Phone}
	tmpl, err := notify.ParseRuleTemplate(r)
	if err != nil {
		m.Err = err.Error()
		return m
	}
	rendered, err := tmpl.RenderProposal(r, notify.Proposal{Value: p.Value, Currency: p.Currency, Offer: p.Offer, Evidence: p.Evidence}, cust)
	if err != nil {
		m.Err = err.Error()
		return m
	}
	m.Message, m.Channels = rendered.Message, rendered.Channels
	return m
}

// customer reads a proposal's customer; a customer gone from the billing
// data is shown by id.
func (s *Server) customer(ctx context.Context, id int64) (rules.Customer, bool) {
	c, err := s.cfg.Billing.Customer(ctx, id)
	if err != nil {
		s.log.Warn("review page: customer", "customer", id, "error", err)
		return rules.Customer{ID: id, Name: fmt.Sprintf("customer %d", id)}, false
	}
	return c, true
}
