package outbox

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/notify/channel"
)

// TestWebhookBodiesCarryTheAccountNumber: the message webhook's body and
// the billing action's payload both name the customer by the business's
// own account number, whatever the rule's offer says.
func TestWebhookBodiesCarryTheAccountNumber(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		c := f.addCustomer(1, "Wes Hook", "en-GB")
		c.AccountNo = "8919-QRXDB"
		f.custs[1] = c
		p := f.lateFee(1)
		f.enqueue()
		secret := []byte("webhook-secret")
		recv := &dedupReceiver{t: t, secret: secret, processed: map[string][]byte{}}
		hook := httptest.NewServer(recv)
		defer hook.Close()
		s := &Sender{DB: f.db, Now: f.clock.Now, Channels: map[string]channel.Channel{
			"email":  &channel.Webhook{URL: hook.URL + "/messages", Secret: secret},
			"action": &channel.Billing{Webhook: channel.Webhook{URL: hook.URL + "/billing", Secret: secret}}}}
		if rep := f.pass(s); rep.Count(ResultSent) != 2 {
			t.Fatalf("%+v", rep)
		}
		for _, ch := range []string{"email", "action"} {
			var body map[string]any
			if err := json.Unmarshal(recv.processed[Key(p, ch)], &body); err != nil {
				t.Fatal(err)
			}
			if body["account_no"] != "8919-QRXDB" || body["customer_id"] != 1.0 {
				t.Errorf("%s body: account_no %v, customer_id %v: %s", ch, body["account_no"], body["customer_id"], recv.processed[Key(p, ch)])
			}
		}
	})
}
