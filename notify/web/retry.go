package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/outbox/outboxdb"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

// retry serves POST /dead/{id}/retry: an admin queues a dead message
// again with a fresh count of attempts, recorded in the audit log; the
// sender delivers it on its next round.
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
	ctx := r.Context()
	now := s.cfg.Review.Now().UTC()
	if err := outboxdb.Retry(ctx, s.cfg.DB, id, now); err != nil {
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
	s.setFlash(w, r, fmt.Sprintf("Message %d is queued again; the sender delivers it on its next round.", id), false)
	http.Redirect(w, r, "/dead", http.StatusSeeOther)
}
