package outbox

import (
	"fmt"
	"strings"
	"time"
)

// QuietHours keeps customer messages to a window of the day in the
// customer's own time zone: a message due outside it waits until the window
// next opens. The zero value allows every hour.
type QuietHours struct {
	// Start and End are the allowed window as times since local midnight:
	// 8h and 20h allow 08:00 to 20:00. A window with Start after End runs
	// over midnight; Start equal to End allows every hour.
	Start, End time.Duration
	// Default is the zone of customers with no (or an unknown) time zone;
	// UTC when nil.
	Default *time.Location
}

// DefaultQuietHours allows 08:00 to 20:00.
var DefaultQuietHours = QuietHours{Start: 8 * time.Hour, End: 20 * time.Hour}

// ParseWindow reads an allowed window such as "08:00-20:00"; "always"
// allows every hour.
func ParseWindow(s string) (QuietHours, error) {
	if s == "always" || s == "" {
		return QuietHours{}, nil
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return QuietHours{}, fmt.Errorf("send hours %q: want HH:MM-HH:MM such as 08:00-20:00, or always", s)
	}
	start, err := clock(a)
	if err != nil {
		return QuietHours{}, fmt.Errorf("send hours %q: %w", s, err)
	}
	end, err := clock(b)
	if err != nil {
		return QuietHours{}, fmt.Errorf("send hours %q: %w", s, err)
	}
	return QuietHours{Start: start, End: end}, nil
}

func clock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		if strings.TrimSpace(s) == "24:00" {
			return 24 * time.Hour, nil
		}
		return 0, fmt.Errorf("%q is not a time of day like 08:00", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// Zone returns the location of a time zone name, or the default.
func (q QuietHours) Zone(tz string) *time.Location {
	if tz != "" {
		if loc, err := time.LoadLocation(tz); err == nil {
			return loc
		}
	}
	if q.Default != nil {
		return q.Default
	}
	return time.UTC
}

// Next reports whether now is inside the allowed window in the time zone;
// when it is not, it returns the time the window next opens.
func (q QuietHours) Next(now time.Time, tz string) (time.Time, bool) {
	if q.Start == q.End {
		return now, true
	}
	loc := q.Zone(tz)
	local := now.In(loc)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	// Wall-clock time of day, unaffected by a DST change earlier today.
	tod := time.Duration(local.Hour())*time.Hour + time.Duration(local.Minute())*time.Minute +
		time.Duration(local.Second())*time.Second + time.Duration(local.Nanosecond())
	in := tod >= q.Start && tod < q.End
	if q.Start > q.End {
		in = tod >= q.Start || tod < q.End
	}
	if in {
		return now, true
	}
	open := at(midnight, q.Start, loc)
	if !open.After(now) {
		next := midnight.AddDate(0, 0, 1)
		open = at(time.Date(next.Year(), next.Month(), next.Day(), 0, 0, 0, 0, loc), q.Start, loc)
	}
	return open, false
}

// at returns the wall-clock time of day d on the day of midnight.
func at(midnight time.Time, d time.Duration, loc *time.Location) time.Time {
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	return time.Date(midnight.Year(), midnight.Month(), midnight.Day(), h, m, 0, 0, loc)
}
