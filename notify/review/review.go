// Package review is how people decide what goodturn sends: the users who
// log in (viewers, reviewers, admins) and their sessions, the decisions
// that approve or reject a proposal or a whole batch (one run's proposals
// of one rule), the second reviewer a large batch needs, the expiry of
// proposals nobody decided in time, and the audit log that records every
// decision with who, when and why. The review web page and the command
// line both decide through it, so both obey the same rules. Its tables and
// their SQL are in reviewdb.
package review

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

// Defaults of Config.
const (
	// DefaultSecondReviewerAbove is the batch size above which approving
	// a batch takes two reviewers.
	DefaultSecondReviewerAbove = 500
	// DefaultExpireAfter is how long a proposal may wait for a decision.
	DefaultExpireAfter = 14 * 24 * time.Hour
)

// Config holds the review's rules.
type Config struct {
	// SecondReviewerAbove: approving a batch with more pending proposals
	// than this takes two different reviewers. 0 means the default; a
	// negative number never asks for a second reviewer.
	SecondReviewerAbove int
	// ExpireAfter: a proposal still pending this long after it was made
	// expires. 0 means the default; negative never expires.
	ExpireAfter time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnApprove, when set, is called in a decision's transaction after it
	// approved proposals of target: the outbox enqueues their messages and
	// send jobs there (outbox.Enqueuer.EnqueueIn), so that they exist
	// exactly when the approval does. Its error rolls the decision back.
	OnApprove func(ctx context.Context, tx database.Querier, target reviewdb.Selection) error
}

// Service decides on proposals and manages people, in goodturn's database.
type Service struct {
	DB *database.DB
	Config
}

// New returns a Service on db with cfg's rules, defaults filled in.
func New(db *database.DB, cfg Config) *Service {
	if cfg.SecondReviewerAbove == 0 {
		cfg.SecondReviewerAbove = DefaultSecondReviewerAbove
	}
	if cfg.ExpireAfter == 0 {
		cfg.ExpireAfter = DefaultExpireAfter
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{DB: db, Config: cfg}
}

// now is the service's clock in UTC, truncated to microseconds as
// PostgreSQL keeps times: a time written and read back is then the time the
// service computed with (a lockout of 15 minutes waits 900 seconds, not
// 901).
func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC().Truncate(time.Microsecond)
	}
	return s.Now().UTC().Truncate(time.Microsecond)
}

// Errors of decisions; each is wrapped with the details.
var (
	// ErrForbidden: the user may not do this (a viewer approving, a
	// disabled user).
	ErrForbidden = errors.New("not allowed")
	// ErrNotPending: nothing of what was named is pending any more.
	ErrNotPending = errors.New("not pending")
	// ErrSameReviewer: the user already approved this batch, which needs
	// a second, different reviewer.
	ErrSameReviewer = errors.New("needs a second, different reviewer")
)

// Decision actions.
const (
	ActionApprove = "approve"
	ActionReject  = "reject"
	ActionExpire  = "expire"
)

// ParseTarget reads what a decision is about: a proposal id ("12") or a
// batch, RUN/RULE ("3/cheaper-plan").
func ParseTarget(s string) (reviewdb.Selection, error) {
	if strings.Contains(s, "/") {
		run, rule, err := store.ParseBatchKey(s)
		if err != nil {
			return reviewdb.Selection{}, err
		}
		return reviewdb.Selection{RunID: run, RuleID: rule}, nil
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return reviewdb.Selection{}, fmt.Errorf("%q: want a proposal id (12) or a batch RUN/RULE (3/cheaper-plan)", s)
	}
	return reviewdb.Selection{ProposalID: id}, nil
}

// Outcome is what a decision did.
type Outcome struct {
	Action  string
	Target  reviewdb.Selection
	Actor   string
	Comment string
	// Pending counts the proposals that were pending when the decision
	// was taken; Changed those whose status it changed (0 while a batch
	// awaits its second reviewer).
	Pending int64
	Changed int64
	// Awaiting is true when the approval was recorded but (some of) the
	// proposals stay pending until a second, different person approves
	// them; Recorded counts them.
	Awaiting bool
	Recorded int64
	// AuditID is the audit log entry of the decision.
	AuditID int64
}

// String says what happened, for people.
func (o Outcome) String() string {
	if o.Awaiting && o.Changed > 0 {
		return fmt.Sprintf("Approved %s of %s; %s approved %s more, awaiting a second reviewer.", proposals(o.Changed), o.Target, o.Actor, proposals(o.Recorded))
	}
	if o.Awaiting {
		return fmt.Sprintf("%s approved %s (%s): awaiting a second reviewer.", o.Actor, o.Target, proposals(o.Pending))
	}
	verb := "Approved"
	if o.Action == ActionReject {
		verb = "Rejected"
	}
	if o.Target.ProposalID != 0 {
		return fmt.Sprintf("%s %s.", verb, o.Target)
	}
	return fmt.Sprintf("%s %s of %s.", verb, proposals(o.Changed), o.Target)
}

func proposals(n int64) string {
	if n == 1 {
		return "1 proposal"
	}
	return strconv.FormatInt(n, 10) + " proposals"
}

// Origin says where a decision was taken: on the review page or on the
// command line, and for the command line the operating system user who
// ran it. The audit log records both.
type Origin struct {
	// Source is reviewdb.SourcePage or reviewdb.SourceCLI.
	Source string
	// OSUser is the operating system user who ran the command line; ""
	// when unknown.
	OSUser string
}

// PageOrigin is the origin of decisions taken on the review page.
var PageOrigin = Origin{Source: reviewdb.SourcePage}

// Approve approves a proposal or a batch's pending proposals as user u on
// the review page; see Decide.
func (s *Service) Approve(ctx context.Context, u *reviewdb.User, target reviewdb.Selection, comment string) (Outcome, error) {
	return s.Decide(ctx, u, ActionApprove, target, comment, PageOrigin)
}

// Reject rejects a proposal or a batch's pending proposals as user u on
// the review page; see Decide.
func (s *Service) Reject(ctx context.Context, u *reviewdb.User, target reviewdb.Selection, comment string) (Outcome, error) {
	return s.Decide(ctx, u, ActionReject, target, comment, PageOrigin)
}

// Decide approves or rejects (action) a proposal or a batch's pending
// proposals as user u from origin, with an optional comment, recording
// the decision and its origin in the audit log in the same transaction.
// Proposals that have expired are expired first and cannot be approved.
// One reviewer may reject anything.
//
// The proposals of a batch of more than SecondReviewerAbove proposals
// (held ones aside, in any status) take two people to approve, however
// they are approved: the whole batch or one proposal at a time, on the
// page or the command line. A proposal is approved when a second person
// approves it; until then the approval is recorded and it stays pending
// (Outcome.Awaiting). Two approvals are two people when they are two
// users and not both from the command line run by the same operating
// system user; an approval that would not be a second person's, where
// there is nothing left to record, is ErrSameReviewer.
// ErrBadText: a comment or name holds a NUL byte or is not UTF-8, which
// no database column of goodturn stores (PostgreSQL refuses both).
var ErrBadText = errors.New("not storable text")

// CheckText reports text that cannot be stored: a NUL byte or bytes that
// are not UTF-8. what names the text in the error ("comment").
func CheckText(what, s string) error {
	switch {
	case strings.ContainsRune(s, 0):
		return fmt.Errorf("%s: %w: a NUL byte is not allowed", what, ErrBadText)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s: %w: it is not UTF-8", what, ErrBadText)
	}
	return nil
}

// maxComment caps a comment's length, in bytes.
const maxComment = 4000

func (s *Service) Decide(ctx context.Context, u *reviewdb.User, action string, target reviewdb.Selection, comment string, origin Origin) (Outcome, error) {
	out := Outcome{Action: action, Target: target, Comment: strings.TrimSpace(comment)}
	if err := canDecide(u); err != nil {
		return out, err
	}
	out.Actor = u.Name
	if action != ActionApprove && action != ActionReject {
		return out, fmt.Errorf("decide: %q is not a decision", action)
	}
	if origin.Source != reviewdb.SourcePage && origin.Source != reviewdb.SourceCLI {
		return out, fmt.Errorf("decide: unknown source %q", origin.Source)
	}
	if len(out.Comment) > maxComment {
		return out, fmt.Errorf("comment too long: at most %d bytes", maxComment)
	}
	if err := CheckText("comment", out.Comment); err != nil {
		return out, err
	}
	if err := CheckText("operating system user", origin.OSUser); err != nil {
		return out, err
	}
	if target.ProposalID == 0 && (target.RunID == 0 || target.RuleID == "") {
		return out, errors.New("decide: name a proposal or a batch")
	}
	if _, err := s.Expire(ctx); err != nil {
		return out, err
	}
	tx, err := database.Begin(ctx, s.DB)
	if err != nil {
		return out, fmt.Errorf("%s %s: %w", action, target, err)
	}
	defer tx.Rollback()
	pending, err := reviewdb.LockPending(ctx, tx, target)
	if err != nil {
		return out, err
	}
	// The user is read again inside the transaction: one disabled a
	// moment ago decides nothing.
	cur, err := reviewdb.GetUserByID(ctx, tx, u.ID)
	if err != nil {
		return out, err
	}
	if err := canDecide(cur); err != nil {
		return out, err
	}
	out.Pending = pending
	if pending == 0 {
		return out, s.notPending(ctx, tx, target)
	}
	detail := map[string]any{"pending": pending, "source": origin.Source}
	if origin.Source == reviewdb.SourceCLI {
		detail["os_user"] = origin.OSUser
	}
	status := store.ProposalRejected
	if action == ActionApprove {
		status = store.ProposalApproved
		if s.SecondReviewerAbove >= 0 {
			size, err := reviewdb.BatchSize(ctx, tx, target)
			if err != nil {
				return out, err
			}
			if size > int64(s.SecondReviewerAbove) {
				detail["batch_size"] = size
				if err := s.approveByTwo(ctx, tx, cur, target, origin, &out, detail); err != nil {
					return out, err
				}
				if err := s.approved(ctx, tx, out); err != nil {
					return out, err
				}
				return out, s.commit(tx, action, target)
			}
		}
	}
	changed, err := reviewdb.DecidePending(ctx, tx, target, status, u.Name, s.now())
	if err != nil {
		return out, err
	}
	out.Changed = changed
	detail["changed"] = changed
	if err := s.auditDecision(ctx, tx, &out, detail); err != nil {
		return out, err
	}
	if err := s.approved(ctx, tx, out); err != nil {
		return out, err
	}
	return out, s.commit(tx, action, target)
}

// approved calls OnApprove in the decision's transaction when the
// decision approved proposals.
func (s *Service) approved(ctx context.Context, tx database.Querier, out Outcome) error {
	if s.OnApprove == nil || out.Action != ActionApprove || out.Changed == 0 {
		return nil
	}
	if err := s.OnApprove(ctx, tx, out.Target); err != nil {
		return fmt.Errorf("%s %s: enqueue its messages: %w", out.Action, out.Target, err)
	}
	return nil
}

// approveByTwo approves, in tx, the target's pending proposals that
// another person approved already, and records u's approval of the rest,
// which then await a second person.
func (s *Service) approveByTwo(ctx context.Context, tx database.Querier, u *reviewdb.User, target reviewdb.Selection, origin Origin, out *Outcome, detail map[string]any) error {
	now := s.now()
	a := reviewdb.Approver{UserID: u.ID, Source: origin.Source, OSUser: origin.OSUser}
	firsts, err := reviewdb.SecondedBy(ctx, tx, target, a)
	if err != nil {
		return err
	}
	changed, err := reviewdb.ApproveSeconded(ctx, tx, target, a, u.Name, now)
	if err != nil {
		return err
	}
	if changed == 0 {
		// Approvals of other users that do not count beside this one were
		// given on the command line by the same operating system user.
		others, err := reviewdb.PendingApprovals(ctx, tx, target)
		if err != nil {
			return err
		}
		delete(others, u.ID)
		if len(others) > 0 && origin.Source == reviewdb.SourceCLI {
			return fmt.Errorf("%w: %s was approved on the command line by the operating system user %q, as this approval is; "+
				"batches of more than %d proposals need a second person: another operating system user or the review page",
				ErrSameReviewer, target, origin.OSUser, s.SecondReviewerAbove)
		}
	}
	recorded, err := reviewdb.AddApprovals(ctx, tx, target, a, now)
	if err != nil {
		return err
	}
	if changed == 0 && recorded == 0 {
		return fmt.Errorf("%w: %s already has %s's approval; batches of more than %d proposals need a second reviewer",
			ErrSameReviewer, target, u.Name, s.SecondReviewerAbove)
	}
	out.Changed, out.Recorded = changed, recorded
	out.Awaiting = recorded > 0
	detail["changed"] = changed
	if len(firsts) > 0 {
		detail["first_reviewer"] = strings.Join(firsts, ", ")
	}
	if recorded > 0 {
		detail["awaiting_second_reviewer"] = true
		detail["approvals_recorded"] = recorded
	}
	return s.auditDecision(ctx, tx, out, detail)
}

func (s *Service) auditDecision(ctx context.Context, q database.Querier, out *Outcome, detail map[string]any) error {
	id, err := s.auditID(ctx, q, out.Actor, out.Action, out.Target.String(), out.Comment, detail)
	out.AuditID = id
	return err
}

func (s *Service) commit(tx interface{ Commit() error }, action string, target reviewdb.Selection) error {
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s %s: %w", action, target, err)
	}
	return nil
}

// notPending explains why nothing of target is pending: it does not exist
// (store.ErrNotFound) or was decided already (ErrNotPending).
func (s *Service) notPending(ctx context.Context, q database.Querier, target reviewdb.Selection) error {
	if target.ProposalID != 0 {
		p, err := reviewdb.GetProposal(ctx, q, target.ProposalID)
		if err != nil {
			return err
		}
		by := ""
		if p.DecidedBy != "" {
			by = " by " + p.DecidedBy
		}
		return fmt.Errorf("%w: %s is %s%s", ErrNotPending, target, p.Status, by)
	}
	if _, err := reviewdb.GetBatch(ctx, q, target.RunID, target.RuleID); err != nil {
		return err
	}
	return fmt.Errorf("%w: %s has no pending proposals", ErrNotPending, target)
}

// Expire marks the proposals pending for longer than ExpireAfter as
// expired, audited per batch as done by "system", in one transaction, and
// returns how many expired. `goodturn serve` calls it on a timer,
// `goodturn review expire` on demand and a decision before it decides;
// nothing that only shows proposals calls it (see Overdue).
func (s *Service) Expire(ctx context.Context) (int64, error) {
	if s.ExpireAfter < 0 {
		return 0, nil
	}
	after := s.ExpireAfter
	if after == 0 {
		after = DefaultExpireAfter
	}
	now := s.now()
	tx, err := database.Begin(ctx, s.DB)
	if err != nil {
		return 0, fmt.Errorf("expire: %w", err)
	}
	defer tx.Rollback()
	batches, err := reviewdb.ExpirePending(ctx, tx, now.Add(-after), now)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, b := range batches {
		total += b.Proposals
		if err := s.audit(ctx, tx, store.SystemActor, ActionExpire, reviewdb.Selection{RunID: b.RunID, RuleID: b.RuleID}.String(), "",
			map[string]any{"expired": b.Proposals, "pending_longer_than": after.String()}); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("expire: %w", err)
	}
	return total, nil
}

// inTx runs fn in a transaction and commits it if fn succeeds.
func (s *Service) inTx(ctx context.Context, fn func(q database.Querier) error) error {
	return database.InTx(ctx, s.DB, func(tx *database.Tx) error { return fn(tx) })
}
