package notify

import (
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/goodturn/goodturn/rules"
)

// RenderLocalized renders every part the template defines with money and
// dates written the way the customer's locale (d.Customer.Locale, a BCP 47
// tag such as en-GB, fr-FR or de-DE) writes them: {{money 750 "GBP"}} is
// £7.50 for en-GB, 7,50 £ for fr-FR; {{date …}} is 2 January 2026 for
// en-GB, January 2, 2026 for en-US and 2 janvier 2026 for fr-FR. A customer
// with no locale gets the same text as Render.
func (t *Template) RenderLocalized(d Data) (Message, error) {
	loc := d.Customer.Locale
	if loc == "" {
		return t.Render(d)
	}
	c, err := t.t.Clone()
	if err != nil {
		return Message{}, err
	}
	c.Funcs(template.FuncMap{
		"money": func(amount any, currency string) (string, error) {
			n, err := toInt(amount)
			if err != nil {
				return "", fmt.Errorf("money: %w", err)
			}
			return FormatMoneyLocale(int64(n), currency, loc), nil
		},
		"date": func(v any) (string, error) {
			tm, err := toTime(v)
			if err != nil {
				return "", err
			}
			return FormatDateLocale(tm, loc), nil
		},
		"month": func(v any) (string, error) {
			tm, err := toTime(v)
			if err != nil {
				return "", err
			}
			return FormatMonthLocale(tm, loc), nil
		},
	})
	return (&Template{Path: t.Path, t: c}).Render(d)
}

// localeFormat is how a language writes amounts.
type localeFormat struct {
	decimal, group string
	// after puts the symbol after the amount, separated by a space.
	after bool
}

// language returns the language part of a locale tag: "fr" for "fr-FR".
func language(locale string) string { return rules.Language(locale) }

var localeFormats = map[string]localeFormat{
	"en": {".", ",", false},
	"cy": {".", ",", false},
	"ga": {".", ",", false},
	"fr": {",", " ", true},
	"de": {",", ".", true},
	"es": {",", ".", true},
	"it": {",", ".", true},
	"pt": {",", ".", true},
	"nl": {",", ".", false},
}

// moneySymbols holds the symbols of the currencies goodturn knows; others
// are written with their ISO code.
var moneySymbols = map[string]string{
	"GBP": "£", "USD": "$", "EUR": "€", "AUD": "A$", "CAD": "C$", "NZD": "NZ$",
	"JPY": "¥", "INR": "₹", "CHF": "CHF",
}

// noMinorUnit lists currencies with no minor unit.
var noMinorUnit = map[string]bool{"JPY": true, "KRW": true, "ISK": true}

// FormatMoneyLocale formats an amount in minor units for a locale:
// FormatMoneyLocale(750, "GBP", "en-GB") is "£7.50", (750, "EUR",
// "fr-FR") is "7,50 €", (123450, "EUR", "de-DE") is "1.234,50 €". Unknown
// locales are written like en-GB.
func FormatMoneyLocale(amount int64, currency, locale string) string {
	f, ok := localeFormats[language(locale)]
	if !ok {
		f = localeFormats["en"]
	}
	sign := ""
	if amount < 0 {
		sign, amount = "-", -amount
	}
	var whole, frac string
	if noMinorUnit[currency] {
		whole = strconv.FormatInt(amount, 10)
	} else {
		whole, frac = strconv.FormatInt(amount/100, 10), fmt.Sprintf("%02d", amount%100)
	}
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(f.group)
		}
		b.WriteRune(r)
	}
	num := b.String()
	if frac != "" {
		num += f.decimal + frac
	}
	sym, known := moneySymbols[currency]
	if !known {
		return sign + num + " " + currency
	}
	if f.after {
		return sign + num + " " + sym
	}
	if language(locale) == "nl" {
		return sign + sym + " " + num
	}
	return sign + sym + num
}

var monthNames = map[string][12]string{
	"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
	"de": {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
	"es": {"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
	"it": {"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"},
	"nl": {"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"},
	"pt": {"janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro", "novembro", "dezembro"},
}

// FormatDateLocale writes a date the way a locale's people do: 2 January
// 2026 (en-GB and unknown locales), January 2, 2026 (en-US), 2 janvier
// 2026 (fr), 2. Januar 2026 (de), 2 de enero de 2026 (es).
func FormatDateLocale(t time.Time, locale string) string {
	lang := language(locale)
	if lang == "en" && strings.EqualFold(strings.ReplaceAll(locale, "_", "-"), "en-US") {
		return t.Format("January 2, 2006")
	}
	names, ok := monthNames[lang]
	if !ok {
		return t.Format("2 January 2006")
	}
	m := names[t.Month()-1]
	switch lang {
	case "de":
		return fmt.Sprintf("%d. %s %d", t.Day(), m, t.Year())
	case "es", "pt":
		return fmt.Sprintf("%d de %s de %d", t.Day(), m, t.Year())
	}
	return fmt.Sprintf("%d %s %d", t.Day(), m, t.Year())
}

// FormatMonthLocale writes a month and year the way a locale's people do:
// September 2026 (English and unknown locales), septembre 2026 (fr).
func FormatMonthLocale(t time.Time, locale string) string {
	names, ok := monthNames[language(locale)]
	if !ok {
		return t.Format("January 2006")
	}
	return fmt.Sprintf("%s %d", names[t.Month()-1], t.Year())
}

// toTime reads what a template passes to date: a time, or a date or RFC
// 3339 text.
func toTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		return t, nil
	case string:
		for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
			if p, err := time.Parse(layout, t); err == nil {
				return p, nil
			}
		}
		return time.Time{}, fmt.Errorf("date: cannot read %q", t)
	}
	return time.Time{}, fmt.Errorf("date: cannot format %T", v)
}

// languageNames are the English names of the languages goodturn formats.
var languageNames = map[string]string{
	"en": "English", "cy": "Welsh", "ga": "Irish", "fr": "French", "de": "German",
	"es": "Spanish", "it": "Italian", "pt": "Portuguese", "nl": "Dutch",
}

// LanguageName returns the English name of a language code, or the code.
func LanguageName(code string) string {
	if n, ok := languageNames[code]; ok {
		return n
	}
	return code
}
