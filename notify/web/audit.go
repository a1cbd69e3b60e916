package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/goodturn/goodturn/engine/store"
)

const auditPageSize = 50

type auditData struct {
	Entries       []store.AuditEntry
	Actor, Action string
	Prev, Next    string
	From          int
}

// audit serves GET /audit: the audit log, newest first, 50 entries a page,
// filtered by actor and action.
func (s *Server) audit(w http.ResponseWriter, r *http.Request, u *store.User) {
	q := r.URL.Query()
	d := auditData{Actor: q.Get("actor"), Action: q.Get("action")}
	pageNo, _ := strconv.Atoi(q.Get("page"))
	pageNo = max(pageNo, 1)
	// One more than a page tells whether there is a next one.
	es, err := store.ListAudit(r.Context(), s.cfg.DB, store.AuditFilter{Actor: d.Actor, Action: d.Action,
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
	for i := range es {
		if string(es[i].Detail) == "{}" {
			es[i].Detail = nil
		}
	}
	d.Entries, d.From = es, (pageNo-1)*auditPageSize
	s.render(w, r, http.StatusOK, "audit", page{Title: "Audit log", Nav: "audit", User: u, Data: d})
}
