package web

import (
	"errors"
	"net/http"

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
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	name, password := r.PostFormValue("name"), r.PostFormValue("password")
	next := localPath(r.PostFormValue("next"))
	w.Header().Set("Cache-Control", "no-store")
	u, err := s.cfg.Review.Login(r.Context(), name, password, r.RemoteAddr)
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
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: token, Path: "/", Expires: expires, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	http.Redirect(w, r, next, http.StatusSeeOther)
}
