package schedule_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/schedule"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("time zone %s: %v", name, err)
	}
	return loc
}

func mustEntry(t testing.TB, ruleset, spec string) *schedule.Entry {
	t.Helper()
	e, err := schedule.NewEntry(ruleset, spec)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestParse(t *testing.T) {
	src := `# nightly runs
uk-best-tariff: "CRON_TZ=Europe/London 0 3 * * *"
mobile: CRON_TZ=Europe/London 30 2 * * *
`
	entries, err := schedule.Parse("schedule.conf", []byte(src), []string{"mobile", "uk-best-tariff"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Ruleset != "mobile" || entries[1].Ruleset != "uk-best-tariff" {
		t.Fatalf("entries: %+v", entries)
	}
	if e := entries[0]; e.Zone() != "Europe/London" || e.Line != 3 || e.Col != 1 || e.Spec != "CRON_TZ=Europe/London 30 2 * * *" {
		t.Errorf("mobile entry: %+v", e)
	}
	if entries, err := schedule.Parse("empty.conf", []byte("# nothing scheduled yet\n"), nil); err != nil || len(entries) != 0 {
		t.Errorf("empty schedule: %v %v", entries, err)
	}
}

func TestParseErrors(t *testing.T) {
	known := []string{"mobile", "uk-best-tariff"}
	for _, c := range []struct{ src, want string }{
		{`mobile: "30 2 * * *"`,
			`s.conf:1:9: ruleset "mobile": cron spec "30 2 * * *" has no time zone: start it with one, such as "CRON_TZ=Europe/London 30 2 * * *"`},
		{"mobile: \"CRON_TZ=Europe/London 30 25 * * *\"\n",
			`s.conf:1:9: ruleset "mobile": cron spec "CRON_TZ=Europe/London 30 25 * * *": end of range (25) above maximum (23): 25`},
		{"mobile: \"CRON_TZ=Europe/Lundon 30 2 * * *\"\n",
			`s.conf:1:9: ruleset "mobile": cron spec "CRON_TZ=Europe/Lundon 30 2 * * *": provided bad location Europe/Lundon: unknown time zone Europe/Lundon`},
		{"# comment\nmobil: \"CRON_TZ=Europe/London 30 2 * * *\"\n",
			`s.conf:2:1: ruleset "mobil": no such ruleset folder (did you mean "mobile"?)`},
		{"mobile: \"CRON_TZ=UTC @every 1h\"\n",
			`s.conf:1:9: ruleset "mobile": cron spec "CRON_TZ=UTC @every 1h": @every is not a time of day; give minute, hour, day of month, month and day of week`},
		{"mobile: \"CRON_TZ=UTC 0 0 30 2 *\"\n",
			`s.conf:1:9: ruleset "mobile": cron spec "CRON_TZ=UTC 0 0 30 2 *" never matches a day`},
		{"mobile: \"CRON_TZ=UTC 0 1 * * *\"\nmobile: \"CRON_TZ=UTC 0 2 * * *\"\n",
			`s.conf:2:1: ruleset "mobile": scheduled twice (also on line 1); give one spec per ruleset`},
		{"mobile:\n  hour: 2\n",
			`s.conf:2:3: ruleset "mobile": want a cron spec with its time zone, such as "CRON_TZ=Europe/London 30 2 * * *"`},
		{"- mobile\n",
			`s.conf:1:1: want a mapping of ruleset name to cron spec, such as mobile: "CRON_TZ=Europe/London 30 2 * * *"`},
		{"mobile: \"CRON_TZ=UTC 0 1 * * *\n",
			`s.conf:2:1: yaml: while scanning a quoted scalar: found unexpected end of stream`},
	} {
		_, err := schedule.Parse("s.conf", []byte(c.src), known)
		if err == nil || err.Error() != c.want {
			t.Errorf("%q:\n got %v\nwant %s", c.src, err, c.want)
		}
	}
	// Every problem at once, in file order.
	_, err := schedule.Parse("s.conf", []byte("mobil: \"CRON_TZ=UTC 0 1 * * *\"\nuk-best-tariff: \"0 3 * * *\"\n"), known)
	if err == nil || len(strings.Split(err.Error(), "\n")) != 2 {
		t.Errorf("two problems: %v", err)
	}
}

// The shipped schedule runs mobile at 02:30 and uk-best-tariff at 03:00,
// London time.
func TestShippedSchedule(t *testing.T) {
	root := "../../rulesets"
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var known []string
	for _, d := range dirs {
		if d.IsDir() {
			known = append(known, d.Name())
		}
	}
	entries, err := schedule.Load(filepath.Join(root, schedule.FileName), known)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range entries {
		sl, ok := e.Next(time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC))
		if !ok {
			t.Fatalf("%s: no next slot", e.Ruleset)
		}
		got[e.Ruleset] = sl.Nominal + " " + sl.Zone
	}
	want := map[string]string{"mobile": "2026-07-02 02:30 Europe/London", "uk-best-tariff": "2026-07-02 03:00 Europe/London"}
	if len(got) != len(want) || got["mobile"] != want["mobile"] || got["uk-best-tariff"] != want["uk-best-tariff"] {
		t.Errorf("shipped schedule: %v, want %v", got, want)
	}
}

// Slots are named by wall-clock time: a time the clocks skip is due at the
// first instant after the gap, a time they repeat once, at its first
// occurrence.
func TestSlotsAcrossDST(t *testing.T) {
	london, newYork := mustLoc(t, "Europe/London"), mustLoc(t, "America/New_York")
	for _, c := range []struct {
		spec     string
		from, to time.Time
		want     []string // nominal → due, in RFC 3339 UTC
	}{
		{"CRON_TZ=Europe/London 30 2 * * *", time.Date(2026, 3, 28, 0, 0, 0, 0, london), time.Date(2026, 3, 31, 0, 0, 0, 0, london),
			[]string{"2026-03-28 02:30 → 2026-03-28T02:30:00Z", "2026-03-29 02:30 → 2026-03-29T01:30:00Z", "2026-03-30 02:30 → 2026-03-30T01:30:00Z"}},
		{"CRON_TZ=Europe/London 30 1 * * *", time.Date(2026, 3, 28, 0, 0, 0, 0, london), time.Date(2026, 3, 31, 0, 0, 0, 0, london),
			// 01:30 does not exist on 29 March: due at 02:00 BST.
			[]string{"2026-03-28 01:30 → 2026-03-28T01:30:00Z", "2026-03-29 01:30 → 2026-03-29T01:00:00Z", "2026-03-30 01:30 → 2026-03-30T00:30:00Z"}},
		{"CRON_TZ=Europe/London 30 1 * * *", time.Date(2026, 10, 24, 0, 0, 0, 0, london), time.Date(2026, 10, 27, 0, 0, 0, 0, london),
			// 01:30 happens twice on 25 October: due at the first.
			[]string{"2026-10-24 01:30 → 2026-10-24T00:30:00Z", "2026-10-25 01:30 → 2026-10-25T00:30:00Z", "2026-10-26 01:30 → 2026-10-26T01:30:00Z"}},
		{"CRON_TZ=America/New_York 30 2 * * *", time.Date(2026, 3, 7, 0, 0, 0, 0, newYork), time.Date(2026, 3, 10, 0, 0, 0, 0, newYork),
			// 02:30 does not exist on 8 March: due at 03:00 EDT.
			[]string{"2026-03-07 02:30 → 2026-03-07T07:30:00Z", "2026-03-08 02:30 → 2026-03-08T07:00:00Z", "2026-03-09 02:30 → 2026-03-09T06:30:00Z"}},
		{"CRON_TZ=America/New_York 30 1 * * *", time.Date(2026, 10, 31, 0, 0, 0, 0, newYork), time.Date(2026, 11, 3, 0, 0, 0, 0, newYork),
			[]string{"2026-10-31 01:30 → 2026-10-31T05:30:00Z", "2026-11-01 01:30 → 2026-11-01T05:30:00Z", "2026-11-02 01:30 → 2026-11-02T06:30:00Z"}},
	} {
		e := mustEntry(t, "r", c.spec)
		var got []string
		for _, sl := range e.Slots(c.from, c.to) {
			got = append(got, sl.Nominal+" → "+sl.At.UTC().Format(time.RFC3339))
		}
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", c.spec, got, c.want)
		}
		// Next agrees with Slots.
		at := c.from
		for _, w := range c.want {
			sl, ok := e.Next(at)
			if !ok || sl.Nominal+" → "+sl.At.UTC().Format(time.RFC3339) != w {
				t.Errorf("%s: next after %v = %v, want %s", c.spec, at, sl, w)
				break
			}
			at = sl.At
		}
	}
}
