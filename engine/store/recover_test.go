package store_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/queue"
	"github.com/goodturn/goodturn/engine/store"
)

// workArgs is a job of the recovery tests; nothing works it.
type workArgs struct{}

func (workArgs) Kind() string { return "work" }

// insertTagged inserts a job with a tag and returns its client and id.
func insertTagged(t *testing.T, db *database.DB, tag string, opts *river.InsertOpts) (*queue.Client, int64) {
	t.Helper()
	client, err := queue.NewClient(db, queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if opts == nil {
		opts = &river.InsertOpts{}
	}
	opts.Tags = []string{tag}
	res, err := client.Insert(context.Background(), workArgs{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return client, res.Job.ID
}

// runWithProposals records a running run of a ruleset whose last heartbeat
// was at beat, with a pending proposal to each customer.
func runWithProposals(t *testing.T, db *database.DB, ruleset string, beat time.Time, customers ...int64) *store.Run {
	t.Helper()
	ctx := context.Background()
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	r := &store.Run{Ruleset: ruleset, AsOf: day, StartedAt: day.Add(2 * time.Hour), HeartbeatAt: beat}
	if err := store.CreateRun(ctx, db, r); err != nil {
		t.Fatal(err)
	}
	var ps []store.Proposal
	for _, c := range customers {
		ps = append(ps, store.Proposal{RunID: r.ID, Ruleset: ruleset, RuleID: "cheaper-plan", RuleVersion: "v1", CustomerID: c,
			Kind: "cheaper_plan", Value: 1200, Currency: "GBP", Offer: json.RawMessage(`{}`), Evidence: json.RawMessage(`{}`),
			AsOf: day, CreatedAt: r.StartedAt})
	}
	if _, err := store.InsertProposals(ctx, db, ps); err != nil {
		t.Fatal(err)
	}
	return r
}

// customersOf returns the customers of the proposals still in proposals
// of a run.
func customersOf(t *testing.T, db *database.DB, runID int64) []int64 {
	t.Helper()
	ps, err := store.ListProposals(context.Background(), db, store.ProposalFilter{RunID: runID})
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, p := range ps {
		out = append(out, p.CustomerID)
	}
	return out
}

// A run still recorded as running is abandoned only when its heartbeat is
// stale, no process keeps it alive, it is not part of an unfinished
// sharded job and (on PostgreSQL) nobody else holds its ruleset's run
// lock; its proposals are then withdrawn and hold nobody back.
func TestAbandonDeadRuns(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		now := time.Now()
		stale, fresh := now.Add(-store.StaleAfter-time.Second), now.Add(-store.StaleAfter/2)
		tests := []struct {
			name string
			// prepare may hold the run alive or locked; it returns a
			// function that lets go.
			prepare  func(t *testing.T, db *database.DB, r *store.Run) func()
			beat     time.Time
			postgres bool
			dead     bool
		}{
			{name: "stale heartbeat", beat: stale, dead: true},
			{name: "fresh heartbeat", beat: fresh},
			{name: "no heartbeat at all", dead: true, prepare: func(t *testing.T, db *database.DB, r *store.Run) func() {
				if _, err := db.Exec(`UPDATE runs SET heartbeat_at = NULL WHERE id = ` + itoa(r.ID)); err != nil {
					t.Fatal(err)
				}
				return func() {}
			}},
			{name: "kept alive by this process", beat: stale, prepare: func(t *testing.T, db *database.DB, r *store.Run) func() {
				return store.KeepAlive(db, []int64{r.ID}, time.Hour, nil, nil)
			}},
			{name: "run lock held through this pool", beat: stale, dead: true, prepare: func(t *testing.T, db *database.DB, r *store.Run) func() {
				l, ok, err := store.TryLockRuleset(ctx, db, r.Ruleset)
				if err != nil || !ok {
					t.Fatalf("lock: %v %v", ok, err)
				}
				return func() { l.Unlock() }
			}},
			{name: "run lock held by another process or pool", beat: stale, postgres: true, prepare: func(t *testing.T, db *database.DB, r *store.Run) func() {
				l, ok, err := store.TryLockRuleset(ctx, dbtest.MustOpenMigrated(t, dsn), r.Ruleset)
				if err != nil || !ok {
					t.Fatalf("lock: %v %v", ok, err)
				}
				return func() { l.Unlock() }
			}},
			{name: "run with an unfinished job", beat: stale, prepare: func(t *testing.T, db *database.DB, r *store.Run) func() {
				insertTagged(t, db, store.RunTag(r.ID), nil)
				return func() {}
			}},
			{name: "run whose only job was cancelled", beat: stale, dead: true, prepare: func(t *testing.T, db *database.DB, r *store.Run) func() {
				client, id := insertTagged(t, db, store.RunTag(r.ID), &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
				if _, err := client.JobCancel(ctx, id); err != nil {
					t.Fatal(err)
				}
				return func() {}
			}},
			{name: "run with another run's job", beat: stale, dead: true, prepare: func(t *testing.T, db *database.DB, r *store.Run) func() {
				insertTagged(t, db, store.RunTag(r.ID+1_000_000), nil)
				return func() {}
			}},
		}
		for _, tt := range tests {
			t.Run(strings.ReplaceAll(tt.name, " ", "_"), func(t *testing.T) {
				db := dbtest.MustOpenMigrated(t, dsn)
				if tt.postgres && !db.IsPostgres() {
					t.Skip("PostgreSQL only")
				}
				// Each case has a ruleset of its own: the databases of a
				// dialect are shared by the cases.
				ruleset := strings.ReplaceAll(tt.name, " ", "-")
				r := runWithProposals(t, db, ruleset, tt.beat, 1, 2, 3)
				release := func() {}
				if tt.prepare != nil {
					release = tt.prepare(t, db, r)
				}
				defer release()

				shown, err := store.DeadRuns(ctx, db, []string{ruleset}, now, store.StaleAfter)
				if err != nil {
					t.Fatal(err)
				}
				if got := len(shown) == 1 && shown[0].ID == r.ID; got != tt.dead && !strings.Contains(tt.name, "this pool") {
					// (A lock held through this pool shows as held to
					// DeadRuns, which cannot tell whose it is.)
					t.Errorf("DeadRuns shows run as dead: %v, want %v", got, tt.dead)
				}
				if got, _ := store.GetRun(ctx, db, r.ID); got.Status != store.RunRunning {
					t.Fatalf("DeadRuns wrote: status %s", got.Status)
				}

				abandoned, err := store.AbandonDeadRuns(ctx, db, []string{ruleset}, now, store.StaleAfter)
				if err != nil {
					t.Fatal(err)
				}
				if got := len(abandoned) == 1 && abandoned[0].ID == r.ID; got != tt.dead {
					t.Fatalf("abandoned: %v, want %v", got, tt.dead)
				}
				got, err := store.GetRun(ctx, db, r.ID)
				if err != nil {
					t.Fatal(err)
				}
				withdrawn, reason, err := store.WithdrawnProposals(ctx, db, r.ID)
				if err != nil {
					t.Fatal(err)
				}
				var held []store.ProposalKey
				if err := store.RecentProposals(ctx, db, store.RecentQuery{Ruleset: ruleset, Since: r.AsOf}, func(k store.ProposalKey) error {
					held = append(held, k)
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if !tt.dead {
					if got.Status != store.RunRunning || len(withdrawn) != 0 || len(held) != 3 {
						t.Errorf("live run: status %s, %d withdrawn, %d holding back; want running, 0, 3", got.Status, len(withdrawn), len(held))
					}
					return
				}
				if got.Status != store.RunFailed || !strings.HasPrefix(got.Error, "abandoned: no heartbeat since ") || got.FinishedAt.IsZero() {
					t.Errorf("dead run: status %s, error %q, finished %v", got.Status, got.Error, got.FinishedAt)
				}
				if len(withdrawn) != 3 || withdrawn[0].Status != store.ProposalPending || !strings.Contains(reason, got.Error) {
					t.Errorf("withdrawn: %d proposals, first %+v, reason %q", len(withdrawn), withdrawn, reason)
				}
				if left := customersOf(t, db, r.ID); len(left) != 0 || len(held) != 0 {
					t.Errorf("after withdrawal: %d proposals left, %d holding back", len(left), len(held))
				}
				audit, err := store.ListAudit(ctx, db, store.AuditFilter{})
				if err != nil || len(audit) == 0 || audit[0].Action != "abandon_run" || audit[0].Subject != "run "+itoa(r.ID) {
					t.Errorf("audit = %+v, %v", audit, err)
				}
				// Done once: a second look finds nothing.
				if again, err := store.AbandonDeadRuns(ctx, db, []string{ruleset}, now, store.StaleAfter); err != nil || len(again) != 0 {
					t.Errorf("second AbandonDeadRuns = %v, %v", again, err)
				}
			})
		}
	})
}

// A run that fails withdraws the proposals it wrote, and only those: the
// frequency cap and the cooldowns no longer see them, and the day's
// unique key is free for the next run.
func TestFailedRunWithdrawsItsProposals(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.MustOpenMigrated(t, dsn)
		other := runWithProposals(t, db, "mobile", time.Now(), 7)
		other.Status, other.FinishedAt = store.RunSucceeded, other.StartedAt.Add(time.Minute)
		if err := store.FinishRun(ctx, db, other); err != nil {
			t.Fatal(err)
		}
		r := runWithProposals(t, db, "broadband", time.Now(), 1, 2, 7)
		r.Status, r.FinishedAt, r.Error = store.RunFailed, r.StartedAt.Add(time.Minute), "read billing: connection reset"
		if err := store.FinishRun(ctx, db, r); err != nil {
			t.Fatal(err)
		}
		withdrawn, reason, err := store.WithdrawnProposals(ctx, db, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		var customers []int64
		for _, p := range withdrawn {
			customers = append(customers, p.CustomerID)
		}
		if !reflect.DeepEqual(customers, []int64{1, 2, 7}) || reason != "run "+itoa(r.ID)+" failed: read billing: connection reset" {
			t.Errorf("withdrawn customers %v, reason %q", customers, reason)
		}
		if left := customersOf(t, db, r.ID); len(left) != 0 {
			t.Errorf("failed run keeps proposals to %v", left)
		}
		if kept := customersOf(t, db, other.ID); !reflect.DeepEqual(kept, []int64{7}) {
			t.Errorf("the other run's proposals: %v, want customer 7", kept)
		}
		contacts, err := store.RecentContacts(ctx, db, r.AsOf, func(string, string) string { return "marketing" })
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(contacts, map[int64]int{7: 1}) {
			t.Errorf("recent contacts = %v, want customer 7 once", contacts)
		}
		// The day's key is free again: the next run proposes the same.
		again := runWithProposals(t, db, "broadband", time.Now(), 1, 2, 7)
		if got := customersOf(t, db, again.ID); !reflect.DeepEqual(got, []int64{1, 2, 7}) {
			t.Errorf("next run proposed to %v, want 1, 2, 7", got)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Reset starts afresh after a run that failed: its withdrawn proposals go
// with it.
func TestResetAfterFailedRun(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.MustOpenMigrated(t, dsn)
		r := runWithProposals(t, db, "broadband", time.Now(), 1, 2)
		r.Status, r.FinishedAt, r.Error = store.RunFailed, r.StartedAt.Add(time.Minute), "read billing: connection reset"
		if err := store.FinishRun(ctx, db, r); err != nil {
			t.Fatal(err)
		}
		if err := store.Reset(ctx, db); err != nil {
			t.Fatalf("Reset after a failed run: %v", err)
		}
		for _, table := range []string{"runs", "proposals", "withdrawn_proposals"} {
			var n int
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil || n != 0 {
				t.Errorf("%s after Reset: %d rows, %v", table, n, err)
			}
		}
	})
}

// Proposals written to a run after it failed (by a shard still evaluating
// when the run was given up) are withdrawn as its others were; a run that
// has not failed keeps its proposals.
func TestWithdrawLate(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.MustOpenMigrated(t, dsn)
		live := runWithProposals(t, db, "broadband", time.Now(), 4)
		r := runWithProposals(t, db, "mobile", time.Now(), 1)
		r.Status, r.FinishedAt, r.Error = store.RunFailed, r.StartedAt.Add(time.Minute), "shard 2: read billing: connection reset"
		if err := store.FinishRun(ctx, db, r); err != nil {
			t.Fatal(err)
		}
		late := []store.Proposal{{RunID: r.ID, Ruleset: "mobile", RuleID: "cheaper-plan", RuleVersion: "v1", CustomerID: 9,
			Kind: "cheaper_plan", Value: 600, Currency: "GBP", Offer: json.RawMessage(`{}`), Evidence: json.RawMessage(`{}`),
			AsOf: r.AsOf, CreatedAt: r.StartedAt}}
		if _, err := store.InsertProposals(ctx, db, late); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			run  *store.Run
			want int64
		}{{live, 0}, {r, 1}, {r, 0}} {
			n, err := store.WithdrawLate(ctx, db, tc.run.ID, time.Now())
			if err != nil || n != tc.want {
				t.Errorf("WithdrawLate(run %d) = %d, %v; want %d", tc.run.ID, n, err, tc.want)
			}
		}
		if left := customersOf(t, db, r.ID); len(left) != 0 {
			t.Errorf("the failed run keeps proposals to %v", left)
		}
		if kept := customersOf(t, db, live.ID); !reflect.DeepEqual(kept, []int64{4}) {
			t.Errorf("the running run's proposals: %v, want customer 4", kept)
		}
		withdrawn, reason, err := store.WithdrawnProposals(ctx, db, r.ID)
		if err != nil || len(withdrawn) != 2 || reason != "run "+itoa(r.ID)+" failed: shard 2: read billing: connection reset" {
			t.Errorf("withdrawn %d proposals, reason %q, %v", len(withdrawn), reason, err)
		}
	})
}
