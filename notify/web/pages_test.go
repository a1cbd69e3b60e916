package web_test

import (
	"context"
	_ "embed"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/outbox/outboxdb"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

// axeSource is axe-core 4.14.1 (https://github.com/dequelabs/axe-core),
// licensed under the Mozilla Public License 2.0 as the notice at the top
// of testdata/axe.min.js says; it is vendored unchanged so the test needs
// no network and no npm.
//
//go:embed testdata/axe.min.js
var axeSource string

// axeRun runs axe-core on the page and returns its serious and critical
// violations, one line each with the elements concerned.
const axeRun = `axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
	.filter(v => v.impact === 'serious' || v.impact === 'critical')
	.map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')))`

// TestEveryPageOnEveryScreen opens every page of the review page at 1400
// and 400 pixels wide in chromium, after a batch was approved and some of
// its messages sent and one given up on: no page scrolls sideways, axe-core
// finds no serious or critical accessibility violation, and the decided
// batch tells who approved it and what was sent since. With
// GOODTURN_SCREENSHOTS=1 it saves each page's screenshot, desktop and
// phone, to docs/screenshots/.
func TestEveryPageOnEveryScreen(t *testing.T) {
	needBrowser(t)
	f := newFixture(t, dbtest.SQLiteDSN(t))
	ctx := context.Background()
	held := f.heldBatch(t)

	// ana approves the cheaper-plan batch; two of its messages are sent
	// and one is dead.
	ana := f.login(t, "ana")
	rec := f.request(t, http.MethodPost, "/decide", url.Values{"target": {f.batch}, "action": {"approve"}, "back": {"/"},
		"comment": {"checked with billing"}}, ana)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("approve: %d", rec.Code)
	}
	run, rule, _ := store.ParseBatchKey(f.batch)
	ps, _, err := reviewdb.BatchProposals(ctx, f.db, run, rule, reviewdb.ProposalPage{Status: store.ProposalApproved, Limit: 3})
	if err != nil || len(ps) < 3 {
		t.Fatalf("approved proposals: %d %v", len(ps), err)
	}
	now := time.Now()
	var out []outboxdb.Message
	for i, st := range []string{outboxdb.Sent, outboxdb.Sent, outboxdb.Dead} {
		m := outboxdb.Message{Key: fmt.Sprintf("proposal-%d-email", ps[i].ID), ProposalID: ps[i].ID, CustomerID: ps[i].CustomerID,
			Channel: "email", Recipient: fmt.Sprintf("c%d@example.com", ps[i].CustomerID), RecipientName: "A customer", Status: st,
			CreatedAt: now, Subject: "A cheaper plan", Text: "Hello"}
		if st == outboxdb.Dead {
			m.Attempts, m.LastError = 8, "550 5.1.1 mailbox unavailable"
		}
		out = append(out, m)
	}
	if _, err := outboxdb.Enqueue(ctx, f.db, out); err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewServer(f.srv)
	defer srv.Close()
	// The outcomes page is another sample's, whose rules ran 120 days ago.
	outcomesSrv := httptest.NewServer(newOutcomesFixture(t, dbtest.SQLiteDSN(t)).srv)
	defer outcomesSrv.Close()
	bctx := newBrowser(t, 1400, 900)
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/login")); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	pages := []struct {
		name, path, ready string
		// want is text the page must show.
		want []string
		// srv serves the page, when it is not srv.
		srv *httptest.Server
	}{
		{"login", "/login", "form input#password", []string{"Log in to review"}, nil},
		{"batches", "/?all=1", "section.batch", []string{"A cheaper plan that fits", "most valuable", "least valuable", "chosen at random"}, nil},
		{"batch", "/batches/" + f.batch, "section.proposals", []string{"customers approved", "by ana", "2 sent", "1 dead", "approved"}, nil},
		{"batch-pending", "/batches/" + held.Key(), "section.proposals", []string{"customers pending", "Held back by the run"}, nil},
		{"proposal", fmt.Sprintf("/proposals/%d", f.script), "#evidence ol.checklist", []string{"From", "Subject", "segment", "decided by", "The least they would have saved in any one of those months."}, nil},
		{"audit", "/audit", "ol.audit", []string{"ana approved", "of " + f.batch + ": 'checked with billing'"}, nil},
		{"dead", "/dead", "table.dead", []string{"550 5.1.1 mailbox unavailable", "Retry"}, nil},
		// Last: its login replaces the session of srv (cookies ignore ports).
		{"outcomes", "/outcomes", "section.outcomes svg.chart.line", []string{"Took the offer: share by week after the run", "Left: share by week after the run",
			"week 12", "uptake 90d", "churn 90d", "revenue 3 months", "The chart's figures"}, outcomesSrv},
	}
	for _, screen := range []struct {
		name string
		w, h int64
	}{{"desktop", 1400, 900}, {"phone", 400, 800}} {
		if err := chromedp.Do(bctx, chromedp.EmulateViewport(screen.w, screen.h)); err != nil {
			t.Fatal(err)
		}
		for _, p := range pages {
			t.Run(p.name+"/"+screen.name, func(t *testing.T) {
				base := srv.URL
				if p.srv != nil {
					base = p.srv.URL
				}
				steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(base + p.path)}
				switch p.name {
				case "login":
					if _, err := chromedp.Call(bctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
						t.Fatal(err)
					}
				case "batches", "outcomes":
					// Every page after the login page needs one (and each
					// server its own): bob, an admin, sees every button
					// there is.
					steps = append(steps, chromedp.Navigate(base+"/login?next="+url.QueryEscape(p.path)), loginAs("bob"))
				}
				steps = append(steps, chromedp.WaitVisible(chromedp.CSS(p.ready)))
				if err := chromedp.Do(bctx, steps...); err != nil {
					t.Fatalf("open %s: %v", p.path, err)
				}
				// Folded parts count: the samples are folded on the batches page.
				body, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.textContent`))
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range p.want {
					if !strings.Contains(body, w) {
						t.Errorf("%s lacks %q", p.path, w)
					}
				}
				widths, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
				if err != nil {
					t.Fatal(err)
				}
				if widths[0] > widths[1] {
					t.Errorf("%s is %d px wide in a %d px window: it scrolls sideways", p.path, widths[0], widths[1])
				}
				if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](axeSource+";true")); err != nil {
					t.Fatalf("load axe-core: %v", err)
				}
				violations, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](axeRun, chromedp.EvalAwaitPromise))
				if err != nil {
					t.Fatalf("axe-core: %v", err)
				}
				for _, v := range violations {
					t.Errorf("%s: %s", p.path, v)
				}
				saveScreenshot(t, bctx, p.name+"-"+screen.name+".png")
			})
		}
	}
}

// heldBatch returns a pending batch whose rule had matches held back in
// its run.
func (f *fixture) heldBatch(t testing.TB) reviewdb.Batch {
	t.Helper()
	ctx := context.Background()
	bs, err := reviewdb.ListBatches(ctx, f.db, reviewdb.BatchFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		held, err := store.Held(ctx, f.db, b.RunID)
		if err != nil {
			t.Fatal(err)
		}
		if b.Key() != f.batch && len(held[b.RuleID]) > 0 {
			return b
		}
	}
	t.Fatal("no other batch has matches held back")
	return reviewdb.Batch{}
}

// saveScreenshot saves the whole page as docs/screenshots/NAME when
// GOODTURN_SCREENSHOTS=1.
func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if os.Getenv("GOODTURN_SCREENSHOTS") != "1" {
		return
	}
	// Frames below the window are not painted in a whole-page screenshot:
	// make the window as tall as the page for the shot, and let the
	// emails' frames paint.
	size, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[window.innerWidth, window.innerHeight, document.documentElement.scrollHeight]`))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(size[0]), int64(size[2]))); err != nil {
		t.Fatal(err)
	}
	defer chromedp.Do(ctx, chromedp.EmulateViewport(int64(size[0]), int64(size[1])))
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`new Promise(r => setTimeout(() => r(true), 700))`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join("..", "..", "docs", "screenshots", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
}
