package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/goodturn/goodturn/engine/database"
)

// RunTag is the job queue's tag of the jobs that work on run id: the shards
// of a sharded run and the job that finishes it (see engine/shard.go). A
// run that has an unfinished job so tagged is alive whatever its heartbeat
// says: its shards wait for a worker, or River rescues them from one that
// died (see StaleRuns).
func RunTag(id int64) string { return "run-" + strconv.FormatInt(id, 10) }

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
