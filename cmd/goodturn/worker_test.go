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

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
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
	job, err := eng.StartJob(ctx, sets, 12)
	if err != nil {
		t.Fatal(err)
	}
	start := func(name string) *exec.Cmd {
		cmd := exec.Command(bin, "worker", "--db", sharded, "--rulesets", "../../rulesets",
			"--lease", "2s", "--poll", "100ms", "--exit-when-idle")
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
	var killedShard int = -1
	deadline := time.Now().Add(30 * time.Second)
	for killedShard < 0 && time.Now().Before(deadline) {
		var shard int
		err := eng.DB.QueryRowContext(ctx, `SELECT shard FROM job_shards WHERE job_id = $1 AND status = 'running' AND owner LIKE $2 LIMIT 1`,
			job.ID, fmt.Sprintf("%%-%d", victim.Process.Pid)).Scan(&shard)
		if err == nil {
			victim.Process.Signal(syscall.SIGKILL)
			victim.Wait()
			var status string
			eng.DB.QueryRowContext(ctx, `SELECT status FROM job_shards WHERE job_id = $1 AND shard = $2`, job.ID, shard).Scan(&status)
			if status != "running" {
				t.Fatalf("shard %d finished before the kill landed (status %s); the test could not kill mid-shard", shard, status)
			}
			killedShard = shard
		}
		time.Sleep(time.Millisecond)
	}
	if killedShard < 0 {
		t.Fatal("worker 1 never held a shard")
	}

	// The two survivors finish the job, the dead worker's shard included
	// once its lease runs out.
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
	j, err := store.GetJob(ctx, eng.DB, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != store.JobDone {
		t.Fatalf("job status %s, want done", j.Status)
	}
	var attempts int
	eng.DB.QueryRowContext(ctx, `SELECT attempts FROM job_shards WHERE job_id = $1 AND shard = $2`, job.ID, killedShard).Scan(&attempts)
	if attempts < 2 {
		t.Errorf("the killed shard %d was claimed %d times, want at least 2", killedShard, attempts)
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
