package web_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

// chromium is Debian's browser, which .ci/run installs.
const chromium = "/usr/bin/chromium"

// TestBrowser drives the review page in a headless chromium: a reviewer
// logs in, opens a batch and a proposal's evidence and approves the batch;
// a viewer's approve is refused; a customer named <script>alert(1)</script>
// is shown as text and no dialog ever opens.
func TestBrowser(t *testing.T) {
	needBrowser(t)
	f := newFixture(t, dbtest.SQLiteDSN(t))
	srv := httptest.NewServer(f.srv)
	defer srv.Close()
	ctx := context.Background()
	other := f.otherBatch(t)

	bctx := newBrowser(t, 1280, 900)
	var dialogs atomic.Int32
	// Listen starts the browser; a dialog is counted and dismissed.
	if err := chromedp.Listen(bctx, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			dialogs.Add(1)
			t.Errorf("a JavaScript dialog opened: %s %q", d.Type, d.Message)
			go chromedp.Call(bctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	login := loginAs
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll(`+strconv.Quote(sel)+`).length`))
		if err != nil {
			t.Fatalf("count %s: %v", sel, err)
		}
		return n
	}
	batchURL := srv.URL + "/batches/" + f.batch
	proposalLink := fmt.Sprintf(`a[href="/proposals/%d"]`, f.script)

	// A reviewer: the batch page asks for a login first, then opens.
	if err := chromedp.Do(bctx,
		chromedp.Navigate(batchURL),
		login("ana"),
		chromedp.WaitVisible(chromedp.CSS(`section.proposals`)),
	); err != nil {
		t.Fatalf("reviewer opens a batch: %v", err)
	}
	if batchText := text(`section.batch`); !strings.Contains(batchText, "A cheaper plan that fits") || !strings.Contains(batchText, "customers pending") {
		t.Errorf("batch page:\n%s", batchText)
	}
	if name := text(`table.list td:nth-child(2) ` + proposalLink); name != scriptName {
		t.Errorf("the customer's name shows as %q, want the text %q", name, scriptName)
	}

	// The proposal's evidence.
	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`table.list `+proposalLink)),
		chromedp.WaitVisible(chromedp.CSS(`#evidence ol.checklist`)),
	); err != nil {
		t.Fatalf("reviewer opens a proposal: %v", err)
	}
	evidence := text(`#evidence`)
	for _, want := range []string{"What the rule worked out", "min monthly saving", "✓", "Facts read", "plan: monthly price"} {
		if !strings.Contains(strings.ToLower(evidence), strings.ToLower(want)) {
			t.Errorf("evidence lacks %q:\n%s", want, evidence)
		}
	}
	if usage := text(`figure.usage`); !strings.Contains(usage, "Data each month") || !strings.Contains(usage, "offered:") {
		t.Errorf("usage chart:\n%s", usage)
	}
	if h1 := text(`h1`); !strings.Contains(h1, scriptName) {
		t.Errorf("proposal title %q lacks the customer's name as text", h1)
	}
	if n := count(`script:not([src])`); n != 0 {
		t.Errorf("%d inline scripts on the proposal page", n)
	}

	// Approve the whole batch, with a comment.
	pending := f.pending(t)
	if err := chromedp.Do(bctx,
		chromedp.Navigate(batchURL),
		chromedp.WaitVisible(chromedp.CSS(`section.batch form.decide input[name=comment]`)),
		chromedp.SendKeys(chromedp.CSS(`section.batch form.decide input[name=comment]`), "looked at the top ten"),
		chromedp.Click(chromedp.CSS(`section.batch form.decide button.approve`)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	); err != nil {
		t.Fatalf("reviewer approves the batch: %v", err)
	}
	if flash, want := text(`p.flash`), fmt.Sprintf("Approved %d proposals of batch %s.", pending, f.batch); flash != want {
		t.Errorf("after approving: %q, want %q", flash, want)
	}
	if n := f.pending(t); n != 0 {
		t.Errorf("%d proposals still pending", n)
	}
	es, _ := store.ListAudit(ctx, f.db, store.AuditFilter{Action: "approve"})
	if len(es) != 1 || es[0].Actor != "ana" || es[0].Comment != "looked at the top ten" {
		t.Errorf("audit: %+v", es)
	}

	// A viewer: no buttons, and an approve posted from the page anyway is
	// refused.
	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`form.who button`)),
		login("vic"),
		chromedp.WaitVisible(chromedp.CSS(`section.batch`)),
		chromedp.Navigate(srv.URL+"/batches/"+other.Key()),
		chromedp.WaitVisible(chromedp.CSS(`section.proposals`)),
	); err != nil {
		t.Fatalf("viewer: %v", err)
	}
	if n := count(`button[value=approve]`); n != 0 {
		t.Errorf("a viewer sees %d approve buttons", n)
	}
	status, err := chromedp.Run(bctx, chromedp.Evaluate[int](`fetch('/decide', {method: 'POST', body: new URLSearchParams({action: 'approve', target: '`+other.Key()+`', back: '/'})}).then(r => r.status)`,
		chromedp.EvalAwaitPromise))
	if err != nil || status != 403 {
		t.Errorf("a viewer's approve: status %d (%v), want 403", status, err)
	}
	b, err := reviewdb.GetBatch(ctx, f.db, other.RunID, other.RuleID)
	if err != nil || b.Pending != other.Pending {
		t.Errorf("the viewer's approve changed batch %s: %+v %v", other.Key(), b, err)
	}
	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`nav a[href="/outcomes"]`)),
		chromedp.WaitVisible(chromedp.CSS(`section.outcomes article.outcome table`)),
	); err != nil {
		t.Fatalf("outcomes page: %v", err)
	}
	heading, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('section.outcomes article.outcome h2').textContent`))
	if err != nil {
		t.Fatalf("outcomes page: %v", err)
	}
	if !strings.Contains(heading, "/") {
		t.Errorf("the outcomes page's first rule is %q, want RULESET/RULE", heading)
	}
	if n := dialogs.Load(); n != 0 {
		t.Errorf("%d dialogs opened", n)
	}
}

// needBrowser skips a test when there is no chromium or in -short mode.
func needBrowser(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Skip("browser test skipped: no " + chromium + " (apt-get install chromium)")
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
}

// newBrowser starts a headless chromium with a window of w×h pixels and
// returns its context, which ends with the test or after two minutes.
func newBrowser(t *testing.T, w, h int) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(w, h),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	bctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	t.Cleanup(cancel)
	return bctx
}

// loginAs fills in and submits the login form.
func loginAs(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("password")),
	)
}
