package main

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/review"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

// jsonBatch is a batch as `review list --json` and `review show
// RUN/RULE --json` write it; amounts are in minor units of currency.
type jsonBatch struct {
	Batch    string `json:"batch"`
	Run      int64  `json:"run"`
	Ruleset  string `json:"ruleset"`
	Rule     string `json:"rule"`
	Kind     string `json:"kind"`
	AsOf     string `json:"as_of"`
	Currency string `json:"currency"`
	Pending  int64  `json:"pending"`
	Approved int64  `json:"approved"`
	Rejected int64  `json:"rejected"`
	Expired  int64  `json:"expired"`
	Held     int64  `json:"held"`
	Control  int64  `json:"control"`
	// Value and Median are of the pending proposals.
	Value  int64 `json:"value"`
	Median int64 `json:"median"`
	// Overdue counts the pending proposals that would expire now.
	Overdue   int64          `json:"overdue"`
	Proposals []jsonProposal `json:"proposals,omitempty"`
}

// jsonProposal is a proposal as `review show --json` writes it, with its
// offer and evidence as recorded.
type jsonProposal struct {
	ID         int64           `json:"id"`
	Batch      string          `json:"batch"`
	Ruleset    string          `json:"ruleset"`
	Rule       string          `json:"rule"`
	Kind       string          `json:"kind"`
	CustomerID int64           `json:"customer_id"`
	Value      int64           `json:"value"`
	Currency   string          `json:"currency"`
	Status     string          `json:"status"`
	AsOf       string          `json:"as_of"`
	DecidedBy  string          `json:"decided_by,omitempty"`
	DecidedAt  *time.Time      `json:"decided_at,omitempty"`
	Offer      json.RawMessage `json:"offer"`
	Evidence   json.RawMessage `json:"evidence,omitempty"`
}

func toJSONBatch(b reviewdb.Batch, overdue int64) jsonBatch {
	return jsonBatch{Batch: b.Key(), Run: b.RunID, Ruleset: b.Ruleset, Rule: b.RuleID, Kind: b.Kind, AsOf: b.AsOf.Format(time.DateOnly),
		Currency: b.Currency, Pending: b.Pending, Approved: b.Approved, Rejected: b.Rejected, Expired: b.Expired, Held: b.Held,
		Control: b.Control, Value: b.Value, Median: b.Median, Overdue: overdue}
}

func toJSONProposal(p reviewdb.ReviewedProposal, withEvidence bool) jsonProposal {
	out := jsonProposal{ID: p.ID, Batch: store.BatchKey(p.RunID, p.RuleID), Ruleset: p.Ruleset, Rule: p.RuleID, Kind: p.Kind,
		CustomerID: p.CustomerID, Value: p.Value, Currency: p.Currency, Status: p.Status, AsOf: p.AsOf.Format(time.DateOnly),
		DecidedBy: p.DecidedBy, Offer: p.Offer}
	if !p.DecidedAt.IsZero() {
		at := p.DecidedAt
		out.DecidedAt = &at
	}
	if withEvidence {
		out.Evidence = p.Evidence
	}
	return out
}

// reviewListJSON writes the batches `review list` would list, as JSON.
func reviewListJSON(ctx context.Context, w io.Writer, svc *review.Service, f reviewFlags) error {
	bs, err := reviewdb.ListBatches(ctx, svc.DB, reviewdb.BatchFilter{All: f.all, Ruleset: f.ruleset, Limit: f.limit})
	if err != nil {
		return err
	}
	overdue, err := svc.Overdue(ctx, reviewdb.Selection{})
	if err != nil {
		return err
	}
	out := make([]jsonBatch, 0, len(bs))
	for _, b := range bs {
		out = append(out, toJSONBatch(b, overdue[b.Key()]))
	}
	return writeJSON(w, out)
}

// reviewShowJSON writes a batch with the page of its proposals `review
// show RUN/RULE` would show, or one proposal with its evidence, as JSON.
func reviewShowJSON(ctx context.Context, w io.Writer, db *database.DB, svc *review.Service, t reviewdb.Selection, f reviewFlags) error {
	if t.ProposalID != 0 {
		p, err := reviewdb.GetProposal(ctx, db, t.ProposalID)
		if err != nil {
			return err
		}
		return writeJSON(w, toJSONProposal(*p, true))
	}
	b, err := reviewdb.GetBatch(ctx, db, t.RunID, t.RuleID)
	if err != nil {
		return err
	}
	overdue, err := svc.Overdue(ctx, t)
	if err != nil {
		return err
	}
	status := f.status
	if status == store.ProposalPending {
		status = ""
	}
	ps, _, err := reviewdb.BatchProposals(ctx, db, t.RunID, t.RuleID, reviewdb.ProposalPage{
		Status: status, MinValue: f.minValue, MaxValue: f.maxValue, Limit: f.limit, Offset: f.offset})
	if err != nil {
		return err
	}
	out := toJSONBatch(*b, overdue[b.Key()])
	out.Proposals = []jsonProposal{}
	for _, p := range ps {
		out.Proposals = append(out.Proposals, toJSONProposal(p, false))
	}
	return writeJSON(w, out)
}
