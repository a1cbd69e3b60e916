package web

import (
	"net/http"
	"time"

	"github.com/goodturn/goodturn/engine/store"
)

// logout serves POST /logout: it ends the session, records it in the
// audit log and clears the cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		if u, err := s.cfg.Review.SessionUser(r.Context(), c.Value); err == nil {
			if err := store.AddAudit(r.Context(), s.cfg.DB, &store.AuditEntry{At: s.cfg.Review.Now().UTC(), Actor: u.Name,
				Action: "logout", Subject: "user " + u.Name}); err != nil {
				s.log.Warn("review page: audit logout", "error", err)
			}
		}
		if err := s.cfg.Review.EndSession(r.Context(), c.Value); err != nil {
			s.failErr(w, r, nil, err)
			return
		}
	}
	http.SetCookie(w, s.cookie(r, SessionCookie, "", time.Time{}, -1))
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
