package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

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

// clause is one clause of `when`: whether it held and the named values
// and facts it reads, which decided it.
type clause struct {
	Clause    string
	Value     field
	Evaluated bool
	Holds     bool
	Decided   []field
}

// identRe matches the names a clause reads: best, plan.monthly_price.
var identRe = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*`)

// deciders returns the values among known that clause reads, in the
// order it reads them, each once.
func deciders(clause string, known map[string]field) []field {
	var out []field
	seen := map[string]bool{}
	for _, id := range identRe.FindAllString(clause, -1) {
		// plan.monthly_price may be a fact itself or a field of plan.
		for name := id; name != ""; {
			if f, ok := known[name]; ok {
				if !seen[name] {
					seen[name] = true
					out = append(out, f)
				}
				break
			}
			i := strings.LastIndexByte(name, '.')
			if i < 0 {
				break
			}
			name = name[:i]
		}
	}
	return out
}

// decodeEvidence reads a proposal's evidence and returns it written for
// people, and what it says of amounts (which values are money).
func decodeEvidence(raw, offer []byte, currency string) (evidence, amounts, error) {
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
	a := amounts{currency: currency, isMoney: rules.EvidenceMoney(raw, offer)}
	if err := d.Decode(&ev); err != nil {
		return evidence{}, a, err
	}
	var out evidence
	known := map[string]field{}
	for _, v := range ev.Values {
		f := describe(v.Name, v.Value, a)
		out.Values = append(out.Values, f)
		known[v.Name] = f
	}
	for _, f := range ev.Facts {
		d := describe(f.Name, f.Value, a)
		out.Facts = append(out.Facts, d)
		if _, ok := known[f.Name]; !ok {
			known[f.Name] = d
		}
	}
	for _, c := range ev.Clauses {
		out.Clauses = append(out.Clauses, clause{Clause: c.Clause, Value: describe("", c.Value, a), Evaluated: c.Evaluated,
			Holds: c.Value == true, Decided: deciders(c.Clause, known)})
	}
	return out, a, nil
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
	// Note says the message is not in the customer's language.
	Note string
}

// renderMessage renders p's message for its customer as the outbox
// enqueuer does (notify.Template.RenderLocalized over the same data).
func renderMessage(r *rules.Rule, p store.Proposal, cust rules.Customer) message {
	if r == nil {
		return message{Err: fmt.Sprintf("rule %s/%s is not among the loaded rulesets, so its message cannot be shown", p.Ruleset, p.RuleID)}
	}
	m := message{Channels: r.Message.Channels, To: cust.Email, Phone: cust.Phone}
	tmpl, err := notify.LoadTemplates(r)
	if err != nil {
		m.Err = err.Error()
		return m
	}
	rendered, err := tmpl.RenderProposal(notify.Proposal{Value: p.Value, Currency: p.Currency, Offer: p.Offer, Evidence: p.Evidence}, cust)
	if err != nil {
		m.Err = err.Error()
		return m
	}
	m.Message, m.Channels = rendered.Message, rendered.Channels
	if rendered.Fallback {
		m.Note = fmt.Sprintf("Written in %s: there is no template in the language of the customer's locale %q.", notify.LanguageName(rendered.Language), cust.Locale)
	}
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
