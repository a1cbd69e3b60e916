package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/policy"
	"github.com/goodturn/goodturn/engine/sample"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify"
	"github.com/goodturn/goodturn/rules"
)

// TestEveryMessageIsTrue runs the shipped rulesets over the sample operator
// at three seeds and reads every proposal's message as its customer would
// get it. It asserts, for every one of them: every amount of money in the
// text is an amount of the proposal's offer or evidence (or its value),
// written as the customer's locale writes it; a cheaper plan costs less a
// month, month by month, and its yearly value never annualises more than
// the smallest monthly saving; a bigger plan costs less over the months it
// quotes; the message goes only to channels the customer has. And no
// shipped rule breaks its promises.
func TestEveryMessageIsTrue(t *testing.T) {
	clock := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	sets, err := rules.LoadAll("../rulesets")
	if err != nil {
		t.Fatal(err)
	}
	for _, seed := range []uint64{1, 7, 2026} {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.MustOpenMigrated(t, dbtest.SQLiteDSN(t))
			if err := billing.CreateSchema(ctx, db); err != nil {
				t.Fatal(err)
			}
			if _, err := sample.Generate(ctx, db, sample.Options{Customers: 3000, Seed: seed, Now: clock}); err != nil {
				t.Fatal(err)
			}
			reader := &billing.Reader{DB: db}
			eng := &engine.Engine{DB: db, Billing: reader, Now: func() time.Time { return clock }, Logger: slog.New(slog.DiscardHandler)}
			results, err := eng.RunAll(ctx, sets, engine.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, res := range results {
				for rule, held := range res.Held {
					if n := held[policy.ReasonBrokenPromise]; n > 0 {
						t.Errorf("shipped rule %s broke its promises for %d matches: %v", rule, n, policy.BrokenPromises(held))
					}
				}
			}
			ps, err := store.ListProposals(ctx, db, store.ProposalFilter{})
			if err != nil {
				t.Fatal(err)
			}
			byKind := map[string]int{}
			for _, p := range ps {
				byKind[p.Kind]++
				checkProposal(t, ctx, sets, reader, p)
			}
			for _, kind := range []string{"cheaper_plan", "bigger_plan", "fee_waiver", "free_replacement", "addon_removal", "device_refund", "best_tariff_notice"} {
				if byKind[kind] == 0 {
					t.Errorf("no %s proposal at seed %d: the test reads nothing of that kind", kind, seed)
				}
			}
			t.Logf("read %d messages: %v", len(ps), byKind)
		})
	}
}

// checkProposal renders one proposal and checks what it says.
func checkProposal(t *testing.T, ctx context.Context, sets []*rules.Ruleset, reader *billing.Reader, p store.Proposal) {
	t.Helper()
	var r *rules.Rule
	for _, rs := range sets {
		if rs.Name == p.Ruleset {
			r = rs.Rule(p.RuleID)
		}
	}
	if r == nil {
		t.Fatalf("proposal %d: no rule %s/%s", p.ID, p.Ruleset, p.RuleID)
	}
	cust, err := reader.Customer(ctx, p.CustomerID)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := notify.LoadTemplates(r)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := tmpl.RenderProposal(notify.Proposal{Value: p.Value, Currency: p.Currency, Offer: p.Offer, Evidence: p.Evidence}, cust)
	if err != nil {
		t.Fatalf("proposal %d (%s, customer %d): %v", p.ID, p.RuleID, p.CustomerID, err)
	}
	where := fmt.Sprintf("proposal %d (%s, customer %d, %s)", p.ID, p.RuleID, p.CustomerID, cust.Locale)

	// Every amount of money in the text comes from the offer or evidence.
	amounts, err := notify.Amounts(p.Offer, p.Evidence)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	amounts[p.Value] = true
	for part, rest := range notify.Unsourced(msg.Message, amounts, p.Currency, cust.Locale) {
		t.Errorf("%s: the %s names an amount that is not in its offer or evidence:\n%s\n(left after taking out every known amount: %q)", where, part, msg.Message, rest)
	}

	// An SMS costs one text: 160 characters of the GSM alphabet at most.
	if n := utf8.RuneCountInString(msg.SMS); n > 160 {
		t.Errorf("%s: an SMS of %d characters costs more than one text: %s", where, n, msg.SMS)
	}

	// Only channels the customer has.
	if len(msg.Channels) == 0 {
		t.Errorf("%s: proposed, but no channel of %v reaches the customer", where, r.Message.Channels)
	}
	if msg.SMS != "" && strings.TrimSpace(cust.Phone) == "" {
		t.Errorf("%s: an SMS for a customer with no phone number", where)
	}
	if msg.Text != "" && strings.TrimSpace(cust.Email) == "" && !slices.Contains(msg.Channels, "webhook") {
		t.Errorf("%s: an email for a customer with no email address", where)
	}

	// What each kind promises, checked here from the offer as stored.
	var offer struct {
		NewPrice     *int64 `json:"new_price"`
		CurrentPrice *int64 `json:"current_price"`
		Months       []struct {
			CurrentCost int64 `json:"current_cost"`
			NewCost     int64 `json:"new_cost"`
		} `json:"months"`
		Amount *int64 `json:"amount"`
	}
	if err := json.Unmarshal(p.Offer, &offer); err != nil {
		t.Fatalf("%s: offer: %v", where, err)
	}
	if p.Value < 0 {
		t.Errorf("%s: value %d is negative", where, p.Value)
	}
	switch p.Kind {
	case "cheaper_plan":
		if offer.NewPrice == nil || offer.CurrentPrice == nil || *offer.NewPrice >= *offer.CurrentPrice {
			t.Errorf("%s: a cheaper plan that is not cheaper a month: %s", where, p.Offer)
		}
		if len(offer.Months) == 0 {
			t.Errorf("%s: a cheaper plan with no month-by-month comparison", where)
		}
		least := int64(-1)
		for _, m := range offer.Months {
			saving := m.CurrentCost - m.NewCost
			if saving <= 0 {
				t.Errorf("%s: a month that would not have been cheaper: %s", where, p.Offer)
			}
			if least < 0 || saving < least {
				least = saving
			}
		}
		if p.Value > 12*least {
			t.Errorf("%s: value %d is more than 12 × the smallest monthly saving %d", where, p.Value, least)
		}
	case "bigger_plan":
		var now, then int64
		for _, m := range offer.Months {
			now, then = now+m.CurrentCost, then+m.NewCost
		}
		if offer.NewPrice == nil || offer.CurrentPrice == nil || *offer.NewPrice < *offer.CurrentPrice || then >= now || p.Value > now-then && p.Value > 12*(now-then) {
			t.Errorf("%s: a bigger plan that does not add up: %s", where, p.Offer)
		}
	case "fee_waiver", "goodwill_credit":
		if offer.Amount == nil || *offer.Amount <= 0 || p.Value > *offer.Amount {
			t.Errorf("%s: value %d against amount %v", where, p.Value, offer.Amount)
		}
	}
}
