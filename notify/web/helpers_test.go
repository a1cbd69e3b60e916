package web_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func httptestRequest(method, path string, form url.Values) *http.Request {
	req := httptest.NewRequest(method, "http://review.test"+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func serve(f *fixture, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec
}

// mustFlash returns the message a response leaves for the next page.
func mustFlash(t testing.TB, rec *httptest.ResponseRecorder) string {
	t.Helper()
	for _, c := range rec.Result().Cookies() {
		if c.Name == "goodturn_flash" && len(c.Value) > 1 {
			b, err := base64.RawURLEncoding.DecodeString(c.Value[1:])
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	return ""
}
