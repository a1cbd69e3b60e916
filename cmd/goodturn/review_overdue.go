package main

import (
	"context"
	"fmt"
	"io"

	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/review"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

// overdueNote says how many of a batch's pending proposals would expire:
// listings show it and change nothing.
func overdueNote(n int64, after string) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%s would expire (pending > %s)", count(n), after)
}

// joinNotes joins the non-empty notes of a row with "; ".
func joinNotes(notes ...string) string {
	out := ""
	for _, n := range notes {
		if n == "" {
			continue
		}
		if out != "" {
			out += "; "
		}
		out += n
	}
	return out
}

// reviewShowOverdue says how many of a batch's pending proposals would
// expire, and what expires them.
func reviewShowOverdue(ctx context.Context, w io.Writer, svc *review.Service, t reviewdb.Selection, after string) error {
	overdue, err := svc.Overdue(ctx, t)
	if err != nil {
		return err
	}
	if n := overdue[store.BatchKey(t.RunID, t.RuleID)]; n > 0 {
		fmt.Fprintf(w, "%s pending for more than %s would expire: `goodturn review expire` (or `goodturn serve`) expires them.\n",
			proposalCount(n), after)
	}
	return nil
}

// reviewShowProposalOverdue says whether a pending proposal would expire.
func reviewShowProposalOverdue(w io.Writer, svc *review.Service, p *reviewdb.ReviewedProposal, after string) {
	if svc.IsOverdue(p.Status, p.CreatedAt) {
		fmt.Fprintf(w, "\nPending for more than %s: it would expire; `goodturn review expire` (or `goodturn serve`) expires it.\n", after)
	}

}
