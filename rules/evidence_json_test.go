package rules_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/goodturn/goodturn/rules"
)

// TestEvidenceJSONIsJSONMarshal wants AppendJSON to write exactly the bytes
// json.Marshal writes, for every kind of value a rule computes.
func TestEvidenceJSONIsJSONMarshal(t *testing.T) {
	month := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	f := customer(maxPlan, usage(3000, 2000, 100), usage(100, 50, 10), usage(2000, 300, 0))
	f.Months = f.Months[:2] // the third month's date unknown
	q := rules.NewQuote(&f, mid, 3)
	values := []any{
		nil, true, false, 0, -12, int64(1) << 60, 3.5, math.Pi, float32(1.25), "", "plain", `quo"te\`, "<b>&amp;</b>",
		"tab\there\nnewline", "caf\u00e9 \u2028 \xff", []int{1, -2}, []int(nil), q, (*rules.Quote)(nil), *q, q.ByMonth, []rules.QuoteMonth(nil),
		rules.QuoteMonth{CurrentCost: 1}, []any{1, "a", nil, []any{q}}, []any(nil), month, month.Add(90 * time.Minute),
		map[string]any{"b": 1, "a": []any{"x"}}, []string{"x"}, rules.Charge{ID: 7, Kind: "late_fee", Amount: 500},
		[]rules.Charge{{ID: 1}}, struct{ A int }{1},
	}
	for _, v := range values {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := rules.AppendJSONValue(nil, v)
		if err != nil || string(got) != string(want) {
			t.Errorf("rules.AppendJSONValue(%#v) = %s, %v; json.Marshal gives %s", v, got, err, want)
		}
	}
	named := make([]rules.NamedValue, len(values))
	for i, v := range values {
		named[i] = rules.NamedValue{Name: "v", Value: v}
	}
	for _, ev := range []rules.Evidence{
		{},
		{Values: named, Clauses: []rules.ClauseResult{{Clause: `a > "b"`, Value: true, Evaluated: true}, {Clause: "c"}},
			Facts: named[:3], Money: []string{"saving", "fee"}},
		{Values: []rules.NamedValue{}, Clauses: []rules.ClauseResult{}, Facts: []rules.NamedValue{}, Money: []string{}},
	} {
		want, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ev.AppendJSON(nil)
		if err != nil || string(got) != string(want) {
			t.Errorf("AppendJSON = %s, %v\njson.Marshal gives %s", got, err, want)
		}
	}
	if _, err := rules.AppendJSONValue(nil, math.Inf(1)); err == nil {
		t.Error("an infinite float encoded without an error")
	}
}

// BenchmarkEvidenceJSON encodes the evidence of a cheaper-plan match, with
// json.Marshal and with AppendJSON.
func BenchmarkEvidenceJSON(b *testing.B) {
	f := customer(maxPlan, usage(3000, 200, 100), usage(1000, 50, 10), usage(2000, 300, 0))
	q := rules.NewQuote(&f, mid, 3)
	ev := rules.Evidence{
		Values:  []rules.NamedValue{{Name: "best", Value: q}, {Name: "min_monthly_saving", Value: q.MinMonthlySaving}},
		Clauses: []rules.ClauseResult{{Clause: `plan.id != ""`, Value: true, Evaluated: true}, {Clause: "best != nil", Value: true, Evaluated: true}},
		Facts: []rules.NamedValue{{Name: "plan.id", Value: "max"}, {Name: "plan.monthly_price", Value: 3000},
			{Name: "subscription.contract_ends_on", Value: "2026-01-01"}},
		Money: []string{"min_monthly_saving"},
	}
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ev.AppendJSON(nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
