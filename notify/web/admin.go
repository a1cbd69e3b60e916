package web

import (
	"net/http"

	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

// Admin serves h to logged-in admins only, behind the review page's login,
// sessions and cross-origin protection: a request without a session is
// sent to the login page (GET, HEAD) or refused with 401, and one of a
// viewer or reviewer is refused with 403. What h answers carries
// adminSecurityPolicy and the review page's other security headers. serve
// mounts River's UI so.
func (s *Server) Admin(h http.Handler) http.Handler {
	return http.NewCrossOriginProtection().Handler(bounded(s.auth(func(w http.ResponseWriter, r *http.Request, u *reviewdb.User) {
		if u.Disabled || u.Role != reviewdb.RoleAdmin {
			securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s.fail(w, r, u, http.StatusForbidden, "Only an admin may see the job queue.")
			})).ServeHTTP(w, r)
			return
		}
		hd := w.Header()
		hd.Set("Content-Security-Policy", adminSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})))
}

// adminSecurityPolicy is the content security policy of what Admin
// serves: River's UI, a single-page application whose scripts, styles and
// API are its own. It runs only its own scripts and cannot be framed; its
// components set inline styles, which it allows.
const adminSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
