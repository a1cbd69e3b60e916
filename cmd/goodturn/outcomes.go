package main

import (
	"fmt"
	"io"

	"github.com/goodturn/goodturn/engine/store"
)

// printControl prints, rule by rule, how many matches a run kept as the
// rule's control group.
func printControl(w io.Writer, rrs []store.RunRule) {
	for _, rr := range rrs {
		if rr.Control > 0 {
			fmt.Fprintf(w, "  %s control group: %s kept back to measure, never reviewed or sent\n", rr.RuleID, count(rr.Control))
		}
	}
}

// withControl adds a batch's control group to its note in the review list.
func withControl(note string, control int64) string {
	if control == 0 {
		return note
	}
	c := count(control) + " in control group"
	if note == "" {
		return c
	}
	return note + "; " + c
}
