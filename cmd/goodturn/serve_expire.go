package main

import (
	"context"
	"time"
)

// expireEvery is how often `goodturn serve` expires the proposals pending
// for longer than --expire-after. Nothing else expires them but `goodturn
// review expire` and a decision: listings and the review page only show
// what would expire.
const expireEvery = time.Minute

// expireOverdue expires overdue proposals now and then every interval
// until ctx is done.
func (sv *server) expireOverdue(ctx context.Context, every time.Duration) {
	if sv.expirer == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := sv.expirer.Expire(ctx); err != nil {
			if ctx.Err() == nil {
				sv.log.Warn("expiring overdue proposals", "error", err)
			}
		} else if n > 0 {
			sv.log.Info("expired overdue proposals", "proposals", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
