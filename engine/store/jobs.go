package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/goodturn/goodturn/engine/database"
)

// Job is a run of one or more rulesets split into shards of customers that
// worker processes claim from the database.
type Job struct {
	ID       int64
	Rulesets []string
	// RunIDs holds the run of each ruleset, in the same order.
	RunIDs []int64
	// Clock is the run's clock: every shard evaluates as of it.
	Clock     time.Time
	Shards    int
	Status    string
	CreatedAt time.Time
}

// Shard is one range of customer ids of a job: [From, To).
type Shard struct {
	JobID    int64
	Shard    int
	From, To int64
	Attempts int
}

// Job statuses.
const (
	JobRunning   = "running"
	JobFinishing = "finishing"
	JobDone      = "done"
)

// ErrNeedsPostgres is returned by the shard operations on SQLite: claiming
// shards across processes needs FOR UPDATE SKIP LOCKED.
var ErrNeedsPostgres = errors.New("sharded runs need PostgreSQL: SQLite serves a single process")

// CreateJob stores a job and its shards, one per range, and sets its ID.
func CreateJob(ctx context.Context, db database.Querier, j *Job, ranges [][2]int64) error {
	if !db.IsPostgres() {
		return ErrNeedsPostgres
	}
	ids := make([]string, len(j.RunIDs))
	for i, id := range j.RunIDs {
		ids[i] = strconv.FormatInt(id, 10)
	}
	tx, err := database.Begin(ctx, db)
	if err != nil {
		return fmt.Errorf("create job: %w", err)
	}
	defer tx.Rollback()
	j.Shards, j.Status = len(ranges), JobRunning
	if err := tx.QueryRowContext(ctx, db.Rebind(
		`INSERT INTO jobs (rulesets, run_ids, clock, shards, status, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
		strings.Join(j.Rulesets, ","), strings.Join(ids, ","), j.Clock.UTC(), j.Shards, j.Status, j.CreatedAt.UTC()).Scan(&j.ID); err != nil {
		return fmt.Errorf("create job: %w", err)
	}
	for i, r := range ranges {
		if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO job_shards (job_id, shard, from_id, to_id) VALUES (?, ?, ?, ?)`),
			j.ID, i, r[0], r[1]); err != nil {
			return fmt.Errorf("create job: shard %d: %w", i, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create job: %w", err)
	}
	return nil
}

// GetJob returns a job.
func GetJob(ctx context.Context, db database.Querier, id int64) (*Job, error) {
	var j Job
	var sets, runs string
	err := db.QueryRowContext(ctx, db.Rebind(`SELECT id, rulesets, run_ids, clock, shards, status, created_at FROM jobs WHERE id = ?`), id).
		Scan(&j.ID, &sets, &runs, database.Time(&j.Clock), &j.Shards, &j.Status, database.Time(&j.CreatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("job %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get job %d: %w", id, err)
	}
	j.Rulesets = strings.Split(sets, ",")
	for _, s := range strings.Split(runs, ",") {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("job %d: bad run id %q", id, s)
		}
		j.RunIDs = append(j.RunIDs, n)
	}
	return &j, nil
}

// ClaimShard claims a shard of a running job that is pending, or whose
// owner's lease has run out (the owner died), for owner until the lease
// ends. It returns nil when there is none. Concurrent claimers never get
// the same shard: FOR UPDATE SKIP LOCKED.
func ClaimShard(ctx context.Context, db database.Querier, owner string, lease time.Duration) (*Shard, error) {
	if !db.IsPostgres() {
		return nil, ErrNeedsPostgres
	}
	var s Shard
	err := db.QueryRowContext(ctx, `
		UPDATE job_shards s SET status = 'running', owner = $1, lease_until = now() + $2 * interval '1 millisecond', attempts = s.attempts + 1
		FROM (
			SELECT sh.job_id, sh.shard FROM job_shards sh JOIN jobs j ON j.id = sh.job_id
			WHERE j.status = 'running' AND (sh.status = 'pending' OR (sh.status = 'running' AND sh.lease_until < now()))
			ORDER BY sh.job_id, sh.shard
			FOR UPDATE OF sh SKIP LOCKED
			LIMIT 1
		) next
		WHERE s.job_id = next.job_id AND s.shard = next.shard
		RETURNING s.job_id, s.shard, s.from_id, s.to_id, s.attempts`, owner, lease.Milliseconds()).
		Scan(&s.JobID, &s.Shard, &s.From, &s.To, &s.Attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim shard: %w", err)
	}
	return &s, nil
}

// ExtendLease extends owner's lease on a shard; false means the lease was
// lost (it ran out and another worker claimed the shard).
func ExtendLease(ctx context.Context, db database.Querier, s *Shard, owner string, lease time.Duration) (bool, error) {
	res, err := db.ExecContext(ctx, `UPDATE job_shards SET lease_until = now() + $1 * interval '1 millisecond'
		WHERE job_id = $2 AND shard = $3 AND owner = $4 AND status = 'running'`, lease.Milliseconds(), s.JobID, s.Shard, owner)
	if err != nil {
		return false, fmt.Errorf("extend lease: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// FinishShard records the result of owner's pass over a shard; false means
// the lease was lost and the result not recorded.
func FinishShard(ctx context.Context, db database.Querier, s *Shard, owner string, result []byte) (bool, error) {
	res, err := db.ExecContext(ctx, `UPDATE job_shards SET status = 'done', result = $1, lease_until = NULL
		WHERE job_id = $2 AND shard = $3 AND owner = $4 AND status = 'running'`, string(result), s.JobID, s.Shard, owner)
	if err != nil {
		return false, fmt.Errorf("finish shard: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ClaimJobFinish reports whether the caller is the one to finish the job:
// every shard is done and no one else is finishing it (or the one who was
// has not finished within the lease, having died).
func ClaimJobFinish(ctx context.Context, db database.Querier, jobID int64, lease time.Duration) (bool, error) {
	res, err := db.ExecContext(ctx, `UPDATE jobs SET status = 'finishing', finish_until = now() + $2 * interval '1 millisecond'
		WHERE id = $1 AND (status = 'running' OR (status = 'finishing' AND finish_until < now()))
		AND NOT EXISTS (SELECT 1 FROM job_shards WHERE job_id = $1 AND status <> 'done')`, jobID, lease.Milliseconds())
	if err != nil {
		return false, fmt.Errorf("finish job %d: %w", jobID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ShardResults returns the results of a job's shards, in shard order.
func ShardResults(ctx context.Context, db database.Querier, jobID int64) ([][]byte, error) {
	rows, err := db.QueryContext(ctx, `SELECT result FROM job_shards WHERE job_id = $1 ORDER BY shard`, jobID)
	if err != nil {
		return nil, fmt.Errorf("shard results of job %d: %w", jobID, err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// CompleteJob marks a job done.
func CompleteJob(ctx context.Context, db database.Querier, jobID int64, at time.Time) error {
	_, err := db.ExecContext(ctx, `UPDATE jobs SET status = 'done', finished_at = $1 WHERE id = $2`, at.UTC(), jobID)
	if err != nil {
		return fmt.Errorf("complete job %d: %w", jobID, err)
	}
	return nil
}

// RunTotals counts, per rule, the proposals a run stored and their value:
// the authoritative totals of a sharded run, whatever its workers counted.
func RunTotals(ctx context.Context, db database.Querier, runID int64) (map[string]Tally, error) {
	rows, err := db.QueryContext(ctx, db.Rebind(`SELECT rule_id, status, count(*), COALESCE(SUM(value), 0) FROM proposals WHERE run_id = ? GROUP BY rule_id, status`), runID)
	if err != nil {
		return nil, fmt.Errorf("totals of run %d: %w", runID, err)
	}
	defer rows.Close()
	out := map[string]Tally{}
	for rows.Next() {
		var rule, status string
		var n, value int64
		if err := rows.Scan(&rule, &status, &n, &value); err != nil {
			return nil, fmt.Errorf("totals of run %d: %w", runID, err)
		}
		t := out[rule]
		if status == ProposalControl {
			t.Control += n
		} else {
			t.Count += n
			t.Value += value
		}
		out[rule] = t
	}
	return out, rows.Err()
}

// UnfinishedJobs counts the jobs not yet done.
func UnfinishedJobs(ctx context.Context, db database.Querier) (int, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM jobs WHERE status <> 'done'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("unfinished jobs: %w", err)
	}
	return n, nil
}

// UnfinishedDoneJobs returns the jobs whose shards are all done but whose
// runs are not recorded yet, and whose finish no live worker holds.
func UnfinishedDoneJobs(ctx context.Context, db database.Querier) ([]int64, error) {
	rows, err := db.QueryContext(ctx, `SELECT id FROM jobs j
		WHERE (status = 'running' OR (status = 'finishing' AND finish_until < now()))
		AND NOT EXISTS (SELECT 1 FROM job_shards WHERE job_id = j.id AND status <> 'done') ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("jobs to finish: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// CustomerShards splits the customers present into n ranges of customer
// ids [from, to) holding as near the same number of customers as the ids
// allow, with one query: the quantiles of the ids present, not equal
// slices of the id range, so that sparse or clustered ids still balance.
// It returns n ranges that cover every id present; some are empty when
// there are fewer customers than n.
func CustomerShards(ctx context.Context, db database.Querier, n int) ([][2]int64, error) {
	if n < 1 {
		return nil, fmt.Errorf("customer shards: %d shards", n)
	}
	rows, err := db.QueryContext(ctx, db.Rebind(`SELECT MIN(id), MAX(id) FROM (
		SELECT id, NTILE(?) OVER (ORDER BY id) AS tile FROM customers) t
		GROUP BY tile ORDER BY tile`), n)
	if err != nil {
		return nil, fmt.Errorf("customer shards: %w", err)
	}
	defer rows.Close()
	var starts []int64
	var hi int64
	for rows.Next() {
		var from, to int64
		if err := rows.Scan(&from, &to); err != nil {
			return nil, fmt.Errorf("customer shards: %w", err)
		}
		// A duplicated id the tiles split stays whole in one range.
		if len(starts) == 0 || from > starts[len(starts)-1] {
			starts = append(starts, from)
		}
		hi = to
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("customer shards: %w", err)
	}
	out := make([][2]int64, 0, n)
	for i, from := range starts {
		to := hi + 1
		if i+1 < len(starts) {
			to = starts[i+1]
		}
		out = append(out, [2]int64{from, to})
	}
	for len(out) < n {
		out = append(out, [2]int64{hi + 1, hi + 1})
	}
	return out, nil
}
