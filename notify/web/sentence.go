package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/goodturn/goodturn/engine/store"
)

// auditLine is an audit entry as the page shows it: a sentence saying who
// did what, and the entry's detail as recorded.
type auditLine struct {
	store.AuditEntry
	Sentence string
	// Link is the page of what was acted on, if it has one.
	Link string
}

// sentence writes an audit entry as people say it: "ana approved 48
// proposals of 3/cheaper-plan: 'checked with billing'".
func sentence(e store.AuditEntry) string {
	var d map[string]any
	dec := json.NewDecoder(bytes.NewReader(e.Detail))
	dec.UseNumber()
	_ = dec.Decode(&d) // an unreadable detail only loses its numbers
	num := func(k string) string {
		if n, ok := d[k].(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				return groupThousands(i)
			}
			return n.String()
		}
		return ""
	}
	str := func(k string) string { s, _ := d[k].(string); return s }
	what := e.Subject
	batch, isBatch := strings.CutPrefix(e.Subject, "batch ")
	var s string
	switch e.Action {
	case "approve", "reject":
		verb := map[string]string{"approve": "approved", "reject": "rejected"}[e.Action]
		switch {
		case d["awaiting_second_reviewer"] == true:
			s = fmt.Sprintf("%s approved %s, first of two reviewers", e.Actor, what)
			if n := num("approvals_recorded"); n != "" && isBatch {
				s = fmt.Sprintf("%s approved %s proposals of %s, first of two reviewers", e.Actor, n, batch)
			}
		case isBatch && num("changed") != "":
			s = fmt.Sprintf("%s %s %s %s of %s", e.Actor, verb, num("changed"), plural(num("changed"), "proposal"), batch)
		default:
			s = fmt.Sprintf("%s %s %s", e.Actor, verb, what)
		}
	case "expire":
		s = fmt.Sprintf("%s %s of %s expired", num("expired"), plural(num("expired"), "proposal"), batch)
		if after := str("pending_longer_than"); after != "" {
			s += ", pending longer than " + after
		}
	case "login":
		s = e.Actor + " logged in"
	case "logout":
		s = e.Actor + " logged out"
	case "login_failed":
		s = "A login as " + e.Actor + " failed"
		if r := str("reason"); r != "" {
			s += ": " + r
		}
	case "login_locked":
		s = "Logins from " + strings.TrimPrefix(e.Subject, "address ") + " were locked for too many failures"
	case "retry":
		s = e.Actor + " retried " + what
	case "user_add":
		s = e.Actor + " added " + what
		if r := str("role"); r != "" {
			s += " as " + r
		}
	case "user_disable":
		s = e.Actor + " disabled " + what
	case "user_enable":
		s = e.Actor + " enabled " + what
	case "user_password":
		s = e.Actor + " set the password of " + what
	case "user_unlock":
		s = e.Actor + " unlocked " + what
	default:
		s = fmt.Sprintf("%s: %s %s", e.Actor, strings.ReplaceAll(e.Action, "_", " "), what)
	}
	if addr := str("addr"); addr != "" && strings.HasPrefix(e.Action, "login") {
		s += " (from " + addr + ")"
	}
	if e.Comment != "" {
		s += ": '" + e.Comment + "'"
	}
	return s
}

// plural adds an s to word unless count is "1".
func plural(count, word string) string {
	if count == "1" {
		return word
	}
	return word + "s"
}

// subjectLink is the page of an audit entry's subject: a batch or a
// proposal; "" for others.
func subjectLink(subject string) string {
	if key, ok := strings.CutPrefix(subject, "batch "); ok {
		if run, rule, err := store.ParseBatchKey(key); err == nil {
			return fmt.Sprintf("/batches/%d/%s", run, rule)
		}
	}
	if id, ok := strings.CutPrefix(subject, "proposal "); ok {
		return "/proposals/" + id
	}
	return ""
}
