package web

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/rules"
)

var funcs = template.FuncMap{
	"money":   func(v int64, cur string) string { return rules.FormatMoney(int(v), cur) },
	"date":    func(t time.Time) string { return t.UTC().Format("2 Jan 2006") },
	"when":    func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") },
	"decides": func(u *store.User) bool { return u != nil && u.CanDecide() },
	"isAdmin": func(u *store.User) bool { return u != nil && !u.Disabled && u.Role == store.RoleAdmin },
	"add":     func(a, b int) int { return a + b },
	"f1":      func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"count":   func(n int64) string { return groupThousands(n) },
	"dict":    dict,
	"list":    func(s ...string) []string { return s },
}

// dict makes a map of name, value pairs, to pass several values to a
// template: {{template "decide" (dict "Target" .Key "User" $.User)}}.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func encodeCookie(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeCookie(s string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return string(b), err
}

// noMinorUnit lists currencies written without decimals.
var noMinorUnit = map[string]bool{"JPY": true, "KRW": true, "ISK": true}

// parseAmount reads an amount people type in major units ("50", "7.5")
// as minor units of currency; "" is 0.
func parseAmount(s, currency string) (int64, error) {
	s = strings.TrimSpace(strings.NewReplacer(",", "", "£", "", "€", "", "$", "").Replace(s))
	if s == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not an amount", s)
	}
	if noMinorUnit[currency] {
		return int64(f + 0.5), nil
	}
	return int64(f*100 + 0.5), nil
}

// formatAmount writes minor units as people type them in a filter.
func formatAmount(v int64, currency string) string {
	if v == 0 {
		return ""
	}
	if noMinorUnit[currency] {
		return strconv.FormatInt(v, 10)
	}
	if v%100 == 0 {
		return strconv.FormatInt(v/100, 10)
	}
	return fmt.Sprintf("%d.%02d", v/100, v%100)
}

// moneyWords mark names whose whole numbers are amounts of money.
var moneyWords = []string{"price", "saving", "amount", "value", "fee", "refund", "cost", "total", "credit", "charge", "spend", "pays", "paid", "average"}

// moneyName reports whether a named value holds an amount of money: a money
// word and no counting word.
func moneyName(name string) bool {
	words := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return r == '_' || r == '.' || r == '[' || r == ']' })
	for _, w := range words {
		switch w {
		case "count", "id", "ids", "months", "days", "number", "in", "mb", "minutes", "texts":
			return false
		}
	}
	if len(words) > 0 {
		switch words[len(words)-1] {
		case "years", "weeks", "on", "at":
			return false
		}
	}
	for _, w := range words {
		w = strings.TrimSuffix(w, "s")
		for _, m := range moneyWords {
			if w == m || w+"s" == m {
				return true
			}
		}
	}
	return false
}

// field is one line of evidence or offer: a name and its value written for
// people, with the money beside amounts; Sub holds an object's fields.
type field struct {
	Name  string
	Value string
	Money string
	Sub   []field
}

// fields writes a decoded JSON object's fields, sorted by name.
func fields(m map[string]any, currency string) []field {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]field, 0, len(keys))
	for _, k := range keys {
		out = append(out, describe(k, m[k], currency))
	}
	return out
}

// describe writes one value of the evidence for people.
func describe(name string, v any, currency string) field {
	f := field{Name: name}
	switch x := v.(type) {
	case json.Number:
		f.Value = x.String()
		if n, err := x.Int64(); err == nil && moneyName(name) {
			f.Money = rules.FormatMoney(int(n), currency)
		}
	case string:
		f.Value = strconv.Quote(x)
	case bool:
		f.Value = strconv.FormatBool(x)
	case nil:
		f.Value = "none"
	case []any:
		parts := make([]string, len(x))
		var money []string
		for i, e := range x {
			d := describe(name, e, currency)
			if d.Sub != nil {
				b, _ := json.Marshal(x)
				f.Value = string(b)
				return f
			}
			parts[i] = d.Value
			if d.Money != "" {
				money = append(money, d.Money)
			}
		}
		f.Value = "[" + strings.Join(parts, ", ") + "]"
		if len(money) == len(x) && len(x) > 0 {
			f.Money = strings.Join(money, ", ")
		}
	case map[string]any:
		f.Sub = fields(x, currency)
		if f.Sub == nil {
			f.Sub = []field{}
		}
	default:
		f.Value = fmt.Sprint(v)
	}
	return f
}
