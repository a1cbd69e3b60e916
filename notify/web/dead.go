package web

import (
	"net/http"
	"sort"
	"strings"

	"github.com/goodturn/goodturn/notify/outbox/outboxdb"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

type channelCount struct {
	Channel string
	Counts  map[string]int
}

type deadData struct {
	Messages []outboxdb.Message
	Channels []channelCount
	Statuses []string
	// Channel and Error filter the list: the channel, and words the last
	// error contains.
	Channel, Error string
	// Dead counts the dead messages before the filter.
	Dead int
}

// deadLimit is how many dead messages the page lists at most.
const deadLimit = 500

// dead serves GET /dead: the outbox's counts by channel and status, and
// the dead messages, newest first, with when they were queued, their
// channel and their last error, filtered by channel and by words of the
// error; an admin may retry each.
func (s *Server) dead(w http.ResponseWriter, r *http.Request, u *reviewdb.User) {
	ctx := r.Context()
	q := r.URL.Query()
	d := deadData{Channel: q.Get("channel"), Error: strings.TrimSpace(q.Get("error")),
		Statuses: []string{outboxdb.Queued, outboxdb.Sending, outboxdb.Sent, outboxdb.Dead, outboxdb.Skipped}}
	all, err := outboxdb.List(ctx, s.cfg.DB, outboxdb.Filter{Status: outboxdb.Dead, Limit: deadLimit})
	if err != nil {
		s.failErr(w, r, u, err)
		return
	}
	d.Dead = len(all)
	for _, m := range all {
		if (d.Channel == "" || m.Channel == d.Channel) && (d.Error == "" || strings.Contains(strings.ToLower(m.LastError), strings.ToLower(d.Error))) {
			d.Messages = append(d.Messages, m)
		}
	}
	counts, err := outboxdb.Counts(ctx, s.cfg.DB)
	if err != nil {
		s.failErr(w, r, u, err)
		return
	}
	for ch, c := range counts {
		d.Channels = append(d.Channels, channelCount{Channel: ch, Counts: c})
	}
	sort.Slice(d.Channels, func(i, j int) bool { return d.Channels[i].Channel < d.Channels[j].Channel })
	s.render(w, r, http.StatusOK, "dead", page{Title: "Dead letters", Nav: "dead", User: u, Data: d})
}
