package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/queue"
)

// DefaultHeartbeat is how often a run records its heartbeat.
const DefaultHeartbeat = 5 * time.Second

// StaleAfter is how old a running run's heartbeat must be before the run
// may be taken for dead: many missed heartbeats, so that a slow database
// or a paused machine does not kill a live run. On PostgreSQL the
// ruleset's run lock must also be free (see TryLockRuleset).
const StaleAfter = 2 * time.Minute

// WithdrawnStatus is the status of a withdrawn proposal, in
// withdrawn_proposals.
const WithdrawnStatus = "withdrawn"

// Beat records that the runs are alive at at.
func Beat(ctx context.Context, db database.Querier, at time.Time, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := db.ExecContext(ctx, db.Rebind(`UPDATE runs SET heartbeat_at = ? WHERE status = ? AND id IN (`+idList(ids)+`)`),
		at.UTC(), RunRunning)
	if err != nil {
		return fmt.Errorf("heartbeat of runs %s: %w", idList(ids), err)
	}
	return nil
}

// live holds the runs this process is running, by database and run id:
// they are alive whatever their heartbeat says.
var (
	liveMu sync.Mutex
	live   = map[liveKey]int{}
)

type liveKey struct {
	dsn string
	run int64
}

// KeepAlive records the runs' heartbeat every interval (DefaultHeartbeat
// when zero), at clock's time (time.Now when nil), on its own goroutine,
// until stop is called; stop waits for the goroutine to end. A heartbeat
// that fails is logged and tried again at the next tick. While kept alive,
// the runs are never taken for dead by this process.
func KeepAlive(db *database.DB, ids []int64, interval time.Duration, clock func() time.Time, log *slog.Logger) (stop func()) {
	if interval <= 0 {
		interval = DefaultHeartbeat
	}
	if clock == nil {
		clock = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	liveMu.Lock()
	for _, id := range ids {
		live[liveKey{db.DSN, id}]++
	}
	liveMu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := Beat(ctx, db, clock(), ids...); err != nil && ctx.Err() == nil {
					log.Warn("heartbeat not recorded", "runs", ids, "error", err)
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
			liveMu.Lock()
			for _, id := range ids {
				k := liveKey{db.DSN, id}
				if live[k]--; live[k] <= 0 {
					delete(live, k)
				}
			}
			liveMu.Unlock()
		})
	}
}

func isLive(db *database.DB, id int64) bool {
	liveMu.Lock()
	defer liveMu.Unlock()
	return live[liveKey{db.DSN, id}] > 0
}

// StaleRuns returns the runs still recorded as running whose heartbeat is
// older than staleAfter at now (on the wall clock), oldest first: runs
// whose process may be gone. Runs this process keeps alive are left out,
// and so are the runs that River still has an unfinished job for (tagged
// RunTag): the runs of a sharded run are not lost when their workers die,
// River rescues the shards a dead worker held and another worker takes
// them. rulesets limits the runs to those rulesets; none means all. It
// writes nothing.
func StaleRuns(ctx context.Context, db *database.DB, rulesets []string, now time.Time, staleAfter time.Duration) ([]Run, error) {
	q := `SELECT ` + runColumns + ` FROM runs WHERE status = ? AND (heartbeat_at IS NULL OR heartbeat_at < ?)`
	args := []any{RunRunning, now.Add(-staleAfter).UTC()}
	if len(rulesets) > 0 {
		q += ` AND ruleset IN (?` + strings.Repeat(", ?", len(rulesets)-1) + `)`
		for _, rs := range rulesets {
			args = append(args, rs)
		}
	}
	rows, err := db.QueryContext(ctx, db.Rebind(q+` ORDER BY id`), args...)
	if err != nil {
		return nil, fmt.Errorf("stale runs: %w", err)
	}
	var out []Run
	for rows.Next() {
		var r Run
		var errText sql.NullString
		if err := rows.Scan(runDest(&r, &errText)...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("stale runs: %w", err)
		}
		r.Error = errText.String
		if !isLive(db, r.ID) {
			out = append(out, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stale runs: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	sharded, err := runsWithJobs(ctx, db, out)
	if err != nil {
		return nil, err
	}
	kept := out[:0]
	for _, r := range out {
		if !sharded[r.ID] {
			kept = append(kept, r)
		}
	}
	return kept, nil
}

// runsWithJobs returns which of the runs River has an unfinished job for.
func runsWithJobs(ctx context.Context, db *database.DB, runs []Run) (map[int64]bool, error) {
	tags := make([]string, len(runs))
	byTag := map[string]int64{}
	for i, r := range runs {
		tags[i] = RunTag(r.ID)
		byTag[tags[i]] = r.ID
	}
	client, err := queue.NewClient(db, queue.Config{})
	if err != nil {
		return nil, fmt.Errorf("runs with jobs: %w", err)
	}
	jobs, err := queue.List(ctx, client, nil, river.NewJobListParams().States(queue.Unfinished...).TagsAny(tags...))
	if err != nil {
		return nil, fmt.Errorf("runs with jobs: %w", err)
	}
	out := map[int64]bool{}
	for _, j := range jobs {
		for _, tag := range j.Tags {
			if id, ok := byTag[tag]; ok {
				out[id] = true
			}
		}
	}
	return out, nil
}

// DeadRuns returns the stale runs (see StaleRuns) whose process is gone:
// on PostgreSQL, those whose ruleset's run lock nobody holds, as pg_locks
// shows it. It writes nothing and takes no lock: it is what `goodturn
// runs` shows as abandoned.
func DeadRuns(ctx context.Context, db *database.DB, rulesets []string, now time.Time, staleAfter time.Duration) ([]Run, error) {
	runs, err := StaleRuns(ctx, db, rulesets, now, staleAfter)
	if err != nil || !db.IsPostgres() {
		return runs, err
	}
	locked := map[string]bool{}
	kept := runs[:0]
	for _, r := range runs {
		held, seen := locked[r.Ruleset]
		if !seen {
			if held, err = runLockHeld(ctx, db, r.Ruleset); err != nil {
				return nil, err
			}
			locked[r.Ruleset] = held
		}
		if !held {
			kept = append(kept, r)
		}
	}
	return kept, nil
}

// runLockHeld reports whether some session holds a ruleset's run lock on
// PostgreSQL, without trying to take it.
func runLockHeld(ctx context.Context, db *database.DB, ruleset string) (bool, error) {
	var schema string
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return false, fmt.Errorf("run lock of %s: %w", ruleset, err)
	}
	var held bool
	err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND classid = $1 AND objid = ($2::int)::oid AND objsubid = 2)`, RunLockClass, RunLockKey(schema, ruleset)).Scan(&held)
	if err != nil {
		return false, fmt.Errorf("run lock of %s: %w", ruleset, err)
	}
	return held, nil
}

// AbandonDeadRuns marks as failed the runs whose process is gone and
// withdraws their proposals (see WithdrawRun), and returns them. A run is
// taken for dead when it is still recorded as running, its heartbeat is
// older than staleAfter at now (on the wall clock), it is not a run of an
// unfinished sharded job, and its ruleset's run lock can be taken — or is
// held through db, by the caller about to run the ruleset.
// Each run is failed with "abandoned: no heartbeat since …". rulesets
// limits the runs to those rulesets; none means all.
func AbandonDeadRuns(ctx context.Context, db *database.DB, rulesets []string, now time.Time, staleAfter time.Duration) ([]Run, error) {
	stale, err := StaleRuns(ctx, db, rulesets, now, staleAfter)
	if err != nil {
		return nil, err
	}
	var out []Run
	unlock := map[string]func(){}
	defer func() {
		for _, u := range unlock {
			if u != nil {
				u()
			}
		}
	}()
	for _, r := range stale {
		if _, ok := unlock[r.Ruleset]; !ok {
			release, ok, err := lockForRecovery(ctx, db, r.Ruleset)
			if err != nil {
				return out, err
			}
			if !ok {
				unlock[r.Ruleset] = nil
				continue
			}
			unlock[r.Ruleset] = release
		}
		if unlock[r.Ruleset] == nil {
			continue // its process is alive: it holds the run lock
		}
		ok, err := abandonRun(ctx, db, &r, now, staleAfter)
		if err != nil {
			return out, err
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// lockForRecovery returns a release function for a ruleset's run lock and
// true when no other process holds it: either it is held through db
// already (release then does nothing) or it could be taken now.
func lockForRecovery(ctx context.Context, db *database.DB, ruleset string) (func(), bool, error) {
	if lockedHere(db, ruleset) {
		return func() {}, true, nil
	}
	lock, ok, err := TryLockRuleset(ctx, db, ruleset)
	if err != nil || !ok {
		return nil, false, err
	}
	return func() { lock.Unlock() }, true, nil
}

// abandonRun fails a run that is still running with a stale heartbeat,
// and withdraws its proposals, in one transaction; false means the run
// was no longer running or has beaten since.
func abandonRun(ctx context.Context, db database.Querier, r *Run, now time.Time, staleAfter time.Duration) (bool, error) {
	last := r.HeartbeatAt
	since := "it started"
	if !last.IsZero() {
		since = last.UTC().Format(time.RFC3339)
	} else {
		last = now
	}
	r.Status, r.FinishedAt = RunFailed, last
	r.Error = "abandoned: no heartbeat since " + since + " (the process running it is gone)"
	return failRunning(ctx, db, r, now, fmt.Sprintf("run %d %s", r.ID, r.Error), "abandon_run", ` AND (heartbeat_at IS NULL OR heartbeat_at < ?)`, now.Add(-staleAfter).UTC())
}

// FailRun marks a run that is still running as failed at at, with
// reason as its error, and withdraws its proposals (see withdrawRun), in
// one transaction; false means the run was no longer running. It is how
// a sharded run ends whose shard failed on its last attempt.
func FailRun(ctx context.Context, db database.Querier, id int64, reason string, at time.Time) (bool, error) {
	r := &Run{ID: id, Status: RunFailed, FinishedAt: at, Error: reason}
	return failRunning(ctx, db, r, at, fmt.Sprintf("run %d failed: %s", id, reason), "", "")
}

// failRunning records r's status, end and error when it is still running
// and cond (a condition on runs, with its args) holds, withdraws its
// proposals with the reason withdrawn, and, when audit names an action, writes it to the audit log
// with the number withdrawn, all in one transaction; false means the run
// was not updated.
func failRunning(ctx context.Context, db database.Querier, r *Run, now time.Time, withdrawn, audit, cond string, args ...any) (bool, error) {
	tx, err := database.Begin(ctx, db)
	if err != nil {
		return false, fmt.Errorf("fail run %d: %w", r.ID, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, db.Rebind(`UPDATE runs SET status = ?, finished_at = ?, error = ?
		WHERE id = ? AND status = ?`+cond),
		append([]any{r.Status, r.FinishedAt.UTC(), r.Error, r.ID, RunRunning}, args...)...)
	if err != nil {
		return false, fmt.Errorf("fail run %d: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err
	}
	n, err := withdrawRun(ctx, tx, r.ID, withdrawn, now)
	if err != nil {
		return false, fmt.Errorf("fail run %d: %w", r.ID, err)
	}
	if audit != "" {
		detail, _ := json.Marshal(map[string]any{"ruleset": r.Ruleset, "withdrawn": n})
		if err := AddAudit(ctx, tx, &AuditEntry{At: now, Actor: SystemActor, Action: audit,
			Subject: "run " + strconv.FormatInt(r.ID, 10), Comment: r.Error, Detail: detail}); err != nil {
			return false, fmt.Errorf("fail run %d: %w", r.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("fail run %d: %w", r.ID, err)
	}
	return true, nil
}

// notFailed is a condition leaving out the proposals of failed runs: a
// failed run's proposals are withdrawn when it fails, and this keeps any
// left behind (by an older goodturn) from counting either.
const notFailed = ` AND run_id NOT IN (SELECT id FROM runs WHERE status = '` + RunFailed + `')`

// withdrawnStatuses are the statuses of the proposals a failed run
// withdraws: every proposal nobody has decided. (Only the proposals of
// runs that succeeded can be approved or rejected.)
var withdrawnStatuses = []string{ProposalPending, ProposalHeld, ProposalExpired, ProposalControl}

// withdrawRun withdraws the undecided proposals of a run, as a unit: they
// move from proposals to withdrawn_proposals with the reason and the time.
// It returns how many it withdrew.
//
// The rule, one for every way a run ends without succeeding (an error, a
// cancellation, a process that died): only a run that succeeded proposes
// anything. A withdrawn proposal is never offered for review, never holds
// a customer back (pending or cooldown) and never counts towards the
// frequency cap; and as it leaves the unique key of its day free, the
// next run proposes to its customers again as if the failed run had never
// happened.
func withdrawRun(ctx context.Context, tx database.Querier, runID int64, reason string, at time.Time) (int64, error) {
	statuses := `(?` + strings.Repeat(`, ?`, len(withdrawnStatuses)-1) + `)`
	args := []any{at.UTC(), reason, runID}
	for _, s := range withdrawnStatuses {
		args = append(args, s)
	}
	res, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO withdrawn_proposals (`+proposalColumns+`, id, withdrawn_at, reason)
		SELECT `+proposalColumns+`, id, ?, ? FROM proposals WHERE run_id = ? AND status IN `+statuses), args...)
	if err != nil {
		return 0, fmt.Errorf("withdraw proposals of run %d: %w", runID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("withdraw proposals of run %d: %w", runID, err)
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM proposals WHERE run_id = ? AND status IN `+statuses), args[2:]...); err != nil {
		return 0, fmt.Errorf("withdraw proposals of run %d: %w", runID, err)
	}
	return n, nil
}

// WithdrawnProposals returns the proposals a run withdrew, ordered by rule
// and customer, each with the status it had; the reason is the same for
// all of them and is returned once ("" if none was withdrawn).
func WithdrawnProposals(ctx context.Context, db database.Querier, runID int64) ([]Proposal, string, error) {
	rows, err := db.QueryContext(ctx, db.Rebind(`SELECT `+ProposalColumns+`, reason FROM withdrawn_proposals
		WHERE run_id = ? ORDER BY rule_id, customer_id`), runID)
	if err != nil {
		return nil, "", fmt.Errorf("withdrawn proposals of run %d: %w", runID, err)
	}
	defer rows.Close()
	var (
		out    []Proposal
		reason string
	)
	for rows.Next() {
		var p Proposal
		if err := ScanProposal(rows, &p, &reason); err != nil {
			return nil, "", fmt.Errorf("withdrawn proposals of run %d: %w", runID, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("withdrawn proposals of run %d: %w", runID, err)
	}
	return out, reason, nil
}

// idList writes run ids as a comma-separated SQL list.
func idList(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ", ")
}

// WithdrawLate withdraws, in tx, the undecided proposals of a failed run
// that were written after it failed (by a shard of it still evaluating
// when the run was given up), as the run's failure withdrew the others,
// and returns how many it withdrew. A run that has not failed is left
// alone.
func WithdrawLate(ctx context.Context, tx database.Querier, runID int64, at time.Time) (int64, error) {
	var status string
	var errText sql.NullString
	if err := tx.QueryRowContext(ctx, tx.Rebind(`SELECT status, error FROM runs WHERE id = ?`), runID).Scan(&status, &errText); err != nil {
		return 0, fmt.Errorf("withdraw late proposals of run %d: %w", runID, err)
	}
	if status != RunFailed {
		return 0, nil
	}
	n, err := withdrawRun(ctx, tx, runID, fmt.Sprintf("run %d failed: %s", runID, errText.String), at)
	if err != nil {
		return 0, fmt.Errorf("withdraw late proposals of run %d: %w", runID, err)
	}
	return n, nil
}
