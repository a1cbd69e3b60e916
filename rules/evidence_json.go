package rules

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the evidence as JSON to b: the bytes json.Marshal
// writes, without reflection for the values rules compute most (numbers,
// strings, quotes and their months, lists of them). A value JSON cannot
// hold is an error, as from json.Marshal.
func (ev Evidence) AppendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, `{"values":`...)
	if b, err = appendNamed(b, ev.Values); err != nil {
		return b, err
	}
	b = append(b, `,"clauses":`...)
	if ev.Clauses == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, c := range ev.Clauses {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendPair(b, "clause", c.Clause, c.Value); err != nil {
				return b, err
			}
			b = append(b, `,"evaluated":`...)
			b = strconv.AppendBool(b, c.Evaluated)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"facts":`...)
	if b, err = appendNamed(b, ev.Facts); err != nil {
		return b, err
	}
	if len(ev.Money) > 0 {
		b = append(b, `,"money":`...)
		b = appendList(b, ev.Money, appendString)
	}
	return append(b, '}'), nil
}

// appendNamed appends named values as json.Marshal writes a []NamedValue.
func appendNamed(b []byte, vs []NamedValue) ([]byte, error) {
	if vs == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	var err error
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendPair(b, "name", v.Name, v.Value); err != nil {
			return b, err
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// appendPair opens an object with a name under key and a value:
// {"key":"name","value":v, left open.
func appendPair(b []byte, key, name string, v any) ([]byte, error) {
	b = append(b, `{"`...)
	b = append(b, key...)
	b = append(b, `":`...)
	b = appendString(b, name)
	b = append(b, `,"value":`...)
	return AppendJSONValue(b, v)
}

// AppendJSONValue appends v as JSON to b, as json.Marshal writes it.
func AppendJSONValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case string:
		return appendString(b, v), nil
	case []int:
		return appendList(b, v, appendInt), nil
	case *Quote:
		if v == nil {
			return append(b, "null"...), nil
		}
		return appendQuote(b, v), nil
	case QuoteMonth:
		return appendQuoteMonth(b, v), nil
	case []QuoteMonth:
		return appendList(b, v, appendQuoteMonth), nil
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		var err error
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = AppendJSONValue(b, e); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	case time.Time:
		t, err := v.MarshalJSON()
		return append(b, t...), err
	}
	out, err := json.Marshal(v)
	return append(b, out...), err
}

// appendList appends xs as a JSON array, each element by each, as
// json.Marshal writes a slice: null when xs is nil.
func appendList[T any](b []byte, xs []T, each func([]byte, T) []byte) []byte {
	if xs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = each(b, x)
	}
	return append(b, ']')
}

func appendInt(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }

// appendQuote writes a quote as Quote.MarshalJSON does.
func appendQuote(b []byte, q *Quote) []byte {
	b = append(b, `{"plan":{"id":`...)
	b = appendString(b, q.Plan.ID)
	b = append(b, `,"name":`...)
	b = appendString(b, q.Plan.Name)
	b = appendField(b, "monthly_price", q.Plan.MonthlyPrice)
	b = append(b, '}')
	b = appendField(b, "months", q.Months)
	b = append(b, `,"costs":`...)
	b = appendList(b, q.Costs, appendInt)
	b = appendField(b, "total", q.Total)
	b = append(b, `,"current_costs":`...)
	b = appendList(b, q.CurrentCosts, appendInt)
	b = appendField(b, "current_total", q.CurrentTotal)
	b = appendField(b, "saving", q.Saving)
	b = appendField(b, "monthly_saving", q.MonthlySaving)
	b = append(b, `,"by_month":`...)
	b = appendList(b, q.ByMonth, appendQuoteMonth)
	b = appendField(b, "min_monthly_saving", q.MinMonthlySaving)
	b = append(b, `,"saves_every_month":`...)
	b = strconv.AppendBool(b, q.SavesEveryMonth)
	b = appendField(b, "yearly_saving", q.YearlySaving)
	return append(b, '}')
}

// appendQuoteMonth writes a quote's month as QuoteMonth.MarshalJSON does.
func appendQuoteMonth(b []byte, m QuoteMonth) []byte {
	b = append(b, '{')
	if !m.Month.IsZero() {
		b = append(b, `"month":"`...)
		b = m.Month.AppendFormat(b, time.DateOnly)
		b = append(b, `",`...)
	}
	b = append(b, `"current_cost":`...)
	b = appendInt(b, m.CurrentCost)
	b = appendField(b, "new_cost", m.NewCost)
	b = appendField(b, "saving", m.Saving)
	b = appendField(b, "current_overage", m.CurrentOverage)
	b = appendField(b, "new_overage", m.NewOverage)
	return append(b, '}')
}

// appendField appends ,"name":n.
func appendField(b []byte, name string, n int) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendInt(b, n)
}

// appendString appends s as a JSON string; one that needs escaping beyond
// the plain characters goes through json.Marshal, which escapes HTML and
// replaces invalid UTF-8 the way it always has.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
			out, _ := json.Marshal(s)
			return append(b, out...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
