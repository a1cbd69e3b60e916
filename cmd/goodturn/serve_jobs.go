package main

import (
	"fmt"
	"log/slog"

	"riverqueue.com/riverui"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/queue"
)

// jobsUIPath is where serve mounts River's UI, for admins only.
const jobsUIPath = "/riverui/"

// newJobsUI returns River's UI (riverui's handler) over goodturn's job
// queue: the shards, slots and other jobs, their errors, retrying and
// cancelling them. serve mounts it on jobsUIPath behind the review page's
// login, for admins (web.Server.Admin).
func newJobsUI(db *database.DB, log *slog.Logger) (*riverui.Handler, error) {
	client, err := queue.NewClient(db, queue.Config{Logger: log})
	if err != nil {
		return nil, err
	}
	h, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: riverui.NewEndpoints(client, nil), Logger: log,
		Prefix: jobsUIPath[:len(jobsUIPath)-1]})
	if err != nil {
		return nil, fmt.Errorf("river's ui: %w", err)
	}
	return h, nil
}
