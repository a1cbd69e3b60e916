// Package outbox turns approved proposals into outbox messages and delivers
// them through channels as River jobs, one send job per message inserted
// in the same transaction as the message, exactly once as far as the
// receiving side can tell: every message has an idempotency key that
// travels with it, is marked sending with its attempt before it is handed
// to a channel, and a message left sending by a process that stopped is
// sent again only with the same key (see docs/sending.md). River retries
// a failed job, snoozes it for quiet hours and rate limits, and discards
// it after its last attempt: the message is then dead. The outbox table
// and its SQL are in outboxdb.
package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
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

// Enqueuer turns approved proposals into outbox rows, each with its send
// job.
type Enqueuer struct {
	DB        *database.DB
	Customers Customers
	// Rulesets hold the rules whose templates and channels the messages
	// use.
	Rulesets []*rules.Ruleset
	// Jobs inserts each message's send job in the transaction that
	// inserts the message.
	Jobs *Jobs
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Batch is how many proposals one transaction enqueues; 200 when zero.
	Batch int

	// mu guards templates: approvals on the review page enqueue
	// concurrently with serve's rounds.
	mu        sync.Mutex
	templates map[*rules.Rule]*notify.Templates
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
// offer names an action, rendered now in the customer's locale, each with
// its send job in the same transaction. It is idempotent: the rows' keys
// are unique, so running it twice adds nothing. It catches the proposals
// approved without the outbox at hand (see EnqueueIn).
func (e *Enqueuer) Enqueue(ctx context.Context) (EnqueueResult, error) {
	return e.EnqueueIn(ctx, e.DB, outboxdb.Approved{})
}

// EnqueueIn is Enqueue for the approved proposals sel selects, on q: given
// a decision's transaction, the messages and their send jobs are enqueued
// in it, so that they exist exactly when the approval does.
func (e *Enqueuer) EnqueueIn(ctx context.Context, q database.Querier, sel outboxdb.Approved) (EnqueueResult, error) {
	var res EnqueueResult
	batch := e.Batch
	if batch <= 0 {
		batch = 200
	}
	// A customer's preferences may have changed while the proposal waited
	// for review: suppressions and consent are checked again here.
	sup, err := store.ListSuppressions(ctx, q, e.now().UTC())
	if err != nil {
		return res, err
	}
	var after int64
	for {
		ps, err := outboxdb.ApprovedWithoutMessage(ctx, q, sel, after, batch)
		if err != nil {
			return res, err
		}
		if len(ps) == 0 {
			return res, nil
		}
		after = ps[len(ps)-1].ID
		var rows []outboxdb.Message
		for _, p := range ps {
			ms, err := e.messages(ctx, p, sup)
			if err != nil {
				res.Failed = append(res.Failed, fmt.Errorf("proposal %d (%s/%s, customer %d): %w", p.ID, p.Ruleset, p.RuleID, p.CustomerID, err))
				continue
			}
			rows = append(rows, ms...)
		}
		added, err := e.insert(ctx, q, rows)
		if err != nil {
			return res, err
		}
		res.count(added)
	}
}

// insert inserts rows and their send jobs in one transaction on q, and
// returns the rows it added: another process may have enqueued some of
// them meanwhile.
func (e *Enqueuer) insert(ctx context.Context, q database.Querier, rows []outboxdb.Message) ([]outboxdb.Message, error) {
	if e.Jobs == nil {
		return nil, fmt.Errorf("enqueue: no River client to insert send jobs with")
	}
	tx, err := database.Begin(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	defer tx.Rollback()
	added, err := outboxdb.Enqueue(ctx, tx, rows)
	if err != nil {
		return nil, err
	}
	if err := e.Jobs.insert(ctx, tx, added); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	return added, nil
}

// count adds the rows one transaction added.
func (r *EnqueueResult) count(added []outboxdb.Message) {
	props := map[int64]bool{}
	for _, m := range added {
		props[m.ProposalID] = true
		switch {
		case m.Status == outboxdb.Skipped:
			r.Skipped++
		case m.Channel == ActionChannel:
			r.Actions++
		default:
			r.Messages++
		}
	}
	r.Proposals += len(props)
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

// template returns a rule's templates, loaded once.
func (e *Enqueuer) template(r *rules.Rule) (*notify.Templates, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.templates[r]; t != nil {
		return t, nil
	}
	t, err := notify.LoadTemplates(r)
	if err != nil {
		return nil, err
	}
	if e.templates == nil {
		e.templates = map[*rules.Rule]*notify.Templates{}
	}
	e.templates[r] = t
	return t, nil
}

// messages renders one proposal's outbox rows, sup being the suppressions
// in force.
func (e *Enqueuer) messages(ctx context.Context, p store.Proposal, sup []store.Suppression) ([]outboxdb.Message, error) {
	r := e.rule(p)
	if r == nil {
		return nil, fmt.Errorf("rule %s/%s is not in the loaded rulesets", p.Ruleset, p.RuleID)
	}
	tmpl, err := e.template(r)
	if err != nil {
		return nil, err
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
		Status: outboxdb.Queued, CreatedAt: now}
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
		case suppressed(sup, cust, p, now) != "":
			m.Status, m.LastError = outboxdb.Skipped, "suppressed: "+suppressed(sup, cust, p, now)
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

// suppressed returns why a suppression of sup in force today covers the
// customer and the proposal's rule, or "".
func suppressed(sup []store.Suppression, c rules.Customer, p store.Proposal, today time.Time) string {
	for _, s := range sup {
		if s.Covers(c.ID, c.Segment, p.Ruleset, p.RuleID, today) {
			return fmt.Sprintf("%s (by %s)", s.Reason, s.Owner)
		}
	}
	return ""
}
