package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/goodturn/goodturn/engine"
	"github.com/goodturn/goodturn/rules"
)

// runWithProgress runs rulesets in one pass, showing a live count of
// customers on a terminal; elsewhere the engine's structured log lines say
// enough.
func runWithProgress(ctx context.Context, env *Env, eng *engine.Engine, sets []*rules.Ruleset, opts engine.Options) ([]*engine.Result, error) {
	if !env.Interactive {
		eng.Progress = nil
		return eng.RunAll(ctx, sets, opts)
	}
	var done atomic.Int64
	eng.Progress = func(n int) { done.Add(int64(n)) }
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				fmt.Fprint(env.Stderr, "\r\033[K")
				return
			case <-t.C:
				fmt.Fprintf(env.Stderr, "\r\033[K  %s customers evaluated", count(done.Load()))
			}
		}
	}()
	res, err := eng.RunAll(ctx, sets, opts)
	close(stop)
	<-finished
	return res, err
}
