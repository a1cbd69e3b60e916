package notify_test

import (
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
