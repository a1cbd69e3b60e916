package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

// statuses a batch page filters by.
var statuses = []string{"pending", "approved", "rejected", "expired", "held", "all"}

type batchRow struct {
	reviewdb.ReviewedProposal
	Customer string
	Segment  string
	Back     string
}

type batchData struct {
	Card batchCard
	Rows []batchRow
	// Filter as typed.
	Status, Min, Max, Segment string
	Statuses, Segments        []string
	// Total proposals matching; From and To number the rows shown.
	Total, From, To int64
	Prev, Next      string
	Error           string
	Back            string
}

// batch serves GET /batches/{run}/{rule}: the batch's summary and a page
// of its proposals, most valuable first, filtered by status, value (in
// major units: ?min=50&max=120) and the customers' segment.
func (s *Server) batch(w http.ResponseWriter, r *http.Request, u *reviewdb.User) {
	ctx := r.Context()
	run, err := strconv.ParseInt(r.PathValue("run"), 10, 64)
	if err != nil || run <= 0 {
		s.fail(w, r, u, http.StatusNotFound, "There is no batch "+r.PathValue("run")+"/"+r.PathValue("rule")+".")
		return
	}
	rule := r.PathValue("rule")
	b, err := reviewdb.GetBatch(ctx, s.cfg.DB, run, rule)
	if err != nil {
		s.failErr(w, r, u, err)
		return
	}
	card, err := s.batchCard(r, *b, s.rules()[b.Ruleset+"/"+b.RuleID])
	if err != nil {
		s.failErr(w, r, u, err)
		return
	}
	card.Back = r.URL.RequestURI()
	if card.HeldBack, err = s.held(ctx, *b); err != nil {
		s.failErr(w, r, u, err)
		return
	}
	q := r.URL.Query()
	d := batchData{Card: card, Statuses: statuses, Status: q.Get("status"), Min: q.Get("min"), Max: q.Get("max"),
		Segment: q.Get("segment"), Back: r.URL.RequestURI()}
	pg := reviewdb.ProposalPage{Limit: s.cfg.PageSize}
	if d.Status == "" {
		// A decided batch lists what was decided.
		d.Status = card.Status
		if d.Status == "" {
			d.Status = "pending"
		}
	}
	switch d.Status {
	case "pending":
	default:
		if !contains(statuses, d.Status) {
			d.Error = fmt.Sprintf("Unknown status %q.", d.Status)
			d.Status = "pending"
		} else {
			pg.Status = d.Status
		}
	}
	if pg.MinValue, err = parseAmount(d.Min, b.Currency); err != nil {
		d.Error = "Least value: " + err.Error()
	}
	if pg.MaxValue, err = parseAmount(d.Max, b.Currency); err != nil {
		d.Error = "Most value: " + err.Error()
	}
	if d.Segments, err = s.segments(ctx); err != nil {
		s.failErr(w, r, u, err)
		return
	}
	if d.Segment != "" {
		if pg.CustomerIDs, err = s.segmentCustomers(ctx, d.Segment); err != nil {
			s.failErr(w, r, u, err)
			return
		}
		if pg.CustomerIDs == nil {
			pg.CustomerIDs = []int64{}
		}
	}
	pageNo, _ := strconv.Atoi(q.Get("page"))
	pageNo = max(pageNo, 1)
	pg.Offset = (pageNo - 1) * pg.Limit
	ps, total, err := reviewdb.BatchProposals(ctx, s.cfg.DB, run, rule, pg)
	if err != nil {
		s.failErr(w, r, u, err)
		return
	}
	d.Total = total
	if len(ps) > 0 {
		d.From, d.To = int64(pg.Offset+1), int64(pg.Offset+len(ps))
	}
	link := func(p int) string {
		v := url.Values{}
		for _, k := range []string{"status", "min", "max", "segment"} {
			if x := q.Get(k); x != "" {
				v.Set(k, x)
			}
		}
		if p > 1 {
			v.Set("page", strconv.Itoa(p))
		}
		path := "/batches/" + strconv.FormatInt(run, 10) + "/" + url.PathEscape(rule)
		if len(v) == 0 {
			return path
		}
		return path + "?" + v.Encode()
	}
	if pageNo > 1 {
		d.Prev = link(pageNo - 1)
	}
	if d.To < total {
		d.Next = link(pageNo + 1)
	}
	for _, p := range ps {
		c, _ := s.customer(ctx, p.CustomerID)
		d.Rows = append(d.Rows, batchRow{ReviewedProposal: p, Customer: c.Name, Segment: c.Segment, Back: d.Back})
	}
	s.render(w, r, http.StatusOK, "batch", page{Title: "Batch " + b.Key(), Nav: "batches", User: u, Data: d})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// segments lists the customers' segments in the billing data.
func (s *Server) segments(ctx context.Context) ([]string, error) {
	var out []string
	err := s.cfg.Billing.DB.SelectContext(ctx, &out, `SELECT DISTINCT segment FROM customers WHERE segment <> '' ORDER BY segment`)
	if err != nil {
		return nil, fmt.Errorf("segments: %w", err)
	}
	return out, nil
}

// segmentCustomers lists the ids of a segment's customers.
func (s *Server) segmentCustomers(ctx context.Context, segment string) ([]int64, error) {
	var out []int64
	db := s.cfg.Billing.DB
	if err := db.SelectContext(ctx, &out, db.Rebind(`SELECT id FROM customers WHERE segment = ? ORDER BY id`), segment); err != nil {
		return nil, fmt.Errorf("customers of segment %s: %w", segment, err)
	}
	return out, nil
}
