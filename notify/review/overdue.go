package review

import (
	"context"
	"time"

	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

// ExpiryCutoff returns the creation time before which a pending proposal
// is overdue, and false when nothing ever expires (ExpireAfter negative).
func (s *Service) ExpiryCutoff() (time.Time, bool) {
	if s.ExpireAfter < 0 {
		return time.Time{}, false
	}
	after := s.ExpireAfter
	if after == 0 {
		after = DefaultExpireAfter
	}
	return s.now().Add(-after), true
}

// Overdue counts, per batch key (RUN/RULE), the pending proposals that
// Expire would expire now: of every batch, or of the batch t names. It changes nothing: listings and pages call it
// to show what would expire, and only Expire (run by `goodturn serve` on a
// timer and by `goodturn review expire`) and decisions expire anything.
func (s *Service) Overdue(ctx context.Context, t reviewdb.Selection) (map[string]int64, error) {
	cutoff, ok := s.ExpiryCutoff()
	if !ok {
		return map[string]int64{}, nil
	}
	return reviewdb.OverdueByBatch(ctx, s.DB, cutoff, t.RunID, t.RuleID)
}

// IsOverdue reports whether a pending proposal created at created would
// expire now.
func (s *Service) IsOverdue(status string, created time.Time) bool {
	cutoff, ok := s.ExpiryCutoff()
	return ok && status == store.ProposalPending && created.Before(cutoff)
}
