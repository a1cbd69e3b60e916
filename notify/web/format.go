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

	"github.com/goodturn/goodturn/notify/review/reviewdb"
	"github.com/goodturn/goodturn/rules"
)

var funcs = template.FuncMap{
	"money":   func(v int64, cur string) string { return rules.FormatMoney(int(v), cur) },
	"date":    func(t time.Time) string { return t.UTC().Format("2 Jan 2006") },
	"when":    func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") },
	"decides": func(u *reviewdb.User) bool { return u != nil && u.CanDecide() },
	"isAdmin": func(u *reviewdb.User) bool { return u != nil && !u.Disabled && u.Role == reviewdb.RoleAdmin },
	"add":     func(a, b int) int { return a + b },
	"f1":      func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"half":    func(x, w float64) float64 { return x + w/2 },
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

// amounts says how to write a proposal's amounts: in its currency, and
// which of its values are money (rules.EvidenceMoney: the rule's values and
// offer fields its evidence lists, and other names that are money fields of
// the facts).
type amounts struct {
	currency string
	isMoney  func(name string) bool
}

// field is one line of evidence or offer: a name, its value written for
// people (money as money, dates as dates, counts grouped, the zero date as
// "none") and the value as recorded, for engineers; Sub holds an object's
// fields.
type field struct {
	Name  string
	Label string
	// Description says what the value means: the comment above it in the
	// rule file.
	Description string
	Value       string
	Raw         string
	Sub         []field
	// Table writes a list of like objects (a quote's months) as rows.
	Table *rows
}

// rows is a table of values written for people.
type rows struct {
	Cols []string
	Rows [][]string
}

// asRows returns a list of objects with the same fields, none of them an
// object, as a table; nil when the list is not such.
func asRows(list []field) *rows {
	if len(list) == 0 || list[0].Sub == nil {
		return nil
	}
	t := &rows{}
	for _, c := range list[0].Sub {
		t.Cols = append(t.Cols, c.Label)
	}
	for _, item := range list {
		if len(item.Sub) != len(t.Cols) {
			return nil
		}
		row := make([]string, len(item.Sub))
		for i, c := range item.Sub {
			if c.Sub != nil || c.Label != t.Cols[i] {
				return nil
			}
			row[i] = c.Value
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// fields writes a decoded JSON object's fields, sorted by name.
func fields(m map[string]any, a amounts) []field {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]field, 0, len(keys))
	for _, k := range keys {
		out = append(out, describe(k, m[k], a))
	}
	return out
}

// label writes a value's name for people: "min_monthly_saving" is "min
// monthly saving", "plan.monthly_price" is "plan: monthly price".
func label(name string) string {
	return strings.NewReplacer("_", " ", ".", ": ").Replace(name)
}

// withDescriptions gives each field its description, by its name.
func withDescriptions(fs []field, describe func(name string) string) {
	for i := range fs {
		fs[i].Description = describe(fs[i].Name)
	}
}

// describe writes one value of the evidence for people. A whole number is
// money when the proposal's evidence or the facts' fields say so (amounts.isMoney),
// otherwise a count; a date is a date and the zero date "none".
func describe(name string, v any, a amounts) field {
	f := field{Name: name, Label: label(name)}
	switch x := v.(type) {
	case json.Number:
		f.Raw = x.String()
		n, err := x.Int64()
		switch {
		case err == nil && a.isMoney(name):
			f.Value = rules.FormatMoney(int(n), a.currency)
		case err == nil:
			f.Value = groupThousands(n)
		default:
			f.Value = x.String()
		}
	case string:
		f.Raw = strconv.Quote(x)
		f.Value = plainString(x)
	case bool:
		f.Raw = strconv.FormatBool(x)
		f.Value = map[bool]string{true: "yes", false: "no"}[x]
	case nil:
		f.Raw, f.Value = "null", "none"
	case []any:
		b, _ := json.Marshal(x)
		f.Raw = string(b)
		if len(x) == 0 {
			f.Value = "none"
			return f
		}
		parts := make([]string, len(x))
		for i, e := range x {
			d := describe(name, e, a)
			if d.Sub != nil {
				// A list of objects: each is one numbered sub-field.
				f.Sub = make([]field, len(x))
				for j, e := range x {
					f.Sub[j] = describe(strconv.Itoa(j+1), e, a)
					f.Sub[j].Label = "#" + strconv.Itoa(j+1)
				}
				f.Table = asRows(f.Sub)
				return f
			}
			parts[i] = d.Value
		}
		f.Value = strings.Join(parts, ", ")
	case map[string]any:
		b, _ := json.Marshal(x)
		f.Raw = string(b)
		f.Sub = fields(x, a)
		if f.Sub == nil {
			f.Sub = []field{}
		}
	default:
		f.Value = fmt.Sprint(v)
		f.Raw = f.Value
	}
	return f
}

// plainString writes a string value for people: a date or a time as a
// date (the zero one as "none"), anything else as it is.
func plainString(s string) string {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			if t.IsZero() || t.Year() <= 1 {
				return "none"
			}
			if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 {
				return t.Format("2 Jan 2006")
			}
			return t.Format("2 Jan 2006 15:04")
		}
	}
	if s == "" {
		return "none"
	}
	return s
}
