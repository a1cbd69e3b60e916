package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

const auditPageSize = 50

type auditData struct {
	Entries                []auditLine
	Actor, Action, Subject string
	Actions                []string
	Prev, Next             string
	From                   int
}

// auditActions are the actions the audit page filters by.
var auditActions = []string{"approve", "reject", "expire", "login", "login_failed", "login_locked", "logout", "retry",
	"user_add", "user_disable", "user_enable", "user_password", "user_unlock", "abandon_run"}

// audit serves GET /audit: the audit log as sentences, newest first, 50
// entries a page, filtered by actor, action and subject ("batch
// 3/cheaper-plan", or just "3/cheaper-plan").
func (s *Server) audit(w http.ResponseWriter, r *http.Request, u *reviewdb.User) {
	q := r.URL.Query()
	d := auditData{Actor: strings.TrimSpace(q.Get("actor")), Action: q.Get("action"), Subject: strings.TrimSpace(q.Get("subject")), Actions: auditActions}
	subject := d.Subject
	if _, _, err := store.ParseBatchKey(subject); err == nil {
		subject = "batch " + subject
	}
	pageNo, _ := strconv.Atoi(q.Get("page"))
	pageNo = max(pageNo, 1)
	// One more than a page tells whether there is a next one.
	es, err := store.ListAudit(r.Context(), s.cfg.DB, store.AuditFilter{Actor: d.Actor, Action: d.Action, Subject: subject,
		Limit: auditPageSize + 1, Offset: (pageNo - 1) * auditPageSize})
	if err != nil {
		s.failErr(w, r, u, err)
		return
	}
	link := func(p int) string {
		v := url.Values{}
		if d.Actor != "" {
			v.Set("actor", d.Actor)
		}
		if d.Action != "" {
			v.Set("action", d.Action)
		}
		if d.Subject != "" {
			v.Set("subject", d.Subject)
		}
		v.Set("page", strconv.Itoa(p))
		return "/audit?" + v.Encode()
	}
	if len(es) > auditPageSize {
		es = es[:auditPageSize]
		d.Next = link(pageNo + 1)
	}
	if pageNo > 1 {
		d.Prev = link(pageNo - 1)
	}
	for _, e := range es {
		if string(e.Detail) == "{}" {
			e.Detail = nil
		}
		d.Entries = append(d.Entries, auditLine{AuditEntry: e, Sentence: sentence(e), Link: subjectLink(e.Subject)})
	}
	d.From = (pageNo - 1) * auditPageSize
	s.render(w, r, http.StatusOK, "audit", page{Title: "Audit log", Nav: "audit", User: u, Data: d})
}
