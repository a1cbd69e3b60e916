package notify_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/goodturn/goodturn/notify"
	"github.com/goodturn/goodturn/rules"
)

// renderWithin renders tmpl, failing the test if that takes longer than
// limit.
func renderWithin(t *testing.T, limit time.Duration, tmpl *notify.Template, d notify.Data) (notify.Message, error) {
	t.Helper()
	type result struct {
		m   notify.Message
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := tmpl.RenderLocalized(d)
		done <- result{m, err}
	}()
	select {
	case r := <-done:
		return r.m, r.err
	case <-time.After(limit):
		t.Fatalf("render still going after %v", limit)
		return notify.Message{}, nil
	}
}

// TestTemplateLimits renders templates that would run for minutes or
// render gigabytes and expects each to fail fast with the limit it passed.
func TestTemplateLimits(t *testing.T) {
	for _, tt := range []struct {
		name, text, want string
	}{
		{"range over a huge int", `{{range 400000000}}Save now! {{end}}`, "output longer than 65536 bytes"},
		{"empty range over a huge int", `{{range 400000000}}{{end}}`, "more than 10000 steps"},
		{"range over a huge value", `{{range .Value}}{{end}}`, "more than 10000 steps"},
		{"nested ranges", `{{range 100000}}{{range 100000}}{{end}}{{end}}`, "more than 10000 steps"},
		{"wide printf", `{{range 100}}{{printf "%0999999d" 1}}{{end}}`, "output longer than 65536 bytes"},
		{"exponential calls", `{{template "a" .}}{{end}}` +
			`{{define "a"}}{{template "b" .}}{{template "b" .}}{{end}}` +
			`{{define "b"}}{{template "c" .}}{{template "c" .}}{{end}}` +
			`{{define "c"}}{{template "d" .}}{{template "d" .}}{{end}}` +
			`{{define "d"}}{{range 1000}}{{range 1000}}{{end}}{{end}}`, "more than 10000 steps"},
		{"range with else and variables", `{{range $i := 400000000}}{{$i}}{{else}}none{{end}}`, "more than 10000 steps"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := `{{define "subject"}}Hello{{end}}{{define "text"}}` + tt.text + `{{end}}`
			tmpl, err := notify.ParseTemplate("runaway.tmpl", src, []string{"email"})
			if err != nil {
				t.Fatal(err)
			}
			for _, locale := range []string{"", "fr-FR"} {
				start := time.Now()
				_, err := renderWithin(t, 10*time.Second, tmpl, notify.Data{Customer: rules.Customer{Name: "Sam", Locale: locale}, Value: 1e12})
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("locale %q: error = %v, want one containing %q", locale, err, tt.want)
				}
				if !errors.Is(err, notify.ErrTemplateLimit) {
					t.Errorf("error %v does not wrap ErrTemplateLimit", err)
				}
				if took := time.Since(start); took > 2*time.Second {
					t.Errorf("stopped after %v", took)
				}
			}
		})
	}
}

// TestTemplateWithinLimits checks that ordinary templates, ranges and
// nested templates render as before.
func TestTemplateWithinLimits(t *testing.T) {
	src := `{{define "subject"}}Hi {{.FirstName}}{{end}}` +
		`{{define "text"}}{{range $k, $v := .Offer}}{{$k}}={{$v}};{{end}}` +
		`{{range 3}}{{.}}{{end}}{{range .Values}}{{else}}no values{{end}} {{template "sig" .}}{{end}}` +
		`{{define "sig"}}{{with .Rule}}({{.}}){{end}}{{if .Value}} {{money .Value .Currency}}{{end}}{{end}}`
	tmpl, err := notify.ParseTemplate("ok.tmpl", src, []string{"email"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := renderWithin(t, 10*time.Second, tmpl, notify.Data{Customer: rules.Customer{Name: "Sam Taylor"}, Rule: "R",
		Value: 1250, Currency: "GBP", Offer: map[string]any{"a": 1, "b": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "a=1;b=x;012no values (R) £12.50"; m.Text != want || m.Subject != "Hi Sam" {
		t.Errorf("got %q / %q, want %q / %q", m.Subject, m.Text, "Hi Sam", want)
	}
}
