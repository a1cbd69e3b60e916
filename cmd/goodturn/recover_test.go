package main

import (
	"context"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/sample"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/rules"
)

// helperArgs names the environment variable that makes the test binary run
// `goodturn` with the arguments it holds (one per line) instead of tests.
const helperArgs = "GOODTURN_HELPER_ARGS"

// TestHelperGoodturn is `goodturn` in a process of its own, for tests that
// kill it.
func TestHelperGoodturn(t *testing.T) {
	args := os.Getenv(helperArgs)
	if args == "" {
		t.Skip("runs only as a helper process")
	}
	env := &Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	os.Exit(Main(context.Background(), env, strings.Split(args, "\n")))
}

// offered is what a proposal offers, without its evidence, which dry runs
// leave out.
type offered struct {
	Rule     string
	Customer int64
	Value    int64
	Offer    string
}

func offers(ps []store.Proposal) []offered {
	out := make([]offered, len(ps))
	for i, p := range ps {
		out[i] = offered{p.RuleID, p.CustomerID, p.Value, string(p.Offer)}
	}
	return out
}

// `goodturn run` killed with SIGKILL mid-run, after it committed some of
// its proposals, is recovered by the next `goodturn run`: no run is left
// running, the dead run's proposals are withdrawn, and the next run
// proposes what a clean run proposes.
func TestAKilledRunIsRecovered(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: a run large enough to commit proposals before it ends")
	}
	dsn := dbtest.PostgresDSN(t) // a killed process's lock dies with its session
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	db := dbtest.MustOpenMigrated(t, dsn)
	if err := billing.CreateSchema(ctx, db); err != nil {
		t.Fatal(err)
	}
	// Enough customers for the first batch of proposals to be committed
	// well before the run ends.
	if _, err := sample.Generate(ctx, db, sample.Options{Customers: 55000, Seed: 1, Now: now}); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Load("../../rulesets/mobile")
	if err != nil {
		t.Fatal(err)
	}
	eng := &engine.Engine{DB: db, Billing: &billing.Reader{DB: db}, Now: func() time.Time { return now }}
	clean, err := eng.Run(ctx, rs, engine.Options{DryRun: true, Collect: true})
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperGoodturn$")
	cmd.Env = append(os.Environ(), helperArgs+"="+strings.Join([]string{"run", "--db", dsn, "--rulesets", "../../rulesets",
		"--ruleset", "mobile", "--now", "2026-11-23T02:00:00Z", "--workers", "1"}, "\n"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var committed int
	for deadline := time.Now().Add(2 * time.Minute); committed == 0 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		db.QueryRowContext(ctx, `SELECT count(*) FROM proposals`).Scan(&committed)
	}
	cmd.Process.Kill() // SIGKILL
	cmd.Wait()
	runs, err := store.ListRuns(ctx, db, store.RunFilter{})
	if err != nil || len(runs) != 1 || runs[0].Status != store.RunRunning || committed == 0 {
		t.Fatalf("killed run: %+v, %v, %d proposals committed; want one run left running with proposals", runs, err, committed)
	}
	dead := runs[0]
	// The heartbeat stops with the process; let the staleness pass.
	if _, err := db.ExecContext(ctx, `UPDATE runs SET heartbeat_at = heartbeat_at - $1 * interval '1 second' WHERE id = $2`,
		store.StaleAfter.Seconds()+1, dead.ID); err != nil {
		t.Fatal(err)
	}
	code, out, _ := run(t, "runs", "--db", dsn)
	if rows := listedRuns(t, out); code != 0 || rows[0][3] != "abandoned" {
		t.Errorf("runs exited %d, want the killed run shown abandoned:\n%s", code, out)
	}
	if got, _ := store.GetRun(ctx, db, dead.ID); got.Status != store.RunRunning {
		t.Errorf("runs wrote: the killed run is %s", got.Status)
	}

	code, out, errOut := run(t, "run", "--db", dsn, "--rulesets", "../../rulesets", "--ruleset", "mobile", "--now", "2026-11-23T02:00:00Z")
	if code != 0 {
		t.Fatalf("second run exited %d\n%s\n%s", code, out, errOut)
	}
	runs, err = store.ListRuns(ctx, db, store.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.Status == store.RunRunning {
			t.Errorf("run %d is still running", r.ID)
		}
	}
	got, err := store.GetRun(ctx, db, dead.ID)
	if err != nil {
		t.Fatal(err)
	}
	withdrawn, _, err := store.WithdrawnProposals(ctx, db, dead.ID)
	if err != nil {
		t.Fatal(err)
	}
	left, err := store.ListProposals(ctx, db, store.ProposalFilter{RunID: dead.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.RunFailed || !strings.HasPrefix(got.Error, "abandoned: ") || len(left) != 0 || len(withdrawn) < committed {
		t.Errorf("killed run: %s, %q, %d proposals left, %d withdrawn; want failed, abandoned, 0, at least %d",
			got.Status, got.Error, len(left), len(withdrawn), committed)
	}
	next, err := store.ListProposals(ctx, db, store.ProposalFilter{RunID: runs[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(offers(next), offers(clean.Found)) {
		t.Errorf("the next run proposed %d, a clean run %d; they differ", len(next), len(clean.Found))
	}
}

// `runs show` tells an abandoned run and the proposals a failed run
// withdrew, and writes nothing.
func TestRunsShowAbandonedAndWithdrawn(t *testing.T) {
	ctx := context.Background()
	dsn := dbtest.SQLiteDSN(t)
	db := dbtest.MustOpenMigrated(t, dsn)
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	dead := &store.Run{Ruleset: "mobile", AsOf: day, StartedAt: day, HeartbeatAt: time.Now().Add(-time.Hour)}
	failed := &store.Run{Ruleset: "mobile", AsOf: day, StartedAt: day}
	for _, r := range []*store.Run{dead, failed} {
		if err := store.CreateRun(ctx, db, r); err != nil {
			t.Fatal(err)
		}
	}
	p := store.Proposal{RunID: failed.ID, Ruleset: "mobile", RuleID: "cheaper-plan", RuleVersion: "v1", CustomerID: 4, Kind: "cheaper_plan",
		Currency: "GBP", Offer: []byte(`{}`), Evidence: []byte(`{}`), AsOf: day, CreatedAt: day}
	if _, err := store.InsertProposals(ctx, db, []store.Proposal{p}); err != nil {
		t.Fatal(err)
	}
	failed.Status, failed.FinishedAt, failed.Error = store.RunFailed, day.Add(time.Second), "read billing: boom"
	if err := store.FinishRun(ctx, db, failed); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id   int64
		want string
	}{
		{dead.ID, "The run is abandoned: no heartbeat since "},
		{failed.ID, "1 proposals withdrawn: run 2 failed: read billing: boom\n"},
	}
	for _, tt := range tests {
		code, out, errOut := run(t, "runs", "show", strconv.FormatInt(tt.id, 10), "--db", dsn)
		if code != 0 || !strings.Contains(out, tt.want) {
			t.Errorf("runs show %d exited %d, want %q in:\n%s%s", tt.id, code, tt.want, out, errOut)
		}
	}
	if got, _ := store.GetRun(ctx, db, dead.ID); got.Status != store.RunRunning {
		t.Errorf("runs show wrote: the dead run is %s", got.Status)
	}
}
