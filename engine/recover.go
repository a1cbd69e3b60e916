package engine

import (
	"context"
	"time"

	"github.com/goodturn/goodturn/engine/store"
)

// wall is the wall clock of heartbeats: WallClock, or time.Now when nil.
// It is not the run's clock (Now), which may be fixed.
func (e *Engine) wall() time.Time {
	if e.WallClock != nil {
		return e.WallClock()
	}
	return time.Now()
}

func (e *Engine) staleAfter() time.Duration {
	if e.StaleAfter > 0 {
		return e.StaleAfter
	}
	return store.StaleAfter
}

// recoverDead fails the runs of the rulesets whose process is gone, and
// withdraws their proposals (store.AbandonDeadRuns), before a run looks at
// which earlier proposals hold customers back.
func (e *Engine) recoverDead(ctx context.Context, rulesets []string) error {
	dead, err := store.AbandonDeadRuns(ctx, e.DB, rulesets, e.wall(), e.staleAfter())
	for _, r := range dead {
		e.logger().Warn("run abandoned", "ruleset", r.Ruleset, "run", r.ID, "reason", r.Error)
	}
	return err
}

// keepAlive records the heartbeat of a run's recorded runs until stop is
// called.
func (e *Engine) keepAlive(results []*Result) (stop func()) {
	var ids []int64
	for _, res := range results {
		if res.ID != 0 {
			ids = append(ids, res.ID)
		}
	}
	if len(ids) == 0 {
		return func() {}
	}
	return store.KeepAlive(e.DB, ids, e.HeartbeatEvery, e.wall, e.logger())
}
