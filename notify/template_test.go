package notify_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goodturn/goodturn/notify"
	"github.com/goodturn/goodturn/rules"
)

func TestPromotionalVariants(t *testing.T) {
	src := `{{define "subject"}}Your term ends{{end}}` +
		`{{define "promotional_subject"}}Your term ends: save {{money .Offer.saving .Currency}}{{end}}` +
		`{{define "text"}}Hi {{.FirstName}}, the facts.{{end}}` +
		`{{define "sms"}}Facts.{{end}}` +
		`{{define "promotional_sms"}}Facts. Reply SWITCH.{{end}}`
	tmpl, err := notify.ParseTemplate("notice.tmpl", src, []string{"email", "sms"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name               string
		consent            bool
		subject, text, sms string
	}{
		{"no marketing consent: the neutral parts", false, "Your term ends", "Hi Sam, the facts.", "Facts."},
		{"consent: the promotional variants, neutral where there is none", true, "Your term ends: save £2.50", "Hi Sam, the facts.", "Facts. Reply SWITCH."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := tmpl.Render(notify.Data{Customer: rules.Customer{Name: "Sam Taylor", MarketingOptIn: tt.consent},
				Currency: "GBP", Offer: map[string]any{"saving": 250}})
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != tt.subject || m.Text != tt.text || m.SMS != tt.sms {
				t.Errorf("got %q / %q / %q, want %q / %q / %q", m.Subject, m.Text, m.SMS, tt.subject, tt.text, tt.sms)
			}
		})
	}
}

// TestRenderProposalLanguagesAndChannels renders one proposal for customers
// of several locales and contacts: a translation where there is one, the
// rule file's language (said to be a fallback) where there is none, and
// only the parts of the channels that reach the customer.
func TestRenderProposalLanguagesAndChannels(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("waiver.yaml", `language: en
rules:
  - id: waiver
    name: Waiver
    description: A waiver.
    owner: tests
    kind: fee_waiver
    purpose: service
    when: "true"
    value: 500
    offer: {charge_id: "1", amount: "500"}
    message: {template: waiver, channels: [email, sms]}
`)
	write("waiver.tmpl", `{{define "subject"}}Fee waived{{end}}{{define "text"}}We waived {{money .Offer.amount .Currency}}.{{end}}{{define "sms"}}Waived {{money .Offer.amount .Currency}}.{{end}}`)
	write("waiver.fr.tmpl", `{{define "subject"}}Frais annulés{{end}}{{define "text"}}Nous avons annulé {{money .Offer.amount .Currency}}.{{end}}{{define "sms"}}Annulé {{money .Offer.amount .Currency}}.{{end}}`)
	rs, err := rules.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := notify.LoadTemplates(rs.Rule("waiver"))
	if err != nil {
		t.Fatal(err)
	}
	p := notify.Proposal{Value: 500, Currency: "EUR", Offer: []byte(`{"charge_id":1,"amount":500}`), Evidence: []byte(`{"values":[]}`)}
	tests := []struct {
		name      string
		cust      rules.Customer
		lang      string
		fallback  bool
		text, sms string
		channels  string
	}{
		{"a translation", rules.Customer{Locale: "fr-FR", Email: "a@example.com", Phone: "+33"}, "fr", false, "Nous avons annulé 5,00 €.", "Annulé 5,00 €.", "email,sms"},
		{"the rule's own language", rules.Customer{Locale: "en-GB", Email: "a@example.com", Phone: "+44"}, "en", false, "We waived €5.00.", "Waived €5.00.", "email,sms"},
		{"no template in Welsh: English, said so", rules.Customer{Locale: "cy-GB", Email: "a@example.com"}, "en", true, "We waived €5.00.", "", "email"},
		{"no phone: no SMS", rules.Customer{Locale: "fr-FR", Email: "a@example.com"}, "fr", false, "Nous avons annulé 5,00 €.", "", "email"},
		{"no email: no email parts", rules.Customer{Locale: "fr-FR", Phone: "+33"}, "fr", false, "", "Annulé 5,00 €.", "sms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ts.RenderProposal(p, tt.cust)
			if err != nil {
				t.Fatal(err)
			}
			if m.Language != tt.lang || m.Fallback != tt.fallback || m.Text != tt.text || m.SMS != tt.sms || strings.Join(m.Channels, ",") != tt.channels {
				t.Errorf("got %s (fallback %v) on %v: text %q, sms %q", m.Language, m.Fallback, m.Channels, m.Text, m.SMS)
			}
		})
	}
}
