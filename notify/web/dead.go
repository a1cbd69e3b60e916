package web

import (
	"net/http"
	"sort"

	"github.com/goodturn/goodturn/engine/store"
)

type channelCount struct {
	Channel string
	Counts  map[string]int
}

type deadData struct {
	Messages []store.OutboxMessage
	Channels []channelCount
	Statuses []string
}

// dead serves GET /dead: the outbox's counts by channel and status, and
// the dead messages with their last error; an admin may retry each.
func (s *Server) dead(w http.ResponseWriter, r *http.Request, u *store.User) {
	ctx := r.Context()
	ms, err := store.ListOutbox(ctx, s.cfg.DB, store.OutboxFilter{Status: store.OutboxDead, Limit: 500})
	if err != nil {
		s.failErr(w, r, u, err)
		return
	}
	counts, err := store.OutboxCounts(ctx, s.cfg.DB)
	if err != nil {
		s.failErr(w, r, u, err)
		return
	}
	d := deadData{Messages: ms, Statuses: []string{store.OutboxQueued, store.OutboxSending, store.OutboxSent, store.OutboxDead, store.OutboxSkipped}}
	for ch, c := range counts {
		d.Channels = append(d.Channels, channelCount{Channel: ch, Counts: c})
	}
	sort.Slice(d.Channels, func(i, j int) bool { return d.Channels[i].Channel < d.Channels[j].Channel })
	s.render(w, r, http.StatusOK, "dead", page{Title: "Dead letters", Nav: "dead", User: u, Data: d})
}
