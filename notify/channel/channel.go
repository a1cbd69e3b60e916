// Package channel delivers outbox messages: email over SMTP, a signed JSON
// webhook (for a webhook channel or an SMS gateway), the billing action
// webhook, and a log channel for the demo. Every message carries its
// idempotency key so that a receiver can recognise a resend.
package channel

import (
	"context"
	"encoding/json"
	"errors"
)

// Message is what a channel delivers: one outbox row.
type Message struct {
	// Key is the message's idempotency key, the same on every attempt.
	Key        string `json:"key"`
	Channel    string `json:"channel"`
	ProposalID int64  `json:"proposal_id"`
	CustomerID int64  `json:"customer_id"`
	// AccountNo is the customer's own account number (customers.account_no);
	// "" when the business has none.
	AccountNo string `json:"account_no"`
	// To is the email address or phone number; Name the customer's name.
	To      string `json:"to,omitempty"`
	Name    string `json:"name,omitempty"`
	Subject string `json:"subject,omitempty"`
	Text    string `json:"text,omitempty"`
	HTML    string `json:"html,omitempty"`
	SMS     string `json:"sms,omitempty"`
	// Payload is a billing action's JSON body.
	Payload json.RawMessage `json:"-"`
	// Attempt counts from 1; Resend is true when an earlier attempt may
	// have reached the receiver (the sender stopped before recording it).
	Attempt int  `json:"attempt"`
	Resend  bool `json:"resend,omitempty"`
}

// Channel delivers messages.
type Channel interface {
	Send(ctx context.Context, m Message) error
}

// Func adapts a function to a Channel.
type Func func(ctx context.Context, m Message) error

// Send calls f.
func (f Func) Send(ctx context.Context, m Message) error { return f(ctx, m) }

// permanent marks an error that retrying cannot cure.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as one that retrying will not cure (a rejected
// address, a 4xx from a webhook): the sender gives the message up at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}
