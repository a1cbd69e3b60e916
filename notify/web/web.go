// Package web is goodturn's review page: marketing logs in, looks at the
// batches of proposals the runs made (with a few messages rendered exactly
// as they would be sent and the spread of their values), opens a batch to
// its proposals and a proposal to its evidence, and approves or rejects
// batches or single proposals; it also shows the audit log and the dead
// messages of the outbox, which an admin may retry.
//
// Pages are rendered on the server with html/template (every customer
// string escaped), charts are server-side SVG, and the few lines of
// JavaScript only make filters submit themselves. Every page and action
// needs a login, throttled per name and per client address; sessions live
// in goodturn's database (notify/review), the cookie is HttpOnly and
// SameSite=Lax (and Secure over TLS, or behind a trusted proxy that says
// so), cross-origin form posts are refused by net/http's
// CrossOriginProtection, and request bodies are bounded (MaxBody).
package web

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify"
	"github.com/goodturn/goodturn/notify/review"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
	"github.com/goodturn/goodturn/rules"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the review page needs.
type Config struct {
	// DB is goodturn's database: proposals, users, sessions, audit, outbox.
	DB *database.DB
	// Billing reads customers (names, locales, segments) and their usage
	// from the billing database.
	Billing *billing.Reader
	// Review decides and manages sessions; its Config holds the second
	// reviewer's threshold, expiry and clock.
	Review *review.Service
	// Rulesets returns the loaded rulesets, for rule names, descriptions
	// and message templates; it may return some rulesets with an error.
	Rulesets func() ([]*rules.Ruleset, error)
	// SessionTTL is how long a login lasts; review.DefaultSessionTTL when 0.
	SessionTTL time.Duration
	// PageSize is how many proposals a batch page lists; 25 when 0.
	PageSize int
	// Logger logs failures; slog.Default() when nil.
	Logger *slog.Logger
	// TrustProxy says the page is reached through a reverse proxy that
	// sets X-Forwarded-For and X-Forwarded-Proto: the client's address is
	// the last of X-Forwarded-For, and X-Forwarded-Proto https makes the
	// cookies Secure. Without it both headers are ignored, since anyone
	// can send them.
	TrustProxy bool
	// From is the From of every email, as the sender is configured
	// (--smtp-from); the page shows it on each email, or says it is not
	// known when "".
	From string
	// Retry queues dead outbox message id again and retries its River
	// send job, in one transaction (outbox.Jobs.Retry); without it the
	// dead letters page offers no retry.
	Retry func(ctx context.Context, id int64) error
}

// Server is the review page, an http.Handler.
type Server struct {
	cfg   Config
	log   *slog.Logger
	pages map[string]*template.Template
	h     http.Handler
}

// SessionCookie is the name of the session cookie.
const SessionCookie = "goodturn_session"

// flashCookie carries a one-time message to the next page.
const flashCookie = "goodturn_flash"

// New returns the review page's handler. Every route but /login and
// /static/ needs a session; every unsafe method is refused when it comes
// from another origin; every request's form is read within MaxBody and
// refused if it holds a NUL byte.
func New(cfg Config) (*Server, error) {
	if cfg.DB == nil || cfg.Review == nil || cfg.Billing == nil {
		return nil, errors.New("web: DB, Billing and Review are required")
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 25
	}
	if cfg.Rulesets == nil {
		cfg.Rulesets = func() ([]*rules.Ruleset, error) { return nil, nil }
	}
	s := &Server{cfg: cfg, log: cfg.Logger, pages: map[string]*template.Template{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, name := range []string{"login", "batches", "batch", "proposal", "audit", "dead", "error", "outcomes"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		s.pages[name] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(time.Hour, http.FileServerFS(static))))
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("GET /{$}", s.auth(s.batches))
	mux.HandleFunc("GET /batches/{run}/{rule}", s.auth(s.batch))
	mux.HandleFunc("GET /proposals/{id}", s.auth(s.proposal))
	mux.HandleFunc("POST /decide", s.auth(s.decide))
	mux.HandleFunc("GET /audit", s.auth(s.audit))
	mux.HandleFunc("GET /dead", s.auth(s.dead))
	mux.HandleFunc("GET /outcomes", s.auth(s.outcomesPage))
	mux.HandleFunc("POST /dead/{id}/retry", s.auth(s.retry))
	mux.HandleFunc("/", s.auth(func(w http.ResponseWriter, r *http.Request, u *reviewdb.User) {
		s.fail(w, r, u, http.StatusNotFound, "There is no page "+r.URL.Path+".")
	}))
	s.h = securityHeaders(http.NewCrossOriginProtection().Handler(bounded(mux)))
	return s, nil
}

// ServeHTTP serves the review page.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.h.ServeHTTP(w, r) }

// contentSecurityPolicy allows the page's own scripts and styles only,
// and the one style attribute of the HTML part of an email
// (notify.TextToHTML), by its hash, so that the email shown in its
// sandboxed frame looks as the customer sees it.
var contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-hashes' " + emailStyleHashes() +
	"; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// emailStyleHashes returns the CSP hashes of the style attributes of
// notify.TextToHTML's documents.
func emailStyleHashes() string {
	var out []string
	for _, m := range styleAttr.FindAllStringSubmatch(notify.TextToHTML("x"), -1) {
		sum := sha256.Sum256([]byte(html.UnescapeString(m[1])))
		out = append(out, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
	return strings.Join(out, " ")
}

var styleAttr = regexp.MustCompile(`style="([^"]*)"`)

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", fmt.Sprintf("private, max-age=%d", int(d.Seconds())))
		h.ServeHTTP(w, r)
	})
}

// handler is a route that needs a logged-in user.
type handler func(w http.ResponseWriter, r *http.Request, u *reviewdb.User)

// auth runs h for a request with a live session; others are sent to the
// login page (GET) or refused with 401.
func (s *Server) auth(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := s.sessionUser(r)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				s.log.Error("review page: session", "error", err)
				http.Error(w, "the database is not answering", http.StatusServiceUnavailable)
				return
			}
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r, u)
	}
}

func (s *Server) sessionUser(r *http.Request) (*reviewdb.User, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, fmt.Errorf("no session: %w", store.ErrNotFound)
	}
	return s.cfg.Review.SessionUser(r.Context(), c.Value)
}

// page is what every page template sees.
type page struct {
	Title string
	// Nav is the current section: batches, audit or dead.
	Nav   string
	User  *reviewdb.User
	Flash flash
	// Data is the page's own data.
	Data any
}

type flash struct {
	Text  string
	Error bool
}

// render writes a page with status code.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Flash = s.takeFlash(w, r)
	var b strings.Builder
	if err := s.pages[name].ExecuteTemplate(&b, "layout.html", p); err != nil {
		s.log.Error("review page: render", "page", name, "error", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprint(w, b.String())
}

// fail shows an error page.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, u *reviewdb.User, status int, msg string) {
	s.render(w, r, status, "error", page{Title: http.StatusText(status), User: u, Data: msg})
}

// failErr shows an error page for err: not found is 404, a refusal 403,
// anything else is logged and 500.
func (s *Server) failErr(w http.ResponseWriter, r *http.Request, u *reviewdb.User, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.fail(w, r, u, http.StatusNotFound, err.Error())
	case errors.Is(err, review.ErrForbidden):
		s.fail(w, r, u, http.StatusForbidden, err.Error())
	case errors.Is(err, context.Canceled):
	default:
		s.log.Error("review page", "path", r.URL.Path, "error", err)
		s.fail(w, r, u, http.StatusInternalServerError, "Something went wrong; the server's log says what.")
	}
}

// setFlash leaves a message for the next page the browser loads.
func (s *Server) setFlash(w http.ResponseWriter, r *http.Request, text string, isErr bool) {
	v := "i"
	if isErr {
		v = "e"
	}
	http.SetCookie(w, s.cookie(r, flashCookie, v+encodeCookie(text), time.Time{}, 60))
}

func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request) flash {
	c, err := r.Cookie(flashCookie)
	if err != nil || len(c.Value) < 1 {
		return flash{}
	}
	http.SetCookie(w, s.cookie(r, flashCookie, "", time.Time{}, -1))
	text, err := decodeCookie(c.Value[1:])
	if err != nil {
		return flash{}
	}
	return flash{Text: text, Error: c.Value[0] == 'e'}
}

// localPath returns p if it is a path on this site, else "/": redirects
// never leave the site.
func localPath(p string) string {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsRune(p, '\\') {
		return "/"
	}
	for _, r := range p {
		// Browsers drop tabs and newlines from URLs: "/\t/evil" is "//evil".
		if r < 0x20 || r == 0x7f {
			return "/"
		}
	}
	return p
}

// rule finds a proposal's rule in the loaded rulesets, or nil.
func (s *Server) rules() map[string]*rules.Rule {
	sets, err := s.cfg.Rulesets()
	if err != nil {
		s.log.Warn("review page: some rulesets did not load", "error", err)
	}
	out := map[string]*rules.Rule{}
	for _, rs := range sets {
		for _, r := range rs.Rules {
			out[rs.Name+"/"+r.ID] = r
		}
	}
	return out
}
