package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/queue"
	"github.com/goodturn/goodturn/engine/sample"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/rules"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// buildBinary builds the goodturn command once for the tests that run it as
// separate processes.
func buildBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := tempDir()
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "goodturn")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// workerClock is the clock of the sharded-run tests.
var workerClock = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)

// sampleEngine fills a fresh database with sample customers and returns an
// engine over it.
func sampleEngine(t *testing.T, dsn string, customers int) *engine.Engine {
	t.Helper()
	ctx := context.Background()
	db := dbtest.MustOpenMigrated(t, dsn)
	if err := billing.CreateSchema(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := sample.Generate(ctx, db, sample.Options{Customers: customers, Seed: 3, Now: workerClock}); err != nil {
		t.Fatal(err)
	}
	return &engine.Engine{DB: db, Billing: &billing.Reader{DB: db}, Now: func() time.Time { return workerClock },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

type proposalRow struct {
	rule     string
	customer int64
	value    int64
	status   string
	offer    string
	evidence string
}

func proposalsOf(t *testing.T, db *database.DB, runID int64) []proposalRow {
	t.Helper()
	ps, err := store.ListProposals(context.Background(), db, store.ProposalFilter{RunID: runID})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]proposalRow, len(ps))
	for i, p := range ps {
		out[i] = proposalRow{p.RuleID, p.CustomerID, p.Value, p.Status, string(p.Offer), string(p.Evidence)}
	}
	return out
}

func TestWorkersShareARunAndSurviveAKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	single := dbtest.PostgresDSN(t) // skips without PostgreSQL
	sharded := dbtest.PostgresDSN(t)
	bin := buildBinary(t)
	ctx := context.Background()
	sets, err := rules.LoadAll("../../rulesets")
	if err != nil {
		t.Fatal(err)
	}
	const customers = 6000

	// The reference: one process.
	ref := sampleEngine(t, single, customers)
	want, err := ref.RunAll(ctx, sets, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}

	// The same data and clock, split into shards for three workers.
	eng := sampleEngine(t, sharded, customers)
	eng.ShardTimeout = 2 * time.Second // as run --shards --rescue-after 2s
	job, err := eng.StartSharded(ctx, sets, 12)
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := queue.NewClient(eng.DB, queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	start := func(name string) *exec.Cmd {
		cmd := exec.Command(bin, "worker", "--db", sharded, "--rulesets", "../../rulesets",
			"--rescue-after", "2s", "--poll", "100ms", "--exit-when-idle")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			if t.Failed() {
				t.Logf("%s said:\n%s", name, out.String())
			}
		})
		return cmd
	}
	workers := []*exec.Cmd{start("worker 1"), start("worker 2"), start("worker 3")}

	// Kill worker 1 with SIGKILL while it holds a shard.
	victim := workers[0]
	var killedShard int64 = -1
	running := river.NewJobListParams().Kinds(engine.ShardArgs{}.Kind()).States(rivertype.JobStateRunning)
	deadline := time.Now().Add(30 * time.Second)
	for killedShard < 0 && time.Now().Before(deadline) {
		held, err := queue.List(ctx, jobs, nil, running)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range held {
			if len(j.AttemptedBy) == 0 || !strings.HasSuffix(j.AttemptedBy[len(j.AttemptedBy)-1], fmt.Sprintf("-%d", victim.Process.Pid)) {
				continue
			}
			victim.Process.Signal(syscall.SIGKILL)
			victim.Wait()
			got, err := jobs.JobGet(ctx, j.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != rivertype.JobStateRunning {
				t.Fatalf("shard job %d finished before the kill landed (state %s); the test could not kill mid-shard", j.ID, got.State)
			}
			killedShard = j.ID
			break
		}
		time.Sleep(time.Millisecond)
	}
	if killedShard < 0 {
		t.Fatal("worker 1 never held a shard")
	}

	// The two survivors finish the job, the dead worker's shard included
	// once River rescues it.
	for i, w := range workers[1:] {
		done := make(chan error, 1)
		go func() { done <- w.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("worker %d: %v", i+2, err)
			}
		case <-time.After(90 * time.Second):
			t.Fatalf("worker %d still running after 90s", i+2)
		}
	}
	all, err := queue.List(ctx, jobs, nil, river.NewJobListParams().TagsAny(store.RunTag(job.RunIDs[0])).States(
		append(queue.Unfinished, rivertype.JobStateCompleted, rivertype.JobStateCancelled, rivertype.JobStateDiscarded)...))
	if err != nil {
		t.Fatal(err)
	}
	completed := map[string]int{}
	for _, j := range all {
		if j.State == rivertype.JobStateCompleted {
			completed[j.Kind]++
		}
	}
	if len(all) != 13 || completed[engine.ShardArgs{}.Kind()] != 12 || completed[engine.FinishArgs{}.Kind()] != 1 {
		t.Fatalf("%d jobs, completed by kind %v; want 12 shards and the finish, all completed", len(all), completed)
	}
	killed, err := jobs.JobGet(ctx, killedShard)
	if err != nil {
		t.Fatal(err)
	}
	if killed.Attempt < 2 {
		t.Errorf("the killed shard job %d was attempted %d times, want at least 2", killedShard, killed.Attempt)
	}

	// Exactly the proposals of the single-process run, and the same counts.
	for i, rs := range sets {
		got := proposalsOf(t, eng.DB, job.RunIDs[i])
		exp := proposalsOf(t, ref.DB, want[i].ID)
		if len(got) != len(exp) || len(got) == 0 {
			t.Fatalf("ruleset %s: %d proposals sharded, %d in one process", rs.Name, len(got), len(exp))
		}
		for k := range got {
			if got[k] != exp[k] {
				t.Fatalf("ruleset %s: proposal %d differs:\nsharded %+v\nsingle  %+v", rs.Name, k, got[k], exp[k])
			}
		}
		run, err := store.GetRun(ctx, eng.DB, job.RunIDs[i])
		if err != nil {
			t.Fatal(err)
		}
		if run.Status != store.RunSucceeded || run.Customers != customers || run.Proposals != want[i].Proposals {
			t.Errorf("ruleset %s: sharded run %s, %d customers, %d proposals; single %d customers, %d proposals",
				rs.Name, run.Status, run.Customers, run.Proposals, want[i].Customers, want[i].Proposals)
		}
		for k, rr := range run.Rules {
			w := want[i].Rules[k]
			if rr.RuleID != w.RuleID || rr.Matched != w.Matched || rr.Proposals != w.Proposals || rr.Skipped != w.Skipped || rr.Value != w.Value {
				t.Errorf("rule %s: sharded %+v, single %+v", rr.RuleID, rr, w)
			}
		}
	}
}

func tempDir() (string, error) { return os.MkdirTemp("", "goodturn-bin-") }
