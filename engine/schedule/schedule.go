// Package schedule runs rulesets on their schedules: it reads the schedule
// file, works out which slots — a ruleset and a wall-clock time in the
// schedule's zone — are due, claims each slot in the database so that it
// runs at most once however many processes serve, and runs it.
//
// The due slots are computed here, not by robfig/cron's runner: its parser
// reads the cron specs, and its SpecSchedule.Next enumerates the wall-clock
// times, but the runner works on instants, so around a daylight-saving
// change it can skip a time that does not exist that night or fire a
// repeated one twice. A slot here is named by its wall-clock time, which
// exists exactly once every day whatever the clocks do.
//
// The claims are rows of schedule_slots, whose SQL is in slots.go.
package schedule

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	yaml "go.yaml.in/yaml/v4"

	"github.com/goodturn/goodturn/rules/rulefmt"
)

// FileName is the schedule file's name in the folder of ruleset folders.
//
// It does not end in .yaml, though it is YAML: `goodturn check` and
// `goodturn test` take a folder holding *.yaml files for a ruleset folder,
// and would read the schedule as rules.
const FileName = "schedule.conf"

// NominalLayout formats a slot's wall-clock time.
const NominalLayout = "2006-01-02 15:04"

// Entry is one ruleset's schedule.
type Entry struct {
	// Ruleset names the ruleset folder.
	Ruleset string
	// Spec is the cron spec as written, time zone included.
	Spec string
	// Location is the spec's time zone.
	Location *time.Location
	// Path, Line and Col say where the entry is written.
	Path      string
	Line, Col int

	// wall is the spec read in UTC, which has no daylight saving: it
	// enumerates wall-clock times (held as UTC times with the same
	// fields) without gaps or repeats.
	wall *cron.SpecSchedule
}

// Slot is one scheduled run of a ruleset: its nominal wall-clock time in
// the schedule's zone and the instant it is due.
type Slot struct {
	Ruleset string
	// Nominal is the wall-clock time in Zone, as 2006-01-02 15:04.
	Nominal string
	// Zone is the schedule's time zone, such as Europe/London.
	Zone string
	// At is when the slot is due: the nominal time in Zone, or, if the
	// clocks skipped it that night, the first instant after the gap; if
	// the clocks repeated it, its first occurrence.
	At time.Time
}

func (s Slot) String() string { return s.Ruleset + " at " + s.Nominal + " " + s.Zone }

// Error is a problem at a position in the schedule file, written as
// `path:line:col: ruleset "name": what is wrong`: a rule file's error with
// Kind "ruleset".
type Error = rulefmt.Error

// Errors is every problem found in a schedule file, in file order.
type Errors = rulefmt.Errors

// Load reads the schedule file at path. known lists the ruleset folders
// that exist; an entry naming another is an error. Every problem is
// returned at once as Errors.
func Load(path string, known []string) ([]*Entry, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load schedule: %w", err)
	}
	return Parse(path, src, known)
}

// Parse reads a schedule file's content: a mapping of ruleset name to cron
// spec with its time zone, such as
//
//	mobile: "CRON_TZ=Europe/London 30 2 * * *"
//
// known lists the ruleset folders that exist (nil skips that check).
func Parse(path string, src []byte, known []string) ([]*Entry, error) {
	var errs Errors
	errorf := func(n *yaml.Node, ruleset, format string, args ...any) {
		e := &Error{Path: path, Rule: ruleset, Kind: "ruleset", Msg: fmt.Sprintf(format, args...)}
		if n != nil {
			e.Pos = rulefmt.Pos{Line: n.Line, Col: n.Column}
		}
		errs = append(errs, e)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		e := &Error{Path: path, Msg: yamlMessage(err)}
		var le *yaml.LoadError
		if errors.As(err, &le) {
			e.Pos = rulefmt.Pos{Line: le.Mark.Line, Col: le.Mark.Column}
		}
		return nil, Errors{e}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
		return nil, nil // an empty schedule runs nothing
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		errorf(root, "", "want a mapping of ruleset name to cron spec, such as mobile: \"CRON_TZ=Europe/London 30 2 * * *\"")
		return nil, errs
	}
	var entries []*Entry
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			errorf(k, "", "want a ruleset name")
			continue
		}
		name := k.Value
		if line, dup := seen[name]; dup {
			errorf(k, name, "scheduled twice (also on line %d); give one spec per ruleset", line)
			continue
		}
		seen[name] = k.Line
		if known != nil && !contains(known, name) {
			msg := "no such ruleset folder"
			if s := rulefmt.Suggest(name, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else if len(known) > 0 {
				msg += " (rulesets: " + strings.Join(known, ", ") + ")"
			}
			errorf(k, name, "%s", msg)
		}
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			errorf(v, name, "want a cron spec with its time zone, such as \"CRON_TZ=Europe/London 30 2 * * *\"")
			continue
		}
		e, err := NewEntry(name, v.Value)
		if err != nil {
			errorf(v, name, "%v", err)
			continue
		}
		e.Path, e.Line, e.Col = path, k.Line, k.Column
		entries = append(entries, e)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Ruleset < entries[j].Ruleset })
	return entries, nil
}

// NewEntry reads a cron spec for a ruleset. The spec is robfig/cron's
// standard one — minute, hour, day of month, month, day of week, or a
// descriptor such as @daily — and must start with its time zone,
// CRON_TZ=Area/City (or TZ=).
func NewEntry(ruleset, spec string) (*Entry, error) {
	spec = strings.TrimSpace(spec)
	if !strings.HasPrefix(spec, "CRON_TZ=") && !strings.HasPrefix(spec, "TZ=") {
		return nil, fmt.Errorf("cron spec %q has no time zone: start it with one, such as \"CRON_TZ=Europe/London %s\"", spec, spec)
	}
	if _, rest, _ := strings.Cut(spec, " "); strings.HasPrefix(strings.TrimSpace(rest), "@every") {
		return nil, fmt.Errorf("cron spec %q: @every is not a time of day; give minute, hour, day of month, month and day of week", spec)
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("cron spec %q: %v", spec, err)
	}
	ss, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("cron spec %q: not a time of day", spec)
	}
	wall := *ss
	wall.Location = time.UTC
	// A spec that can never match (30 February) would make Next search
	// five years every time; refuse it now.
	if wall.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("cron spec %q never matches a day", spec)
	}
	return &Entry{Ruleset: ruleset, Spec: spec, Location: ss.Location, wall: &wall}, nil
}

// Zone names the entry's time zone.
func (e *Entry) Zone() string { return e.Location.String() }

// margin is how far, in wall-clock time, a slot's instant can be from its
// nominal time's neighbourhood: more than any daylight-saving jump plus any
// zone offset change.
const margin = 26 * time.Hour

// Slots returns the slots due in (from, to], in order of their instants.
func (e *Entry) Slots(from, to time.Time) []Slot {
	if !to.After(from) {
		return nil
	}
	var out []Slot
	end := wallClock(to.In(e.Location)).Add(margin)
	for n := e.wall.Next(wallClock(from.In(e.Location)).Add(-margin)); !n.IsZero() && !n.After(end); n = e.wall.Next(n) {
		at := instant(n, e.Location)
		if at.After(from) && !at.After(to) {
			out = append(out, e.slot(n, at))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// Next returns the first slot due after t.
func (e *Entry) Next(t time.Time) (Slot, bool) {
	var best Slot
	found := false
	start := wallClock(t.In(e.Location)).Add(-margin)
	for n := e.wall.Next(start); !n.IsZero(); n = e.wall.Next(n) {
		at := instant(n, e.Location)
		if at.After(t) && (!found || at.Before(best.At)) {
			best, found = e.slot(n, at), true
		}
		// Past the margin no later nominal time can be due sooner.
		if found && n.After(wallClock(best.At.In(e.Location)).Add(margin)) {
			break
		}
	}
	return best, found
}

func (e *Entry) slot(nominal, at time.Time) Slot {
	return Slot{Ruleset: e.Ruleset, Nominal: nominal.Format(NominalLayout), Zone: e.Zone(), At: at}
}

// wallClock returns t's wall-clock fields as a UTC time.
func wallClock(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// instant returns when the wall-clock time n (held as UTC fields) happens
// in loc: the first instant whose wall clock reads n, or, when the clocks
// skip n, the first instant after the gap.
func instant(n time.Time, loc *time.Location) time.Time {
	var best time.Time
	// The offsets in force around n: a day either side covers any change.
	for _, probe := range []time.Time{n.Add(-margin), n, n.Add(margin)} {
		_, off := probe.In(loc).Zone()
		c := n.Add(-time.Duration(off) * time.Second)
		if wallClock(c.In(loc)).Equal(n) && (best.IsZero() || c.Before(best)) {
			best = c
		}
	}
	if !best.IsZero() {
		return best
	}
	// n falls in a gap: the clocks jumped over it. The jump is the
	// boundary of the zone period time.Date chose.
	t := time.Date(n.Year(), n.Month(), n.Day(), n.Hour(), n.Minute(), n.Second(), n.Nanosecond(), loc)
	start, end := t.ZoneBounds()
	if wallClock(t.In(loc)).After(n) {
		return start
	}
	return end
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func yamlMessage(err error) string {
	var le *yaml.LoadError
	if errors.As(err, &le) {
		if le.ContextMsg != "" {
			return "yaml: " + le.ContextMsg + ": " + le.Message
		}
		return "yaml: " + le.Message
	}
	return err.Error()
}
