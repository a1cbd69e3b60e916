package rules

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// rateScale is the number of fractional digits a Rate keeps exactly.
const rateScale = 6

const rateOne = 1_000_000 // 10^rateScale

// Rate is an exact decimal price per unit in minor units (8.5 is 8.5p a
// minute), kept as millionths of a minor unit so that re-rating never
// touches a float.
type Rate struct {
	micros int64
}

// ParseRate parses a decimal such as "8.5", "0.012" or "10" into a Rate.
// It accepts at most six fractional digits and rejects negatives.
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Rate{}, fmt.Errorf("empty rate")
	}
	whole, frac, _ := strings.Cut(s, ".")
	if strings.Trim(whole+frac, "0123456789") != "" || whole+frac == "" {
		// Only digits: ParseInt would take "1.-5" for 0.5 and "1.+5" for 1.5.
		if strings.HasPrefix(whole, "-") || strings.HasPrefix(whole, "+") {
			return Rate{}, fmt.Errorf("rate %q must be a plain non-negative decimal", s)
		}
		return Rate{}, fmt.Errorf("rate %q is not a decimal number", s)
	}
	if whole == "" {
		whole = "0"
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > rateScale {
		return Rate{}, fmt.Errorf("rate %q has more than %d decimal places", s, rateScale)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > 1<<40 {
		return Rate{}, fmt.Errorf("rate %q is not a decimal number", s)
	}
	var f int64
	if frac != "" {
		f, err = strconv.ParseInt(frac+strings.Repeat("0", rateScale-len(frac)), 10, 64)
		if err != nil {
			return Rate{}, fmt.Errorf("rate %q is not a decimal number", s)
		}
	}
	return Rate{micros: w*rateOne + f}, nil
}

// MustParseRate is ParseRate for constants; it panics on a bad rate.
func MustParseRate(s string) Rate {
	r, err := ParseRate(s)
	if err != nil {
		panic(err)
	}
	return r
}

// RateMicros returns a Rate of n millionths of a minor unit.
func RateMicros(n int64) Rate { return Rate{micros: n} }

// Micros returns the rate in millionths of a minor unit.
func (r Rate) Micros() int64 { return r.micros }

// IsZero reports whether the rate is zero.
func (r Rate) IsZero() bool { return r.micros == 0 }

// String formats the rate as a decimal with no trailing zeros: "8.5".
func (r Rate) String() string {
	if r.micros < 0 { // only from RateMicros
		return "-" + Rate{micros: -r.micros}.String()
	}
	whole := r.micros / rateOne
	frac := r.micros % rateOne
	if frac == 0 {
		return strconv.FormatInt(whole, 10)
	}
	f := strings.TrimRight(fmt.Sprintf("%06d", frac), "0")
	return strconv.FormatInt(whole, 10) + "." + f
}

// MarshalJSON writes the rate as a JSON string holding the exact decimal.
func (r Rate) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }

// UnmarshalJSON reads a rate written by MarshalJSON or a JSON number.
func (r *Rate) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := ParseRate(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// roundMicros rounds an amount in millionths of a minor unit to whole minor
// units, half away from zero. It is the single rounding step of re-rating.
func roundMicros(micros int64) int {
	if micros >= 0 {
		return int((micros + rateOne/2) / rateOne)
	}
	return -int((-micros + rateOne/2) / rateOne)
}

// currencySymbols holds the symbols FormatMoney puts before an amount.
var currencySymbols = map[string]string{
	"GBP": "£", "USD": "$", "EUR": "€", "AUD": "A$", "CAD": "C$", "NZD": "NZ$",
	"JPY": "¥", "INR": "₹",
}

// zeroDecimal lists currencies with no minor unit.
var zeroDecimal = map[string]bool{"JPY": true, "KRW": true, "ISK": true}

// FormatMoney formats an amount in minor units plainly, for evidence and
// terminals: FormatMoney(750, "GBP") is "£7.50", FormatMoney(-5, "EUR") is
// "-€0.05". Locale-aware formatting for customers lives with the templates.
func FormatMoney(amount int, currency string) string {
	sign := ""
	a := int64(amount)
	if a < 0 {
		sign, a = "-", -a
	}
	sym, ok := currencySymbols[currency]
	var num string
	if zeroDecimal[currency] {
		num = groupThousands(a)
	} else {
		num = groupThousands(a/100) + fmt.Sprintf(".%02d", a%100)
	}
	if currency == "" {
		return sign + num
	}
	if !ok {
		return sign + num + " " + currency
	}
	return sign + sym + num
}

func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}
