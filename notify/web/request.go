package web

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxBody is the largest request body the page reads, in bytes: its forms
// are a few fields and a comment of at most 4000 bytes. A larger body is
// refused with 413 after at most this much of it is read.
const MaxBody = 64 << 10

// bounded reads every request's form before h sees it: a body larger than
// MaxBody is refused with 413 without being read in full, and a form field
// (of the body or the query) or a path with a NUL byte or bytes that are
// not UTF-8 is refused with 400, before it can reach the database (which,
// on PostgreSQL, refuses such text).
func bounded(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBody {
			tooLarge(w)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		if err := r.ParseForm(); err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				tooLarge(w)
				return
			}
			http.Error(w, "the form could not be read", http.StatusBadRequest)
			return
		}
		if !cleanText(r.URL.Path) {
			http.Error(w, "the address holds a NUL byte or is not UTF-8", http.StatusBadRequest)
			return
		}
		for k, vs := range r.Form {
			ok := cleanText(k)
			for _, v := range vs {
				ok = ok && cleanText(v)
			}
			if !ok {
				http.Error(w, "a form field holds a NUL byte or is not UTF-8", http.StatusBadRequest)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

func tooLarge(w http.ResponseWriter) {
	// The rest of the body is not read: the connection ends with the answer.
	w.Header().Set("Connection", "close")
	http.Error(w, "the request is too large", http.StatusRequestEntityTooLarge)
}

// cleanText reports whether s is UTF-8 without NUL bytes, as a database
// column of text takes it.
func cleanText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// clientAddr is the address of the client a request comes from, for the
// login throttle and the audit log: the connection's peer, or behind a
// trusted proxy (Config.TrustProxy) the last address of X-Forwarded-For,
// the one the proxy added (those before it are the client's word).
func (s *Server) clientAddr(r *http.Request) string {
	if s.cfg.TrustProxy {
		if a, err := netip.ParseAddr(lastValue(r.Header.Values("X-Forwarded-For"))); err == nil {
			return a.Unmap().String()
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// secure reports whether the browser reached the page over TLS: the
// connection is TLS, or a trusted proxy says X-Forwarded-Proto: https.
func (s *Server) secure(r *http.Request) bool {
	return r.TLS != nil || s.cfg.TrustProxy && strings.EqualFold(lastValue(r.Header.Values("X-Forwarded-Proto")), "https")
}

// lastValue is the last comma-separated value of a header's lines.
func lastValue(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	v := lines[len(lines)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

// cookie is one of the page's cookies: HttpOnly, SameSite=Lax, for the
// whole site, and Secure when the page is reached over TLS. maxAge < 0
// deletes it.
func (s *Server) cookie(r *http.Request, name, value string, expires time.Time, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", Expires: expires, MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secure(r)}
}
