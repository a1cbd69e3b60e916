package web

import (
	"net/http"

	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

// Admin serves h to logged-in admins only, behind the review page's login,
// sessions and cross-origin protection: a request without a session is
// sent to the login page (GET, HEAD) or refused with 401, and one of a
// viewer or reviewer is refused with 403. serve mounts River's UI so.
func (s *Server) Admin(h http.Handler) http.Handler {
	return http.NewCrossOriginProtection().Handler(bounded(s.auth(func(w http.ResponseWriter, r *http.Request, u *reviewdb.User) {
		if u.Disabled || u.Role != reviewdb.RoleAdmin {
			securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s.fail(w, r, u, http.StatusForbidden, "Only an admin may see the job queue.")
			})).ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})))
}
