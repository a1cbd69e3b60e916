package notify

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
)

// Amounts returns every integer in the given JSON documents (a proposal's
// offer and evidence): the amounts of money a message may name.
func Amounts(docs ...[]byte) (map[int64]bool, error) {
	set := map[int64]bool{}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case json.Number:
			if n, err := strconv.ParseInt(v.String(), 10, 64); err == nil {
				set[n] = true
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	for _, doc := range docs {
		d := json.NewDecoder(bytes.NewReader(doc))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		walk(v)
	}
	return set, nil
}

// Unsourced returns the parts of a message ("subject", "text", "sms") that
// name an amount of money not in amounts, each with what is left of it
// once every known amount, written as the locale writes it, is taken out.
// An empty result means every amount the message names comes from its
// evidence.
func Unsourced(m Message, amounts map[int64]bool, currency, locale string) map[string]string {
	written := make([]string, 0, len(amounts))
	for n := range amounts {
		written = append(written, FormatMoneyLocale(n, currency, locale))
	}
	// Longest first, so that £10.00 is not taken out of £110.00.
	sort.Slice(written, func(i, j int) bool { return len(written[i]) > len(written[j]) })
	mark := currency
	if sym, ok := moneySymbols[currency]; ok {
		mark = sym
	}
	out := map[string]string{}
	for part, text := range map[string]string{"subject": m.Subject, "text": m.Text, "sms": m.SMS} {
		rest := text
		for _, w := range written {
			rest = strings.ReplaceAll(rest, w, "")
		}
		if mark != "" && strings.Contains(rest, mark) {
			out[part] = rest
		}
	}
	return out
}
