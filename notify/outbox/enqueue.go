// Package outbox turns approved proposals into outbox messages and delivers
// them through channels, exactly once as far as the receiving side can
// tell: every message has an idempotency key that travels with it, is
// marked sending with its attempt before it is handed to a channel, and a
// message left sending by a process that stopped is sent again only with
// the same key (see docs/sending.md). The outbox table and its SQL are in
// outboxdb.
package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify"
	"github.com/goodturn/goodturn/notify/outbox/outboxdb"
	"github.com/goodturn/goodturn/rules"
)

// ActionChannel is the outbox channel of billing actions.
const ActionChannel = "action"

// Customers reads one customer from the billing data; *billing.Reader
// does.
type Customers interface {
	Customer(ctx context.Context, id int64) (rules.Customer, error)
}

// Enqueuer turns approved proposals into outbox rows.
type Enqueuer struct {
	DB        *database.DB
	Customers Customers
	// Rulesets hold the rules whose templates and channels the messages
	// use.
	Rulesets []*rules.Ruleset
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Batch is how many proposals one transaction enqueues; 200 when zero.
	Batch int

	templates map[*rules.Rule]*notify.Templates
	// suppressions are those active when Enqueue started.
	suppressions []store.Suppression
}

// EnqueueResult says what Enqueue did.
type EnqueueResult struct {
	// Proposals counts the proposals enqueued; Messages and Actions the
	// rows they made; Skipped the messages recorded as skipped (no address,
	// or the customer opted out of contact).
	Proposals, Messages, Actions, Skipped int
	// Failed holds one error per proposal that could not be enqueued (its
	// rule is gone, its template fails); they stay approved without outbox
	// rows and are tried again next time.
	Failed []error
}

// Key returns the idempotency key of a proposal's message on a channel.
func Key(proposalID int64, channel string) string {
	return fmt.Sprintf("proposal-%d-%s", proposalID, channel)
}

// Enqueue finds the approved proposals with no outbox rows and inserts, for
// each, one message per channel of its rule and one billing action when its
// offer names an action, rendered now in the customer's locale. It is
// idempotent: the rows' keys are unique, so running it twice adds nothing.
func (e *Enqueuer) Enqueue(ctx context.Context) (EnqueueResult, error) {
	var res EnqueueResult
	batch := e.Batch
	if batch <= 0 {
		batch = 200
	}
	if e.templates == nil {
		e.templates = map[*rules.Rule]*notify.Templates{}
	}
	// A customer's preferences may have changed while the proposal waited
	// for review: suppressions and consent are checked again here.
	sup, err := store.ListSuppressions(ctx, e.DB, e.now().UTC())
	if err != nil {
		return res, err
	}
	e.suppressions = sup
	var after int64
	for {
		ps, err := outboxdb.ApprovedWithoutMessage(ctx, e.DB, after, batch)
		if err != nil {
			return res, err
		}
		if len(ps) == 0 {
			return res, nil
		}
		after = ps[len(ps)-1].ID
		var rows []outboxdb.Message
		var props int
		for _, p := range ps {
			ms, err := e.messages(ctx, p)
			if err != nil {
				res.Failed = append(res.Failed, fmt.Errorf("proposal %d (%s/%s, customer %d): %w", p.ID, p.Ruleset, p.RuleID, p.CustomerID, err))
				continue
			}
			props++
			rows = append(rows, ms...)
		}
		n, err := outboxdb.Enqueue(ctx, e.DB, rows)
		if err != nil {
			return res, err
		}
		if n == len(rows) {
			res.Proposals += props
			for _, m := range rows {
				switch {
				case m.Status == outboxdb.Skipped:
					res.Skipped++
				case m.Channel == ActionChannel:
					res.Actions++
				default:
					res.Messages++
				}
			}
		} else {
			// Another process enqueued some of them meanwhile; count what
			// this call added.
			res.Messages += n
		}
	}
}

func (e *Enqueuer) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// rule finds a proposal's rule.
func (e *Enqueuer) rule(p store.Proposal) *rules.Rule {
	for _, rs := range e.Rulesets {
		if rs.Name == p.Ruleset {
			return rs.Rule(p.RuleID)
		}
	}
	return nil
}

// messages renders one proposal's outbox rows.
func (e *Enqueuer) messages(ctx context.Context, p store.Proposal) ([]outboxdb.Message, error) {
	r := e.rule(p)
	if r == nil {
		return nil, fmt.Errorf("rule %s/%s is not in the loaded rulesets", p.Ruleset, p.RuleID)
	}
	tmpl := e.templates[r]
	if tmpl == nil {
		t, err := notify.LoadTemplates(r)
		if err != nil {
			return nil, err
		}
		e.templates[r], tmpl = t, t
	}
	cust, err := e.Customers.Customer(ctx, p.CustomerID)
	if err != nil {
		return nil, err
	}
	rendered, err := tmpl.RenderProposal(notify.Proposal{Value: p.Value, Currency: p.Currency, Offer: p.Offer, Evidence: p.Evidence}, cust)
	if err != nil {
		return nil, err
	}
	msg := rendered.Message
	now := e.now().UTC()
	base := outboxdb.Message{ProposalID: p.ID, CustomerID: p.CustomerID, AccountNo: cust.AccountNo, RecipientName: cust.Name, Timezone: cust.Timezone,
		Status: outboxdb.Queued, NextAttemptAt: now, CreatedAt: now}
	var out []outboxdb.Message
	for _, ch := range r.Message.Channels {
		m := base
		m.Key, m.Channel = Key(p.ID, ch), ch
		switch ch {
		case "email":
			m.Recipient, m.Subject, m.Text, m.HTML = cust.Email, msg.Subject, msg.Text, notify.TextToHTML(msg.Text)
		case "sms":
			m.Recipient, m.SMS = cust.Phone, msg.SMS
		default:
			m.Subject, m.Text, m.HTML, m.SMS = msg.Subject, msg.Text, notify.TextToHTML(msg.Text), msg.SMS
		}
		switch {
		case cust.ContactOptOut:
			m.Status, m.LastError = outboxdb.Skipped, "the customer has opted out of contact"
		case r.Purpose != "service" && !cust.MarketingOptIn:
			m.Status, m.LastError = outboxdb.Skipped, "the customer has withdrawn marketing consent"
		case e.suppressed(cust, p) != "":
			m.Status, m.LastError = outboxdb.Skipped, "suppressed: "+e.suppressed(cust, p)
		case (ch == "email" || ch == "sms") && strings.TrimSpace(m.Recipient) == "":
			m.Status, m.LastError = outboxdb.Skipped, "the customer has no "+map[string]string{"email": "email address", "sms": "phone number"}[ch]
		}
		out = append(out, m)
	}
	if action, _ := rendered.Offer["action"].(string); action != "" {
		payload, err := json.Marshal(map[string]any{
			"key": Key(p.ID, ActionChannel), "action": action, "proposal_id": p.ID, "customer_id": p.CustomerID, "account_no": cust.AccountNo,
			"ruleset": p.Ruleset, "rule": p.RuleID, "kind": p.Kind, "value": p.Value, "currency": p.Currency,
			"offer": json.RawMessage(p.Offer),
		})
		if err != nil {
			return nil, fmt.Errorf("action: %w", err)
		}
		m := base
		m.Key, m.Channel, m.Payload = Key(p.ID, ActionChannel), ActionChannel, string(payload)
		out = append(out, m)
	}
	return out, nil
}

// suppressed returns why an active suppression covers the customer and the
// proposal's rule, or "".
func (e *Enqueuer) suppressed(c rules.Customer, p store.Proposal) string {
	today := e.now().UTC()
	for _, s := range e.suppressions {
		if s.Covers(c.ID, c.Segment, p.Ruleset, p.RuleID, today) {
			return fmt.Sprintf("%s (by %s)", s.Reason, s.Owner)
		}
	}
	return ""
}
