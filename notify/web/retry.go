package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

// retry serves POST /dead/{id}/retry: an admin queues a dead message
// again and its River send job is made available (given one more attempt
// if it had used up its own), recorded in the audit log; a sender
// delivers it at once.
func (s *Server) retry(w http.ResponseWriter, r *http.Request, u *reviewdb.User) {
	if u.Disabled || u.Role != reviewdb.RoleAdmin {
		s.fail(w, r, u, http.StatusForbidden, u.Name+" is a "+u.Role+"; only admins may retry a dead message.")
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.fail(w, r, u, http.StatusNotFound, "There is no message "+r.PathValue("id")+".")
		return
	}
	if s.cfg.Retry == nil {
		s.fail(w, r, u, http.StatusServiceUnavailable, "This page has no job queue to retry messages with; use goodturn send retry.")
		return
	}
	ctx := r.Context()
	now := s.cfg.Review.Now().UTC()
	if err := s.cfg.Retry(ctx, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.fail(w, r, u, http.StatusNotFound, err.Error())
			return
		}
		// Not dead any more (someone retried it first): say so.
		s.setFlash(w, r, err.Error(), true)
		http.Redirect(w, r, "/dead", http.StatusSeeOther)
		return
	}
	if err := store.AddAudit(ctx, s.cfg.DB, &store.AuditEntry{At: now, Actor: u.Name, Action: "retry",
		Subject: fmt.Sprintf("message %d", id)}); err != nil {
		s.log.Warn("review page: audit retry", "error", err)
	}
	s.setFlash(w, r, fmt.Sprintf("Message %d is queued again; the sender delivers it at once.", id), false)
	http.Redirect(w, r, "/dead", http.StatusSeeOther)
}
