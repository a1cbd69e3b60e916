package web

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/goodturn/goodturn/notify/review"
)

// loginData is what the login page shows.
type loginData struct {
	Name, Next, Error string
}

// loginPage serves GET /login: the form, or the batches for someone
// already logged in.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if u, err := s.sessionUser(r); err == nil && u != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "login", page{Title: "Log in", Data: loginData{Next: next}})
}

// login serves POST /login: it checks the name and password, starts a
// session and sets its cookie (HttpOnly, SameSite=Lax, Secure over TLS).
// A wrong name or password is 401; a name or client address that failed
// too often is 429 with Retry-After, the same for every name.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	name, password := r.PostFormValue("name"), r.PostFormValue("password")
	next := localPath(r.PostFormValue("next"))
	w.Header().Set("Cache-Control", "no-store")
	u, err := s.cfg.Review.Login(r.Context(), name, password, s.clientAddr(r))
	if te, ok := errors.AsType[*review.ThrottledError](err); ok {
		w.Header().Set("Retry-After", fmt.Sprint(int((te.In+time.Second-1)/time.Second)))
		s.render(w, r, http.StatusTooManyRequests, "login", page{Title: "Log in", Data: loginData{Name: name, Next: next, Error: err.Error()}})
		return
	}
	if errors.Is(err, review.ErrBadLogin) {
		s.render(w, r, http.StatusUnauthorized, "login", page{Title: "Log in", Data: loginData{Name: name, Next: next, Error: err.Error()}})
		return
	}
	if err != nil {
		s.failErr(w, r, nil, err)
		return
	}
	token, expires, err := s.cfg.Review.StartSession(r.Context(), u, s.cfg.SessionTTL)
	if err != nil {
		s.failErr(w, r, nil, err)
		return
	}
	http.SetCookie(w, s.cookie(r, SessionCookie, token, expires, 0))
	http.Redirect(w, r, next, http.StatusSeeOther)
}
