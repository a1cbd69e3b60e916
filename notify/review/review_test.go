package review_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/review"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

var day = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// fixture opens a migrated database with one run whose rule "big" made
// big proposals and rule "small" made small ones, and a reviewer, a second
// reviewer, a viewer and an admin (password "password-1").
type fixture struct {
	db                 *database.DB
	svc                *review.Service
	clock              time.Time
	run                int64
	ana, bea, vic, adm *reviewdb.User
	bigIDs, smallIDs   []int64
}

func newFixture(t *testing.T, dsn string, big, small int) *fixture {
	t.Helper()
	ctx := context.Background()
	db := dbtest.MustOpenMigrated(t, dsn)
	f := &fixture{db: db, clock: day}
	f.svc = review.New(db, review.Config{SecondReviewerAbove: 10, Now: func() time.Time { return f.clock }})
	r := &store.Run{Ruleset: "mobile", AsOf: day, StartedAt: day}
	if err := store.CreateRun(ctx, db, r); err != nil {
		t.Fatal(err)
	}
	f.run = r.ID
	var ps []store.Proposal
	for i := range big {
		ps = append(ps, proposal(r.ID, "big", int64(i+1), int64(100*(i+1))))
	}
	for i := range small {
		ps = append(ps, proposal(r.ID, "small", int64(i+1), int64(10*(i+1))))
	}
	if _, err := store.InsertProposals(ctx, db, ps); err != nil {
		t.Fatal(err)
	}
	// Only the proposals of a finished run may be reviewed.
	r.Status, r.FinishedAt = store.RunSucceeded, day
	if err := store.FinishRun(ctx, db, r); err != nil {
		t.Fatal(err)
	}
	for _, rule := range []string{"big", "small"} {
		list, err := store.ListProposals(ctx, db, store.ProposalFilter{RunID: r.ID, RuleID: rule})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range list {
			if rule == "big" {
				f.bigIDs = append(f.bigIDs, p.ID)
			} else {
				f.smallIDs = append(f.smallIDs, p.ID)
			}
		}
	}
	add := func(name, role string) *reviewdb.User {
		u, err := f.svc.AddUser(ctx, "test", name, role, "password-1")
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	f.ana, f.bea, f.vic, f.adm = add("ana", reviewdb.RoleReviewer), add("bea", reviewdb.RoleReviewer), add("vic", reviewdb.RoleViewer), add("adm", reviewdb.RoleAdmin)
	return f
}

func proposal(run int64, rule string, customer, value int64) store.Proposal {
	return store.Proposal{RunID: run, Ruleset: "mobile", RuleID: rule, RuleVersion: "v1", CustomerID: customer, Kind: "cheaper_plan",
		Value: value, Currency: "GBP", Offer: json.RawMessage(`{"plan_id":"sim-10"}`),
		Evidence: json.RawMessage(`{"values":[{"name":"monthly_saving","value":500}],"clauses":[{"clause":"x > 1","value":true,"evaluated":true}],"facts":[]}`),
		AsOf:     day, CreatedAt: day}
}

func (f *fixture) statuses(t *testing.T, ids []int64) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, id := range ids {
		p, err := reviewdb.GetProposal(context.Background(), f.db, id)
		if err != nil {
			t.Fatal(err)
		}
		out[p.Status]++
	}
	return out
}

func (f *fixture) audit(t *testing.T) []store.AuditEntry {
	t.Helper()
	es, err := store.ListAudit(context.Background(), f.db, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.AuditEntry
	for _, e := range es {
		if !strings.HasPrefix(e.Action, "user_") {
			out = append(out, e)
		}
	}
	return out
}

func TestBatchesAndDecisions(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn, 12, 5)

		bs, err := reviewdb.ListBatches(ctx, f.db, reviewdb.BatchFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(bs) != 2 || bs[0].RuleID != "big" || bs[0].Pending != 12 || bs[0].Value != 7800 || bs[0].Median != 650 ||
			bs[1].RuleID != "small" || bs[1].Pending != 5 || bs[1].Median != 30 || bs[1].Currency != "GBP" || bs[1].Kind != "cheaper_plan" {
			t.Fatalf("batches: %+v", bs)
		}
		if bs[0].Key() != "1/big" && !strings.HasSuffix(bs[0].Key(), "/big") {
			t.Errorf("key %q", bs[0].Key())
		}
		page, total, err := reviewdb.BatchProposals(ctx, f.db, f.run, "small", reviewdb.ProposalPage{Limit: 2, Offset: 1})
		if err != nil || total != 5 || len(page) != 2 || page[0].Value != 40 || page[1].Value != 30 {
			t.Fatalf("page: %v %d %+v", err, total, page)
		}
		page, total, err = reviewdb.BatchProposals(ctx, f.db, f.run, "small", reviewdb.ProposalPage{MinValue: 20, MaxValue: 40, Offset: 1})
		if err != nil || total != 3 || len(page) != 2 {
			t.Fatalf("value filter: %v %d %+v", err, total, page)
		}

		// A viewer cannot decide.
		small := reviewdb.Selection{RunID: f.run, RuleID: "small"}
		if _, err := f.svc.Approve(ctx, f.vic, small, ""); !errors.Is(err, review.ErrForbidden) || !strings.Contains(err.Error(), "viewer") {
			t.Fatalf("viewer approve: %v", err)
		}
		if _, err := f.svc.Reject(ctx, f.vic, reviewdb.Selection{ProposalID: f.smallIDs[0]}, ""); !errors.Is(err, review.ErrForbidden) {
			t.Fatalf("viewer reject: %v", err)
		}

		// Reject one proposal, then approve the batch: only pending ones change.
		out, err := f.svc.Reject(ctx, f.ana, reviewdb.Selection{ProposalID: f.smallIDs[0]}, "  wrong plan  ")
		if err != nil || out.Changed != 1 {
			t.Fatalf("reject one: %v %+v", err, out)
		}
		if _, err := f.svc.Reject(ctx, f.ana, reviewdb.Selection{ProposalID: f.smallIDs[0]}, ""); !errors.Is(err, review.ErrNotPending) ||
			!strings.Contains(err.Error(), "rejected by ana") {
			t.Fatalf("reject twice: %v", err)
		}
		f.clock = day.Add(time.Hour)
		out, err = f.svc.Approve(ctx, f.bea, small, "looks right")
		if err != nil || out.Changed != 4 || out.Awaiting || out.String() != "Approved 4 proposals of batch "+store.BatchKey(f.run, "small")+"." {
			t.Fatalf("approve batch: %v %+v %s", err, out, out)
		}
		if got := f.statuses(t, f.smallIDs); got["approved"] != 4 || got["rejected"] != 1 {
			t.Fatalf("statuses: %v", got)
		}
		p, _ := reviewdb.GetProposal(ctx, f.db, f.smallIDs[1])
		if p.DecidedBy != "bea" || !p.DecidedAt.Equal(day.Add(time.Hour)) {
			t.Errorf("decided: %q %v", p.DecidedBy, p.DecidedAt)
		}
		if _, err := f.svc.Approve(ctx, f.bea, small, ""); !errors.Is(err, review.ErrNotPending) {
			t.Fatalf("approve again: %v", err)
		}
		if _, err := f.svc.Approve(ctx, f.bea, reviewdb.Selection{RunID: f.run, RuleID: "nope"}, ""); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown batch: %v", err)
		}
		if _, err := f.svc.Approve(ctx, f.bea, reviewdb.Selection{ProposalID: 99999}, ""); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown proposal: %v", err)
		}
		es := f.audit(t)
		if len(es) != 2 || es[0].Actor != "bea" || es[0].Action != "approve" || es[0].Comment != "looks right" ||
			es[0].Subject != "batch "+store.BatchKey(f.run, "small") || !es[0].At.Equal(day.Add(time.Hour)) ||
			es[1].Actor != "ana" || es[1].Action != "reject" || es[1].Comment != "wrong plan" || es[1].Subject != "proposal "+itoa(f.smallIDs[0]) {
			t.Fatalf("audit: %+v", es)
		}
		var detail map[string]any
		if err := json.Unmarshal(es[0].Detail, &detail); err != nil || detail["changed"] != 4.0 {
			t.Errorf("detail %s: %v", es[0].Detail, err)
		}
		// Only the big batch is left to decide; --all lists both.
		if bs, _ := reviewdb.ListBatches(ctx, f.db, reviewdb.BatchFilter{}); len(bs) != 1 || bs[0].RuleID != "big" {
			t.Errorf("pending batches: %+v", bs)
		}
		if bs, _ := reviewdb.ListBatches(ctx, f.db, reviewdb.BatchFilter{All: true}); len(bs) != 2 || bs[1].Approved != 4 || bs[1].Rejected != 1 || bs[1].Pending != 0 {
			t.Errorf("all batches: %+v", bs)
		}
	})
}

func TestSecondReviewer(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn, 12, 0)
		big := reviewdb.Selection{RunID: f.run, RuleID: "big"}
		out, err := f.svc.Approve(ctx, f.ana, big, "first")
		if err != nil || !out.Awaiting || out.Changed != 0 || out.Pending != 12 || !strings.Contains(out.String(), "awaiting a second reviewer") {
			t.Fatalf("first approval: %v %+v", err, out)
		}
		if got := f.statuses(t, f.bigIDs); got["pending"] != 12 {
			t.Fatalf("after first approval: %v", got)
		}
		as, err := reviewdb.BatchApprovals(ctx, f.db, f.run, "big")
		if err != nil || len(as) != 1 || as[0].UserName != "ana" || as[0].Proposals != 12 {
			t.Fatalf("approvals: %v %+v", err, as)
		}
		if _, err := f.svc.Approve(ctx, f.ana, big, "again"); !errors.Is(err, review.ErrSameReviewer) {
			t.Fatalf("same reviewer twice: %v", err)
		}
		if got := f.statuses(t, f.bigIDs); got["pending"] != 12 {
			t.Fatalf("after same reviewer: %v", got)
		}
		out, err = f.svc.Approve(ctx, f.adm, big, "second")
		if err != nil || out.Awaiting || out.Changed != 12 {
			t.Fatalf("second approval: %v %+v", err, out)
		}
		if got := f.statuses(t, f.bigIDs); got["approved"] != 12 {
			t.Fatalf("after second approval: %v", got)
		}
		es := f.audit(t)
		if len(es) != 2 || es[1].Actor != "ana" || es[0].Actor != "adm" || !strings.Contains(string(es[1].Detail), "awaiting_second_reviewer") ||
			!strings.Contains(string(es[0].Detail), `"first_reviewer":"ana"`) {
			t.Fatalf("audit: %+v", es)
		}
	})
}

func TestSecondReviewerNotNeededForSmallBatchOrReject(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn, 12, 10)
		if out, err := f.svc.Approve(ctx, f.ana, reviewdb.Selection{RunID: f.run, RuleID: "small"}, ""); err != nil || out.Awaiting || out.Changed != 10 {
			t.Fatalf("10 proposals need one reviewer: %v %+v", err, out)
		}
		if out, err := f.svc.Reject(ctx, f.ana, reviewdb.Selection{RunID: f.run, RuleID: "big"}, "stale prices"); err != nil || out.Changed != 12 {
			t.Fatalf("reject big batch: %v %+v", err, out)
		}
	})
}

func TestExpire(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn, 3, 2)
		if _, err := f.svc.Approve(ctx, f.ana, reviewdb.Selection{ProposalID: f.bigIDs[0]}, ""); err != nil {
			t.Fatal(err)
		}
		f.clock = day.Add(14*24*time.Hour - time.Second)
		if n, err := f.svc.Expire(ctx); err != nil || n != 0 {
			t.Fatalf("expire before 14 days: %d %v", n, err)
		}
		f.clock = day.Add(14*24*time.Hour + time.Second)
		// Approving a stale proposal expires it first.
		if _, err := f.svc.Approve(ctx, f.ana, reviewdb.Selection{ProposalID: f.bigIDs[1]}, ""); !errors.Is(err, review.ErrNotPending) ||
			!strings.Contains(err.Error(), "expired by system") {
			t.Fatalf("approve stale: %v", err)
		}
		if got := f.statuses(t, append(f.bigIDs, f.smallIDs...)); got["expired"] != 4 || got["approved"] != 1 {
			t.Fatalf("statuses: %v", got)
		}
		if n, err := f.svc.Expire(ctx); err != nil || n != 0 {
			t.Fatalf("expire again: %d %v", n, err)
		}
		es := f.audit(t)
		if len(es) != 3 || es[0].Actor != "system" || es[0].Action != "expire" || es[1].Actor != "system" ||
			es[0].Subject != "batch "+store.BatchKey(f.run, "small") || !strings.Contains(string(es[0].Detail), `"expired":2`) {
			t.Fatalf("audit: %+v", es)
		}
	})
}

func TestUsersAndSessions(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn, 0, 0)
		if _, err := f.svc.AddUser(ctx, "test", "ana", reviewdb.RoleViewer, "password-2"); !errors.Is(err, store.ErrExists) {
			t.Fatalf("duplicate: %v", err)
		}
		if _, err := f.svc.AddUser(ctx, "test", "eve", "boss", "password-2"); err == nil {
			t.Fatal("unknown role accepted")
		}
		if _, err := f.svc.AddUser(ctx, "test", "eve", reviewdb.RoleViewer, "short"); err == nil {
			t.Fatal("short password accepted")
		}
		if _, err := f.svc.AddUser(ctx, "test", "<b>", reviewdb.RoleViewer, "password-2"); err == nil {
			t.Fatal("bad name accepted")
		}
		u, err := f.svc.Login(ctx, "ana", "password-1", "")
		if err != nil || u.Name != "ana" || u.Role != reviewdb.RoleReviewer {
			t.Fatalf("login: %v %+v", err, u)
		}
		for _, bad := range [][2]string{{"ana", "password-2"}, {"nobody", "password-1"}} {
			if _, err := f.svc.Login(ctx, bad[0], bad[1], ""); !errors.Is(err, review.ErrBadLogin) {
				t.Fatalf("login %v: %v", bad, err)
			}
		}
		token, exp, err := f.svc.StartSession(ctx, u, time.Hour)
		if err != nil || !exp.Equal(day.Add(time.Hour)) || len(token) < 40 {
			t.Fatalf("session: %v %v %q", err, exp, token)
		}
		if su, err := f.svc.SessionUser(ctx, token); err != nil || su.ID != u.ID {
			t.Fatalf("session user: %v %+v", err, su)
		}
		if _, err := f.svc.SessionUser(ctx, token+"x"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("wrong token: %v", err)
		}
		f.clock = day.Add(2 * time.Hour)
		if _, err := f.svc.SessionUser(ctx, token); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired session: %v", err)
		}
		token, _, _ = f.svc.StartSession(ctx, u, 0)
		if err := f.svc.SetDisabled(ctx, "adm", "ana", true); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SessionUser(ctx, token); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("disabled user's session: %v", err)
		}
		if _, err := f.svc.Login(ctx, "ana", "password-1", ""); !errors.Is(err, review.ErrBadLogin) {
			t.Fatalf("disabled login: %v", err)
		}
		if _, err := f.svc.Decider(ctx, "ana"); !errors.Is(err, review.ErrForbidden) {
			t.Fatalf("disabled decider: %v", err)
		}
		if _, err := f.svc.Decider(ctx, "vic"); !errors.Is(err, review.ErrForbidden) {
			t.Fatalf("viewer decider: %v", err)
		}
		if _, err := f.svc.Decider(ctx, "zed"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown decider: %v", err)
		}
		if err := f.svc.SetDisabled(ctx, "adm", "zed", true); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("disable unknown: %v", err)
		}
		users, err := reviewdb.ListUsers(ctx, f.db)
		if err != nil || len(users) != 4 || users[1].Name != "ana" || !users[1].Disabled {
			t.Fatalf("users: %v %+v", err, users)
		}
		es, _ := store.ListAudit(ctx, f.db, store.AuditFilter{Action: "login_failed"})
		if len(es) != 3 {
			t.Errorf("failed logins audited: %+v", es)
		}
	})
}

func TestPasswordHash(t *testing.T) {
	h, err := review.HashPassword("correct horse")
	if err != nil || !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q: %v", h, err)
	}
	if h2, _ := review.HashPassword("correct horse"); h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	if ok, err := review.VerifyPassword(h, "correct horse"); !ok || err != nil {
		t.Errorf("verify right password: %v %v", ok, err)
	}
	if ok, err := review.VerifyPassword(h, "correct horsf"); ok || err != nil {
		t.Errorf("verify wrong password: %v %v", ok, err)
	}
	if _, err := review.VerifyPassword("$2a$10$bcrypt", "x"); err == nil {
		t.Error("a malformed hash verified")
	}
	if _, err := review.HashPassword("short"); err == nil {
		t.Error("a short password hashed")
	}
}

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]reviewdb.Selection{"12": {ProposalID: 12}, "3/cheaper-plan": {RunID: 3, RuleID: "cheaper-plan"}} {
		if got, err := review.ParseTarget(in); err != nil || got != want {
			t.Errorf("ParseTarget(%q) = %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "x", "0", "3/", "/x", "x/y", "-1"} {
		if _, err := review.ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%q) accepted", bad)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestConcurrentDecisions(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn, 0, 8)
		small := reviewdb.Selection{RunID: f.run, RuleID: "small"}
		type result struct {
			out review.Outcome
			err error
		}
		results := make(chan result, 4)
		for i, u := range []*reviewdb.User{f.ana, f.bea, f.adm, f.ana} {
			go func() {
				var r result
				if i%2 == 0 {
					r.out, r.err = f.svc.Approve(ctx, u, small, "")
				} else {
					r.out, r.err = f.svc.Reject(ctx, u, small, "")
				}
				results <- r
			}()
		}
		var changed int64
		wins := 0
		for range 4 {
			r := <-results
			switch {
			case r.err == nil:
				wins++
				changed += r.out.Changed
			case !errors.Is(r.err, review.ErrNotPending):
				t.Errorf("concurrent decision: %v", r.err)
			}
		}
		if wins != 1 || changed != 8 {
			t.Fatalf("%d decisions won, %d proposals changed; want 1 and 8", wins, changed)
		}
		if es := f.audit(t); len(es) != 1 {
			t.Fatalf("audit: %+v", es)
		}
	})
}

// The proposals of a run still going are not offered for review, nor can
// they be decided: the run may yet hold a rule's proposals back.
func TestProposalsOfARunningRunCannotBeDecided(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn, 3, 0)
		if _, err := f.db.Exec(f.db.Rebind(`UPDATE runs SET status = 'running' WHERE id = ?`), f.run); err != nil {
			t.Fatal(err)
		}
		batches, err := reviewdb.ListBatches(ctx, f.db, reviewdb.BatchFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(batches) != 0 {
			t.Errorf("batches of a running run offered for review: %+v", batches)
		}
		if _, err := f.svc.Approve(ctx, f.ana, reviewdb.Selection{RunID: f.run, RuleID: "big"}, ""); err == nil {
			t.Error("approved the proposals of a running run")
		}
		if got := f.statuses(t, f.bigIDs); got["pending"] != 3 {
			t.Errorf("statuses: %v", got)
		}
	})
}

// TestTextThatCannotBeStored decides and logs in with a NUL byte or bytes
// that are not UTF-8 in a comment or a name: each is refused by name (a
// wrong login as ever) rather than failing in the database.
func TestTextThatCannotBeStored(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn, 0, 2)
		small := reviewdb.Selection{RunID: f.run, RuleID: "small"}
		for _, comment := range []string{"a\x00b", "a\x9bb"} {
			if _, err := f.svc.Reject(ctx, f.ana, small, comment); !errors.Is(err, review.ErrBadText) {
				t.Errorf("reject with comment %q: %v, want ErrBadText", comment, err)
			}
		}
		for _, name := range []string{"an\x00a", "an\x9ba"} {
			if _, err := f.svc.Decider(ctx, name); !errors.Is(err, review.ErrBadText) {
				t.Errorf("decider %q: %v, want ErrBadText", name, err)
			}
			if _, err := f.svc.Login(ctx, name, "password-1", ""); !errors.Is(err, review.ErrBadLogin) {
				t.Errorf("login as %q: %v, want ErrBadLogin", name, err)
			}
		}
		if got := f.statuses(t, f.smallIDs); got[store.ProposalPending] != 2 {
			t.Errorf("statuses after refused decisions: %v", got)
		}
	})
}

// TestSecondReviewerCountsEveryPath approves a large batch's proposals
// alone in every way there is: the batch and then its proposals one by
// one, or only one by one. None of it approves anything until a second
// person approves.
func TestSecondReviewerCountsEveryPath(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		// Both batches are large: 12 proposals each, above 10.
		f := newFixture(t, dsn, 12, 12)
		big := reviewdb.Selection{RunID: f.run, RuleID: "big"}
		if _, err := f.svc.Approve(ctx, f.ana, big, "first"); err != nil {
			t.Fatal(err)
		}
		for _, id := range f.bigIDs {
			if _, err := f.svc.Approve(ctx, f.ana, reviewdb.Selection{ProposalID: id}, ""); !errors.Is(err, review.ErrSameReviewer) {
				t.Fatalf("ana approving proposal %d of the batch she approved: %v, want ErrSameReviewer", id, err)
			}
		}
		if got := f.statuses(t, f.bigIDs); got["pending"] != 12 {
			t.Fatalf("one person approved proposals of a large batch: %v", got)
		}
		// A second person approves one proposal: only that one.
		out, err := f.svc.Approve(ctx, f.bea, reviewdb.Selection{ProposalID: f.bigIDs[0]}, "")
		if err != nil || out.Changed != 1 || out.Awaiting {
			t.Fatalf("second person on one proposal: %v %+v", err, out)
		}
		if got := f.statuses(t, f.bigIDs); got["pending"] != 11 || got["approved"] != 1 {
			t.Fatalf("after a second person approved one: %v", got)
		}

		// Without a batch approval: bea approves the proposals of the other
		// large batch one at a time.
		for _, id := range f.smallIDs {
			out, err := f.svc.Approve(ctx, f.bea, reviewdb.Selection{ProposalID: id}, "")
			if err != nil || !out.Awaiting || out.Changed != 0 {
				t.Fatalf("bea approving proposal %d alone: %v %+v", id, err, out)
			}
		}
		if got := f.statuses(t, f.smallIDs); got["pending"] != 12 {
			t.Fatalf("one person approved a large batch one by one: %v", got)
		}
		// Then ana approves the batch: the second person for all of them.
		out, err = f.svc.Approve(ctx, f.ana, reviewdb.Selection{RunID: f.run, RuleID: "small"}, "")
		if err != nil || out.Changed != 12 || out.Awaiting {
			t.Fatalf("second person on the batch: %v %+v", err, out)
		}
		if es := f.audit(t); !strings.Contains(string(es[0].Detail), `"first_reviewer":"bea"`) || !strings.Contains(string(es[0].Detail), `"source":"page"`) {
			t.Errorf("audit of the second approval: %s", es[0].Detail)
		}
	})
}

// TestSecondReviewerFromTheCommandLine checks that two --as names run by
// one operating system user are one person, and that the audit log says a
// decision came from the command line and who ran it.
func TestSecondReviewerFromTheCommandLine(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn, 12, 12)
		big := reviewdb.Selection{RunID: f.run, RuleID: "big"}
		cli := func(osUser string) review.Origin { return review.Origin{Source: reviewdb.SourceCLI, OSUser: osUser} }
		if out, err := f.svc.Decide(ctx, f.ana, review.ActionApprove, big, "", cli("ops")); err != nil || !out.Awaiting {
			t.Fatalf("first approval: %v %+v", err, out)
		}
		es := f.audit(t)
		if d := string(es[0].Detail); !strings.Contains(d, `"source":"cli"`) || !strings.Contains(d, `"os_user":"ops"`) {
			t.Errorf("audit of a command line approval: %s", d)
		}
		_, err := f.svc.Decide(ctx, f.bea, review.ActionApprove, big, "", cli("ops"))
		if !errors.Is(err, review.ErrSameReviewer) || !strings.Contains(err.Error(), `operating system user "ops"`) {
			t.Fatalf("second approval by the same OS user: %v, want ErrSameReviewer", err)
		}
		if _, err := f.svc.Decide(ctx, f.bea, review.ActionApprove, reviewdb.Selection{ProposalID: f.bigIDs[0]}, "", cli("ops")); !errors.Is(err, review.ErrSameReviewer) {
			t.Fatalf("second approval of one proposal by the same OS user: %v, want ErrSameReviewer", err)
		}
		if _, err := f.svc.Decide(ctx, f.ana, review.ActionApprove, big, "", cli("ana-os")); !errors.Is(err, review.ErrSameReviewer) {
			t.Fatalf("the same --as from another OS user: %v, want ErrSameReviewer", err)
		}
		if got := f.statuses(t, f.bigIDs); got["pending"] != 12 {
			t.Fatalf("after approvals that are not a second person's: %v", got)
		}
		out, err := f.svc.Decide(ctx, f.bea, review.ActionApprove, big, "", cli("bea-os"))
		if err != nil || out.Changed != 12 {
			t.Fatalf("second approval by another OS user: %v %+v", err, out)
		}
		// A command line approval seconded on the review page.
		small := reviewdb.Selection{RunID: f.run, RuleID: "small"}
		if _, err := f.svc.Decide(ctx, f.ana, review.ActionApprove, small, "", cli("ops")); err != nil {
			t.Fatal(err)
		}
		if out, err := f.svc.Approve(ctx, f.adm, small, ""); err != nil || out.Changed != 12 {
			t.Fatalf("page approval after a command line one: %v %+v", err, out)
		}
	})
}

// OnApprove runs in the decision's transaction, for approvals only: what
// it writes commits with the approval, and its error rolls the approval
// back. A first approval that awaits a second reviewer approves nothing
// and calls it not.
func TestOnApproveInTheDecisionsTransaction(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn, 12, 3)
		var calls []reviewdb.Selection
		fail := errors.New("the outbox is broken")
		f.svc.OnApprove = func(ctx context.Context, tx database.Querier, target reviewdb.Selection) error {
			calls = append(calls, target)
			// What the hook sees is the decision's, uncommitted.
			p, err := reviewdb.GetProposal(ctx, tx, f.smallIDs[0])
			if err != nil {
				return err
			}
			if p.Status != store.ProposalApproved {
				t.Errorf("the hook sees proposal %d %s", p.ID, p.Status)
			}
			return fail
		}
		small := reviewdb.Selection{RunID: f.run, RuleID: "small"}
		if _, err := f.svc.Approve(ctx, f.ana, small, ""); !errors.Is(err, fail) {
			t.Fatalf("approve with a failing hook: %v", err)
		}
		if st := f.statuses(t, f.smallIDs); st[store.ProposalPending] != 3 {
			t.Errorf("after the hook failed: %v, want all pending", st)
		}
		if es := f.audit(t); len(es) != 0 {
			t.Errorf("audited a decision that rolled back: %+v", es)
		}
		f.svc.OnApprove = func(ctx context.Context, tx database.Querier, target reviewdb.Selection) error {
			calls = append(calls, target)
			return nil
		}
		if _, err := f.svc.Approve(ctx, f.ana, small, ""); err != nil {
			t.Fatal(err)
		}
		if st := f.statuses(t, f.smallIDs); st[store.ProposalApproved] != 3 {
			t.Errorf("after approval: %v", st)
		}
		big := reviewdb.Selection{RunID: f.run, RuleID: "big"}
		if _, err := f.svc.Reject(ctx, f.ana, reviewdb.Selection{ProposalID: f.bigIDs[0]}, ""); err != nil {
			t.Fatal(err)
		}
		if out, err := f.svc.Approve(ctx, f.ana, big, ""); err != nil || !out.Awaiting {
			t.Fatalf("first of two approvals: %+v %v", out, err)
		}
		if out, err := f.svc.Approve(ctx, f.bea, big, ""); err != nil || out.Changed != 11 {
			t.Fatalf("second approval: %+v %v", out, err)
		}
		want := []reviewdb.Selection{small, small, big}
		if len(calls) != len(want) {
			t.Fatalf("OnApprove called for %v, want %v", calls, want)
		}
		for i := range want {
			if calls[i] != want[i] {
				t.Errorf("call %d: %v, want %v", i, calls[i], want[i])
			}
		}
	})
}
