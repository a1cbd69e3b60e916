package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/goodturn/goodturn/rules"
)

func TestFormatMoneyLocale(t *testing.T) {
	for _, tc := range []struct {
		amount           int64
		currency, locale string
		want             string
	}{
		{750, "GBP", "en-GB", "£7.50"},
		{750, "EUR", "fr-FR", "7,50 €"},
		{750, "EUR", "de-DE", "7,50 €"},
		{750, "USD", "en-US", "$7.50"},
		{123456, "GBP", "en-GB", "£1,234.56"},
		{123456, "EUR", "de-DE", "1.234,56 €"},
		{123456, "EUR", "fr-FR", "1 234,56 €"},
		{-5, "GBP", "en-GB", "-£0.05"},
		{1500, "JPY", "en-GB", "¥1,500"},
		{750, "SEK", "en-GB", "7.50 SEK"},
		{750, "GBP", "", "£7.50"},
		{750, "GBP", "cy-GB", "£7.50"},
	} {
		if got := FormatMoneyLocale(tc.amount, tc.currency, tc.locale); got != tc.want {
			t.Errorf("FormatMoneyLocale(%d, %s, %s) = %q, want %q", tc.amount, tc.currency, tc.locale, got, tc.want)
		}
	}
}

func TestFormatDateLocale(t *testing.T) {
	d := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for locale, want := range map[string]string{
		"en-GB": "2 March 2026", "en-US": "March 2, 2026", "fr-FR": "2 mars 2026", "de-DE": "2. März 2026", "": "2 March 2026",
	} {
		if got := FormatDateLocale(d, locale); got != want {
			t.Errorf("FormatDateLocale(%s) = %q, want %q", locale, got, want)
		}
	}
}

func TestRenderLocalized(t *testing.T) {
	tmpl, err := ParseTemplate("t.tmpl", `{{define "subject"}}Save {{money .Value .Currency}}{{end}}{{define "text"}}From {{date .Offer.on}}{{end}}`, []string{"email"})
	if err != nil {
		t.Fatal(err)
	}
	d := Data{Customer: rules.Customer{Name: "Anne Dupont", Locale: "fr-FR"}, Value: 750, Currency: "EUR", Offer: map[string]any{"on": "2026-11-01"}}
	m, err := tmpl.RenderLocalized(d)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Save 7,50 €" || m.Text != "From 1 novembre 2026" {
		t.Errorf("fr-FR: %+v", m)
	}
	// The template itself is untouched: Render keeps the plain format.
	m, err = tmpl.Render(d)
	if err != nil || !strings.HasPrefix(m.Subject, "Save €7.50") {
		t.Errorf("Render after RenderLocalized: %+v %v", m, err)
	}
}
