package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/rules"
)

// progressLogEvery is how often a run away from a terminal logs its
// progress.
const progressLogEvery = 10 * time.Second

// runWithProgress runs rulesets in one pass, showing how many customers of
// how many have been evaluated, the share and the time left: a live line on
// a terminal, a log line every 10 seconds elsewhere.
func runWithProgress(ctx context.Context, env *Env, eng *engine.Engine, sets []*rules.Ruleset, opts engine.Options) ([]*engine.Result, error) {
	total, err := eng.Billing.CountCustomers(ctx, opts.Range)
	if err != nil {
		total = 0 // progress without a total; the run says what is wrong
	}
	var done atomic.Int64
	eng.Progress = func(n int) { done.Add(int64(n)) }
	every := progressLogEvery
	if env.Interactive {
		every = 200 * time.Millisecond
	}
	start := time.Now()
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				if env.Interactive {
					fmt.Fprint(env.Stderr, "\r\033[K")
				}
				return
			case <-t.C:
				n := done.Load()
				if env.Interactive {
					fmt.Fprintf(env.Stderr, "\r\033[K  %s", progressLine(n, total, time.Since(start)))
				} else {
					env.Logger.Info("run progress", "customers", n, "total", total, "eta", eta(n, total, time.Since(start)))
				}
			}
		}
	}()
	res, err := eng.RunAll(ctx, sets, opts)
	close(stop)
	<-finished
	return res, err
}

// progressLine says how far a run is: "1,200 of 3,000 customers (40%),
// about 3s left".
func progressLine(done, total int64, elapsed time.Duration) string {
	if total <= 0 {
		return count(done) + " customers evaluated"
	}
	s := fmt.Sprintf("%s of %s customers (%d%%)", count(done), count(total), 100*min(done, total)/total)
	if left := eta(done, total, elapsed); left > 0 {
		s += fmt.Sprintf(", about %s left", left)
	}
	return s
}

// eta estimates the time left at the pace so far; 0 when it cannot tell.
func eta(done, total int64, elapsed time.Duration) time.Duration {
	if done <= 0 || total <= done {
		return 0
	}
	return (elapsed * time.Duration(total-done) / time.Duration(done)).Round(time.Second)
}
