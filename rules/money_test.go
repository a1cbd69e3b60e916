package rules_test

import (
	"encoding/json"
	"testing"

	"github.com/goodturn/goodturn/rules"
)

func TestParseRate(t *testing.T) {
	for _, tt := range []struct {
		in     string
		micros int64
		out    string
	}{
		{"8.5", 8_500_000, "8.5"},
		{"0.012", 12_000, "0.012"},
		{"10", 10_000_000, "10"},
		{"10.000", 10_000_000, "10"},
		{"0", 0, "0"},
		{"0.0", 0, "0"},
		{".5", 500_000, "0.5"},
		{"5.", 5_000_000, "5"},
		{"0.000001", 1, "0.000001"},
		{"0.1000000", 100_000, "0.1"},
		{" 8.5\n", 8_500_000, "8.5"},
		{"007.250", 7_250_000, "7.25"},
		{"1099511627776", 1 << 40 * 1_000_000, "1099511627776"},
	} {
		r, err := rules.ParseRate(tt.in)
		if err != nil || r.Micros() != tt.micros {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", tt.in, r.Micros(), err, tt.micros)
			continue
		}
		if got := r.String(); got != tt.out {
			t.Errorf("ParseRate(%q).String() = %q, want %q", tt.in, got, tt.out)
		}
		// String reads back as the same rate.
		if back, err := rules.ParseRate(r.String()); err != nil || back != r {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", r.String(), back, err, r)
		}
		if r.IsZero() != (tt.micros == 0) {
			t.Errorf("ParseRate(%q).IsZero() = %v", tt.in, r.IsZero())
		}
	}
	for _, tt := range []struct{ in, err string }{
		{"", "empty rate"},
		{"  ", "empty rate"},
		{".", `rate "." is not a decimal number`},
		{"-1", `rate "-1" must be a plain non-negative decimal`},
		{"+1", `rate "+1" must be a plain non-negative decimal`},
		{"-0.5", `rate "-0.5" must be a plain non-negative decimal`},
		{"1.-5", `rate "1.-5" is not a decimal number`},
		{"1.+5", `rate "1.+5" is not a decimal number`},
		{"1.2.3", `rate "1.2.3" is not a decimal number`},
		{"1,5", `rate "1,5" is not a decimal number`},
		{"1e3", `rate "1e3" is not a decimal number`},
		{"0x10", `rate "0x10" is not a decimal number`},
		{"1_000", `rate "1_000" is not a decimal number`},
		{"8.5p", `rate "8.5p" is not a decimal number`},
		{"0.0000001", `rate "0.0000001" has more than 6 decimal places`},
		{"1099511627777", `rate "1099511627777" is not a decimal number`},
		{"99999999999999999999", `rate "99999999999999999999" is not a decimal number`},
	} {
		if r, err := rules.ParseRate(tt.in); err == nil || err.Error() != tt.err {
			t.Errorf("ParseRate(%q) = %v, %v; want error %s", tt.in, r, err, tt.err)
		}
	}
}

func TestRateString(t *testing.T) {
	for _, tt := range []struct {
		micros int64
		want   string
	}{
		{0, "0"},
		{1, "0.000001"},
		{8_500_000, "8.5"},
		{12_345_678, "12.345678"},
		{-1_500_000, "-1.5"},
	} {
		if got := rules.RateMicros(tt.micros).String(); got != tt.want {
			t.Errorf("RateMicros(%d).String() = %q, want %q", tt.micros, got, tt.want)
		}
	}
}

func TestRateJSON(t *testing.T) {
	b, err := json.Marshal(rules.MustParseRate("8.5"))
	if err != nil || string(b) != `"8.5"` {
		t.Errorf("Marshal = %s, %v; want \"8.5\"", b, err)
	}
	for _, in := range []string{`"8.5"`, `8.5`, `"8.500"`} {
		var r rules.Rate
		if err := json.Unmarshal([]byte(in), &r); err != nil || r.Micros() != 8_500_000 {
			t.Errorf("Unmarshal(%s) = %v, %v", in, r, err)
		}
	}
	var a rules.Allowance
	if err := json.Unmarshal([]byte(`{"overage_rate": "-1"}`), &a); err == nil {
		t.Errorf("Unmarshal of a negative rate: no error")
	}
}

func TestMustParseRatePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParseRate(\"x\") did not panic")
		}
	}()
	rules.MustParseRate("x")
}

func TestFormatMoney(t *testing.T) {
	for _, tt := range []struct {
		amount   int
		currency string
		want     string
	}{
		{750, "GBP", "£7.50"},
		{-5, "EUR", "-€0.05"},
		{0, "GBP", "£0.00"},
		{99, "GBP", "£0.99"},
		{100000, "GBP", "£1,000.00"},
		{123456789, "USD", "$1,234,567.89"},
		{-123456, "AUD", "-A$1,234.56"},
		{1234, "JPY", "¥1,234"},
		{1234567, "KRW", "1,234,567 KRW"},
		{100, "CHF", "1.00 CHF"},
		{100, "", "1.00"},
	} {
		if got := rules.FormatMoney(tt.amount, tt.currency); got != tt.want {
			t.Errorf("FormatMoney(%d, %q) = %q, want %q", tt.amount, tt.currency, got, tt.want)
		}
	}
}
