package channel

import (
	"context"
	"errors"
)

// Billing posts approved benefits that are actions — waive a charge, ship a
// replacement SIM, stop an instalment — to the billing system's webhook,
// signed and keyed exactly as Webhook is. The body is the action's payload:
//
//	{"key": "proposal-12-action", "action": "waive_charge", "proposal_id": 12,
//	 "customer_id": 1044, "account_no": "8919-QRXDB", "ruleset": "mobile", "rule": "late-fee-waiver",
//	 "kind": "fee_waiver", "value": 1000, "currency": "GBP", "offer": {…}}
type Billing struct {
	Webhook
}

// Send posts the action.
func (b *Billing) Send(ctx context.Context, m Message) error {
	if len(m.Payload) == 0 {
		return Permanent(errors.New("billing: the message is not an action"))
	}
	return b.post(ctx, m.Key, m.Payload)
}
