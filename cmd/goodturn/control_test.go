package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/queue"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/outbox"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
	"github.com/goodturn/goodturn/rules"
)

// controlRulesets copies the shipped rulesets into a temporary folder with
// `control: 10%` added to every rule, and loads them.
func controlRulesets(t *testing.T) []*rules.Ruleset {
	t.Helper()
	dst := t.TempDir()
	kind := regexp.MustCompile(`(?m)^    kind: .*$`)
	err := filepath.WalkDir("../../rulesets", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("../../rulesets", path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if filepath.Ext(path) == ".yaml" && !regexp.MustCompile(`_test\.yaml$`).MatchString(path) {
			b = kind.ReplaceAll(b, []byte("$0\n    control: 10%"))
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	sets, err := rules.LoadAll(dst)
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range sets {
		for _, r := range rs.Rules {
			if r.Control != 1000 {
				t.Fatalf("rule %s/%s: control %d, want 1000: the copy did not add `control: 10%%`", rs.Name, r.ID, r.Control)
			}
		}
	}
	return sets
}

// controlKey is one proposal of one rule to one customer.
type controlKey struct {
	ruleset, rule string
	customer      int64
}

// controlGroups returns the control and the other proposals of runs.
func controlGroups(t *testing.T, eng *engine.Engine, runIDs []int64) (control, treated map[controlKey]int64) {
	t.Helper()
	control, treated = map[controlKey]int64{}, map[controlKey]int64{}
	for _, id := range runIDs {
		ps, err := store.ListProposals(context.Background(), eng.DB, store.ProposalFilter{RunID: id})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			k := controlKey{p.Ruleset, p.RuleID, p.CustomerID}
			if p.Status == store.ProposalControl {
				control[k] = p.ID
			} else {
				treated[k] = p.ID
			}
		}
	}
	return control, treated
}

func runIDs(res []*engine.Result) []int64 {
	ids := make([]int64, len(res))
	for i, r := range res {
		ids[i] = r.ID
	}
	return ids
}

// TestControlGroupIsStable runs rulesets with `control: 10%` twice in one
// process and once sharded across two workers: each time the same
// customers are the control group, about a tenth of the proposals, counted
// in the runs, and none of them can be approved or reaches the outbox.
func TestControlGroupIsStable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the sample operator three times")
	}
	sharded := dbtest.PostgresDSN(t) // skips without PostgreSQL
	ctx := context.Background()
	sets := controlRulesets(t)
	const customers = 4000

	var groups []map[controlKey]int64
	var all map[controlKey]int64
	for range 2 {
		eng := sampleEngine(t, dbtest.SQLiteDSN(t), customers)
		res, err := eng.RunAll(ctx, sets, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		control, treated := controlGroups(t, eng, runIDs(res))
		groups = append(groups, control)
		all = treated
		var counted int64
		for _, r := range res {
			for _, rr := range r.Rules {
				counted += rr.Control
			}
		}
		if counted != int64(len(control)) {
			t.Errorf("the runs count %d in control, the store holds %d", counted, len(control))
		}
		if run, err := store.GetRun(ctx, eng.DB, res[0].ID); err != nil {
			t.Fatal(err)
		} else if run.Rules[0].Control != res[0].Rules[0].Control {
			t.Errorf("stored run: rule %s control %d, want %d", run.Rules[0].RuleID, run.Rules[0].Control, res[0].Rules[0].Control)
		}
	}

	eng := sampleEngine(t, sharded, customers)
	job, err := eng.StartSharded(ctx, sets, 6)
	if err != nil {
		t.Fatal(err)
	}
	// Two River clients in this process share the shards.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = eng.WorkSharded(ctx, job, byName(sets), queue.Config{FetchPollInterval: 50 * time.Millisecond})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	control, _ := controlGroups(t, eng, job.RunIDs)
	groups = append(groups, control)

	for i, g := range groups[1:] {
		if len(g) != len(groups[0]) {
			t.Fatalf("pass %d: %d in control, first run %d", i+2, len(g), len(groups[0]))
		}
		for k := range groups[0] {
			if _, ok := g[k]; !ok {
				t.Fatalf("pass %d: %+v is not in control, but was in the first run", i+2, k)
			}
		}
	}
	share := float64(len(groups[0])) / float64(len(groups[0])+len(all))
	if len(all) < 500 || share < 0.07 || share > 0.13 {
		t.Fatalf("control %d of %d proposals (%.1f%%), want about 10%% of at least 500", len(groups[0]), len(groups[0])+len(all), 100*share)
	}
	t.Logf("control %d of %d proposals (%.1f%%), the same in both runs and the sharded one", len(groups[0]), len(groups[0])+len(all), 100*share)
	for _, id := range job.RunIDs {
		run, err := store.GetRun(ctx, eng.DB, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, rr := range run.Rules {
			var n int64
			for k := range control {
				if k.ruleset == run.Ruleset && k.rule == rr.RuleID {
					n++
				}
			}
			if rr.Control != n {
				t.Errorf("sharded run %d rule %s counts %d in control, the store holds %d", id, rr.RuleID, rr.Control, n)
			}
		}
	}

	// Approve everything there is to approve, one control proposal by id
	// too: none of the control group is approved or enqueued.
	now := workerClock.Add(time.Hour)
	for k, id := range control {
		n, err := reviewdb.DecidePending(ctx, eng.DB, reviewdb.Selection{ProposalID: id}, store.ProposalApproved, "ana", now)
		if err != nil || n != 0 {
			t.Fatalf("approving control proposal %d (%+v) changed %d, %v; want 0", id, k, n, err)
		}
		break
	}
	bs, err := reviewdb.ListBatches(ctx, eng.DB, reviewdb.BatchFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var batchControl int64
	for _, b := range bs {
		batchControl += b.Control
		if _, err := reviewdb.DecidePending(ctx, eng.DB, reviewdb.Selection{RunID: b.RunID, RuleID: b.RuleID}, store.ProposalApproved, "ana", now); err != nil {
			t.Fatal(err)
		}
	}
	if batchControl != int64(len(control)) {
		t.Errorf("the review list counts %d in control, want %d", batchControl, len(control))
	}
	inserter, err := queue.NewClient(eng.DB, queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	enq := &outbox.Enqueuer{DB: eng.DB, Customers: &billing.Reader{DB: eng.DB}, Rulesets: sets, Jobs: &outbox.Jobs{Client: inserter},
		Now: func() time.Time { return now }}
	res, err := enq.Enqueue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Proposals == 0 {
		t.Fatal("nothing was enqueued: the test proves nothing")
	}
	isControl := map[int64]bool{}
	for _, id := range control {
		isControl[id] = true
	}
	rows, err := eng.DB.QueryContext(ctx, `SELECT DISTINCT proposal_id FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var enqueued int
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		enqueued++
		if isControl[id] {
			t.Errorf("control proposal %d reached the outbox", id)
		}
	}
	t.Logf("%d proposals enqueued, none of them control", enqueued)
	if enqueued == 0 {
		t.Error("the outbox is empty")
	}
}

// TestInControl checks the hash's share and that it depends on ruleset,
// rule and customer alone.
func TestInControl(t *testing.T) {
	for _, share := range []int{0, 500, 1000, 5000} {
		n := 0
		const customers = 20000
		for c := int64(1); c <= customers; c++ {
			if engine.InControl("mobile", "cheaper-plan", c, share) {
				n++
			}
			if engine.InControl("mobile", "cheaper-plan", c, share) != engine.InControl("mobile", "cheaper-plan", c, share) {
				t.Fatal("not deterministic")
			}
		}
		got := float64(n) / customers
		want := float64(share) / 10000
		if got < want-0.01 || got > want+0.01 {
			t.Errorf("share %d: %.3f of customers in control, want %.3f", share, got, want)
		}
	}
	// Another rule draws another group.
	same := 0
	for c := int64(1); c <= 2000; c++ {
		if engine.InControl("mobile", "cheaper-plan", c, 5000) == engine.InControl("mobile", "roaming-spike", c, 5000) {
			same++
		}
	}
	if same > 1200 || same < 800 {
		t.Errorf("two rules agree on %d of 2000 customers: their groups are not independent", same)
	}
}
