package web_test

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/notify/review"
	"github.com/goodturn/goodturn/notify/web"
	"github.com/goodturn/goodturn/rules"
)

// TestPagesNeverExpire shows the batches, a batch and a proposal a month
// after the run, when every pending proposal is overdue: the pages say so
// and expire nothing.
func TestPagesNeverExpire(t *testing.T) {
	f := newFixture(t, dbtest.SQLiteDSN(t))
	late := clock.AddDate(0, 1, 0)
	svc := review.New(f.db, review.Config{Now: func() time.Time { return late }})
	sets, err := rules.LoadAll("../../rulesets")
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	f.srv, err = web.New(web.Config{DB: f.db, Billing: &billing.Reader{DB: f.db}, Review: svc, Logger: slog.New(slog.DiscardHandler),
		Rulesets: func() ([]*rules.Ruleset, error) { return sets, nil }})
	if err != nil {
		t.Fatal(err)
	}
	cookie := f.login(t, "ana")
	pending := f.pending(t)
	if pending == 0 {
		t.Fatal("nothing pending")
	}
	for _, path := range []string{"/", "/batches/" + f.batch, "/proposals/" + strconv.FormatInt(f.script, 10), "/?all=1"} {
		rec := f.request(t, http.MethodGet, path, nil, cookie)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, rec.Code, rec.Body)
		}
		if got := f.pending(t); got != pending {
			t.Fatalf("GET %s: %d pending, was %d", path, got, pending)
		}
		if strings.HasPrefix(path, "/proposals/") && !strings.Contains(rec.Body.String(), "· account AC-") {
			t.Errorf("GET %s does not show the account number", path)
		}
		if path == "/" && !strings.Contains(rec.Body.String(), "about to expire") {
			t.Errorf("GET / does not say what would expire:\n%s", rec.Body)
		}
	}
}
