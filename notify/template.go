// Package notify turns proposals into messages: it parses a rule's message
// template and renders it for one customer. Review, the outbox and the
// channels that deliver messages build on it.
package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/goodturn/goodturn/rules"
)

// Parts names the sections a message template defines, one per part of a
// message: the email subject and body and the SMS text.
var Parts = []string{"subject", "text", "sms"}

// PromotionalPrefix marks the promotional variant of a part: a template may
// define promotional_subject, promotional_text and promotional_sms beside
// its neutral parts. A customer with marketing consent gets a part's
// promotional variant where there is one; everyone else gets the neutral
// part. So a service rule (an end-of-contract notice, say) tells every
// customer the facts, and only those who agreed to hear offers get the nudge.
const PromotionalPrefix = "promotional_"

// Template is a parsed message template.
type Template struct {
	Path string
	t    *template.Template
}

// Data is what a message template sees.
type Data struct {
	// Customer is the customer the message is for.
	Customer rules.Customer
	// FirstName is the first word of the customer's name.
	FirstName string
	// Rule is the rule's name; Kind its kind of benefit.
	Rule, Kind string
	// Value is the proposal's yearly value in minor units.
	Value int64
	// Currency is the ISO code of every amount.
	Currency string
	// Offer holds the proposal's offer fields.
	Offer map[string]any
	// Values holds the rule's named values.
	Values map[string]any
}

// Message is a rendered message.
type Message struct {
	Subject string
	Text    string
	SMS     string
}

// ParseTemplateFile reads and parses a message template file and checks it
// defines the parts the channels need: subject and text for email, sms for
// sms.
func ParseTemplateFile(path string, channels []string) (*Template, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	return ParseTemplate(path, string(src), channels)
}

// ParseTemplate parses a message template's source.
func ParseTemplate(path, src string, channels []string) (*Template, error) {
	t, err := template.New(filepath.Base(path)).Funcs(funcs).Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "template: "))
	}
	addSteps(t)
	need := map[string]bool{}
	for _, c := range channels {
		switch c {
		case "email":
			need["subject"], need["text"] = true, true
		case "sms":
			need["sms"] = true
		}
	}
	for _, part := range Parts {
		if need[part] && t.Lookup(part) == nil {
			return nil, fmt.Errorf("%s: missing {{define %q}} needed by the rule's channels", filepath.Base(path), part)
		}
	}
	return &Template{Path: path, t: t}, nil
}

// Render renders every part the template defines, each within
// DefaultTemplateLimits.
func (t *Template) Render(d Data) (Message, error) {
	if d.FirstName == "" {
		d.FirstName, _, _ = strings.Cut(strings.TrimSpace(d.Customer.Name), " ")
	}
	var m Message
	for _, part := range Parts {
		name := part
		if d.Customer.MarketingOptIn && t.t.Lookup(PromotionalPrefix+part) != nil {
			name = PromotionalPrefix + part
		}
		if t.t.Lookup(name) == nil {
			continue
		}
		out, err := t.execute(name, d, DefaultTemplateLimits)
		if err != nil {
			return Message{}, err
		}
		s := strings.TrimSpace(out)
		switch part {
		case "subject":
			m.Subject = s
		case "text":
			m.Text = s
		case "sms":
			m.SMS = s
		}
	}
	return m, nil
}

// DecodeObject decodes a stored JSON object (an offer, say) keeping numbers
// exact as json.Number.
func DecodeObject(raw []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

var funcs = template.FuncMap{
	"money": money,
	"date":  date,
	"month": month,
	"int":   toInt,
}

// month formats the month of a date: September 2026.
func month(v any) (string, error) {
	t, err := toTime(v)
	if err != nil {
		return "", fmt.Errorf("month: %w", err)
	}
	return t.Format("January 2006"), nil
}

// money formats an amount in minor units: {{money .Offer.new_price .Currency}}.
func money(amount any, currency string) (string, error) {
	n, err := toInt(amount)
	if err != nil {
		return "", fmt.Errorf("money: %w", err)
	}
	return rules.FormatMoney(n, currency), nil
}

// date formats a date the way people write it: 2 January 2026.
func date(v any) (string, error) {
	switch t := v.(type) {
	case time.Time:
		return t.Format("2 January 2006"), nil
	case string:
		for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
			if p, err := time.Parse(layout, t); err == nil {
				return p.Format("2 January 2006"), nil
			}
		}
		return "", fmt.Errorf("date: cannot read %q", t)
	}
	return "", fmt.Errorf("date: cannot format %T", v)
}

func toInt(v any) (int, error) {
	switch n := v.(type) {
	case int:
		return n, nil
	case int64:
		return int(n), nil
	case json.Number:
		i, err := strconv.ParseInt(n.String(), 10, 64)
		return int(i), err
	case float64:
		if n == float64(int64(n)) {
			return int(n), nil
		}
		return 0, fmt.Errorf("%v is not a whole amount", n)
	}
	return 0, fmt.Errorf("cannot read %T as an amount", v)
}

// Proposal is what a proposal's message is rendered from: its yearly value
// and currency, and its offer and evidence as stored (JSON).
type Proposal struct {
	Value    int64
	Currency string
	Offer    []byte
	Evidence []byte
}

// Rendered is a proposal's message as its customer would get it.
type Rendered struct {
	Message
	// Channels are the rule's channels that reach the customer; the parts
	// of the others are left empty.
	Channels []string
	// Language is the language the message is written in.
	Language string
	// Fallback reports that the customer's locale has no template of its
	// own, so they get the rule's language.
	Fallback bool
	// Offer is the proposal's offer as the template read it.
	Offer map[string]any
}

// Templates are a rule's message templates: its own, in the rule file's
// language, and its translations.
type Templates struct {
	rule   *rules.Rule
	byLang map[string]*Template
}

// LoadTemplates reads and parses a rule's template and every translation
// of it, from where the rule was loaded (a folder, or the rulesets embedded
// in the binary); each must define the parts the rule's channels need.
func LoadTemplates(r *rules.Rule) (*Templates, error) {
	ts := &Templates{rule: r, byLang: map[string]*Template{}}
	t, err := ParseRuleTemplate(r)
	if err != nil {
		return nil, err
	}
	ts.byLang[r.Language] = t
	for lang, path := range r.Translations {
		src, err := r.ReadTemplateFile(path)
		if err != nil {
			return nil, fmt.Errorf("template: %w", err)
		}
		t, err := ParseTemplate(path, string(src), r.Message.Channels)
		if err != nil {
			return nil, err
		}
		ts.byLang[lang] = t
	}
	return ts, nil
}

// Languages returns the templates by language.
func (ts *Templates) Languages() map[string]*Template { return ts.byLang }

// RenderProposal renders the message the rule sends a customer for one of
// its proposals: the template in the customer's language (the rule's own
// when there is none), money and dates as their locale writes them, with
// the parts of only the channels that reach the customer. The review page,
// the outbox, the command line and the demo all render through it, so that
// what a reviewer reads is what the customer gets.
func (ts *Templates) RenderProposal(p Proposal, cust rules.Customer) (Rendered, error) {
	r := ts.rule
	_, lang, covered := r.TemplateFor(cust.Locale)
	t := ts.byLang[lang]
	offer, err := DecodeObject(p.Offer)
	if err != nil {
		return Rendered{}, fmt.Errorf("offer: %w", err)
	}
	values, err := EvidenceValues(p.Evidence)
	if err != nil {
		return Rendered{}, fmt.Errorf("evidence: %w", err)
	}
	msg, err := t.RenderLocalized(Data{Customer: cust, Rule: r.Name, Kind: r.Kind, Value: p.Value,
		Currency: p.Currency, Offer: offer, Values: values})
	if err != nil {
		return Rendered{}, err
	}
	out := Rendered{Message: msg, Channels: cust.Reachable(r.Message.Channels), Language: lang, Fallback: !covered, Offer: offer}
	reaches := map[string]bool{}
	for _, ch := range out.Channels {
		reaches[ch] = true
	}
	if !reaches["webhook"] {
		// A webhook carries every part; without one, a part no channel
		// delivers is not part of the message.
		if !reaches["email"] {
			out.Subject, out.Text = "", ""
		}
		if !reaches["sms"] {
			out.SMS = ""
		}
	}
	return out, nil
}

// EvidenceValues returns a proposal's named values by name, numbers kept
// exact as json.Number, for its message template.
func EvidenceValues(raw []byte) (map[string]any, error) {
	var ev struct {
		Values []struct {
			Name  string          `json:"name"`
			Value json.RawMessage `json:"value"`
		} `json:"values"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	m := make(map[string]any, len(ev.Values))
	for _, v := range ev.Values {
		x, err := decodeValue(v.Value)
		if err != nil {
			return nil, err
		}
		m[v.Name] = x
	}
	return m, nil
}

// decodeValue decodes one JSON value keeping numbers exact as json.Number.
func decodeValue(raw []byte) (any, error) {
	var x any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&x); err != nil {
		return nil, err
	}
	return x, nil
}
