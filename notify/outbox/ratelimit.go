package outbox

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limiter is a token bucket: Rate tokens a second, up to Burst saved.
type Limiter struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

// NewLimiter returns a limiter of rate a second with a burst of
// max(1, rate) tokens, starting full.
func NewLimiter(rate float64) *Limiter {
	b := max(1, rate)
	return &Limiter{rate: rate, burst: b, tokens: b}
}

// Take takes a token if one is there and returns 0, or returns how long
// until one will be, taking nothing: a send job snoozes that long instead
// of holding a worker while it waits.
func (l *Limiter) Take() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if !l.last.IsZero() {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	if l.tokens >= 1 {
		l.tokens--
		return 0
	}
	return time.Duration((1 - l.tokens) / l.rate * float64(time.Second))
}

// ParseRates reads per-channel rates such as "email=10/s,sms=100/m" (per
// second, minute or hour) into limiters.
func ParseRates(s string) (map[string]*Limiter, error) {
	out := map[string]*Limiter{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		ch, spec, ok := strings.Cut(part, "=")
		num, unit, ok2 := strings.Cut(spec, "/")
		n, err := strconv.ParseFloat(num, 64)
		per := map[string]float64{"s": 1, "m": 60, "h": 3600}[unit]
		if !ok || !ok2 || err != nil || n <= 0 || per == 0 || ch == "" {
			return nil, fmt.Errorf("rate %q: want CHANNEL=N/s (or /m, /h), such as email=10/s", part)
		}
		out[strings.TrimSpace(ch)] = NewLimiter(n / per)
	}
	return out, nil
}
