package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify"
	"github.com/goodturn/goodturn/notify/review"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
	"github.com/goodturn/goodturn/rules"
	"github.com/goodturn/goodturn/rules/rulefmt"
)

// reviewShowLimit is how many proposals `review show RUN/RULE` lists by
// default.
const reviewShowLimit = 20

// reviewCommands are the subcommands of `goodturn review`. Listing and
// showing only read; deciding and expiring write.
func reviewCommands() []*command {
	sub := func(name, summary, synopsis string, n needs, args argc) *command {
		return &command{name: name, summary: summary, synopsis: synopsis, needs: n, args: args, run: reviewRun(name)}
	}
	return []*command{
		sub("list", "list the batches waiting for review", "[--all] [--ruleset NAME] [--limit N] [--json]",
			needDB|needClock, noPositional),
		sub("show", "show a batch's proposals, or one proposal with its evidence and message",
			"(RUN/RULE [--limit N] [--offset N] [--status S] [--min-value N] [--max-value N] | ID) [--json]",
			needDB|needBilling|needRulesets|needClock, onePositional),
		sub("approve", "approve a batch or one proposal; its messages and their send jobs are enqueued with the decision", "(RUN/RULE | ID) --as NAME [--comment TEXT]",
			needDBWrite|needClock|needBilling|needRulesets, onePositional),
		sub("reject", "reject a batch or one proposal", "(RUN/RULE | ID) --as NAME [--comment TEXT]",
			needDBWrite|needClock, onePositional),
		sub("expire", "expire the proposals pending longer than --expire-after", "[--expire-after 14d]",
			needDBWrite|needClock, noPositional),
		sub("audit", "show the audit log, newest first", "[--limit N] [--actor NAME] [--action ACTION]",
			needDB, noPositional),
	}
}

// reviewFlags holds the flags of every review command.
type reviewFlags struct {
	*config
	json        bool
	secondAbove int
	expireAfter string
	all         bool
	ruleset     string
	limit       int
	offset      int
	status      string
	minValue    int64
	maxValue    int64
	as          string
	comment     string
	actor       string
	action      string
}

// reviewRun returns the run of the review command sub.
func reviewRun(sub string) func(context.Context, *call) error {
	return func(ctx context.Context, x *call) error {
		f := reviewFlags{config: &x.config}
		f.bind(x.Flags, sub)
		positional, err := x.Parse()
		if err != nil {
			return err
		}
		target, expire, err := f.check(sub, positional)
		if err != nil {
			return err
		}
		db, err := x.DB(ctx)
		if err != nil {
			return err
		}
		var bdb *database.DB
		if x.cmd.needs&needBilling != 0 {
			if bdb, err = x.BillingDB(ctx); err != nil {
				return err
			}
		}
		svc := review.New(db, review.Config{Now: x.Now})
		// Set after New, which reads 0 as "the default": here 0 means every
		// batch needs two reviewers.
		svc.SecondReviewerAbove, svc.ExpireAfter = f.secondAbove, expire
		if sub == "approve" {
			if svc.OnApprove, err = approvalOutbox(x, db, bdb); err != nil {
				return err
			}
		}
		return f.run(ctx, x.Env, sub, svc, db, bdb, target, expire)
	}
}

// bind declares the flags of the review command sub on fs, bound to f.
func (f *reviewFlags) bind(fs *flag.FlagSet, sub string) {
	intVar(fs, &f.secondAbove, "second-reviewer-above", review.DefaultSecondReviewerAbove, -1, math.MaxInt,
		"approving a batch of more pending proposals than this takes two different reviewers; -1 never")
	fs.StringVar(&f.expireAfter, "expire-after", rulefmt.FormatDuration(review.DefaultExpireAfter),
		"proposals pending longer than this expire, like 14d; 0 never")
	switch sub {
	case "list":
		fs.BoolVar(&f.json, "json", false, "write the batches as JSON, amounts in minor units")
		fs.BoolVar(&f.all, "all", false, "also list batches with nothing pending")
		fs.StringVar(&f.ruleset, "ruleset", "", "list only this ruleset's batches")
		intVar(fs, &f.limit, "limit", 0, 0, math.MaxInt, "list at most this many batches, newest run first; 0 lists all")
	case "show":
		fs.BoolVar(&f.json, "json", false, "write the batch and its proposals, or the proposal with its evidence, as JSON")
		intVar(fs, &f.limit, "limit", reviewShowLimit, 0, math.MaxInt, "with RUN/RULE: proposals per page")
		intVar(fs, &f.offset, "offset", 0, 0, math.MaxInt, "with RUN/RULE: proposals to skip")
		fs.StringVar(&f.status, "status", "pending", "with RUN/RULE: pending, approved, rejected, expired, held or all")
		fs.Int64Var(&f.minValue, "min-value", 0, "with RUN/RULE: only proposals worth at least this much a year, in minor units")
		fs.Int64Var(&f.maxValue, "max-value", 0, "with RUN/RULE: only proposals worth at most this much a year, in minor units")
	case "approve", "reject":
		fs.StringVar(&f.as, "as", "", "the reviewer or admin deciding (required): recorded in the audit log")
		fs.StringVar(&f.comment, "comment", "", "why, recorded in the audit log")
	case "audit":
		intVar(fs, &f.limit, "limit", 50, 0, math.MaxInt, "show at most this many entries, newest first; 0 shows all")
		fs.StringVar(&f.actor, "actor", "", "only this actor's entries")
		fs.StringVar(&f.action, "action", "", "only this action's entries (approve, reject, expire, login, …)")
	}
}

// check checks a review command's arguments and flags, and returns the
// batch or proposal it names and how long proposals may wait (negative:
// forever).
func (f *reviewFlags) check(sub string, positional []string) (reviewdb.Selection, time.Duration, error) {
	var target reviewdb.Selection
	var err error
	switch sub {
	case "show", "approve", "reject":
		if target, err = review.ParseTarget(positional[0]); err != nil {
			return target, 0, fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	if (sub == "approve" || sub == "reject") && f.as == "" {
		return target, 0, fmt.Errorf("%w: --as NAME is required: the reviewer deciding", errUsage)
	}
	if f.limit < 0 || f.offset < 0 {
		return target, 0, fmt.Errorf("%w: --limit and --offset want 0 or more", errUsage)
	}
	switch f.status {
	case "all", "":
	case store.ProposalPending, store.ProposalApproved, store.ProposalRejected, store.ProposalExpired, store.ProposalHeld:
	default:
		return target, 0, fmt.Errorf("%w: --status %q: want pending, approved, rejected, expired, held or all", errUsage, f.status)
	}
	expire, err := rulefmt.ParseDuration(f.expireAfter)
	if err != nil {
		return target, 0, fmt.Errorf("%w: --expire-after: %v", errUsage, err)
	}
	if expire == 0 {
		expire = -1
	}
	return target, expire, nil
}

// run runs one review command. Listing and showing change nothing: only
// `review expire`, `serve` and a decision (which expires what is overdue
// first, so that it cannot be approved) expire proposals.
func (f *reviewFlags) run(ctx context.Context, env *Env, sub string, svc *review.Service, db, bdb *database.DB,
	target reviewdb.Selection, expire time.Duration) error {
	switch sub {
	case "list":
		if f.json {
			return reviewListJSON(ctx, env.Stdout, svc, *f)
		}
		return reviewList(ctx, env.Stdout, svc, *f)
	case "show":
		if f.json {
			return reviewShowJSON(ctx, env.Stdout, db, svc, target, *f)
		}
		if target.ProposalID != 0 {
			p, err := reviewdb.GetProposal(ctx, db, target.ProposalID)
			if err != nil {
				return err
			}
			reviewShowProposal(ctx, env.Stdout, bdb, p)
			if err := f.showMessage(ctx, env.Stdout, bdb, p); err != nil {
				return err
			}
			reviewShowProposalOverdue(env.Stdout, svc, p, f.expireAfter)
			return nil
		}
		if err := reviewShowBatch(ctx, env.Stdout, db, target, *f); err != nil {
			return err
		}
		return reviewShowOverdue(ctx, env.Stdout, svc, target, f.expireAfter)
	case "approve", "reject":
		u, err := svc.Decider(ctx, f.as)
		if err != nil {
			return err
		}
		action := review.ActionApprove
		if sub == "reject" {
			action = review.ActionReject
		}
		out, err := svc.Decide(ctx, u, action, target, f.comment, review.Origin{Source: reviewdb.SourceCLI, OSUser: osUser(env)})
		if err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, out.String())
	case "expire":
		if expire < 0 {
			fmt.Fprintln(env.Stdout, "Nothing expires: --expire-after is 0.")
			return nil
		}
		expired, err := svc.Expire(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "Expired %s pending for more than %s.\n", proposalCount(expired), rulefmt.FormatDuration(expire))
	case "audit":
		return reviewAudit(ctx, env.Stdout, db, *f)
	}
	return nil
}

func proposalCount(n int64) string {
	if n == 1 {
		return "1 proposal"
	}
	return count(n) + " proposals"
}

// reviewList prints the batches, one a line.
func reviewList(ctx context.Context, w io.Writer, svc *review.Service, f reviewFlags) error {
	bs, err := reviewdb.ListBatches(ctx, svc.DB, reviewdb.BatchFilter{All: f.all, Ruleset: f.ruleset, Limit: f.limit})
	if err != nil {
		return err
	}
	if len(bs) == 0 {
		if f.all {
			fmt.Fprintf(w, "No batches in %s.\n", svc.DB.DSN)
		} else {
			fmt.Fprintf(w, "Nothing to review in %s.\n", svc.DB.DSN)
		}
		return nil
	}
	head := []string{"batch", "ruleset", "rule", "kind", "as of", "pending", "yearly value", "median"}
	if f.all {
		head = append(head, "approved", "rejected", "expired")
	}
	rows := [][]string{append(head, "note")}
	overdue, err := svc.Overdue(ctx, reviewdb.Selection{})
	if err != nil {
		return err
	}
	for _, b := range bs {
		row := []string{b.Key(), b.Ruleset, b.RuleID, b.Kind, b.AsOf.Format(time.DateOnly), count(b.Pending),
			formatMoney(b.Value, b.Currency), formatMoney(b.Median, b.Currency)}
		if f.all {
			row = append(row, count(b.Approved), count(b.Rejected), count(b.Expired))
		}
		note, err := batchNote(ctx, svc, b)
		if err != nil {
			return err
		}
		rows = append(rows, append(row, joinNotes(withControl(note, b.Control), overdueNote(overdue[b.Key()], f.expireAfter))))
	}
	printTable(w, leftLast(rows), 5)
	return nil
}

// batchNote says what a batch waits for: "approved by ana, awaiting a
// second reviewer", "needs two reviewers".
func batchNote(ctx context.Context, svc *review.Service, b reviewdb.Batch) (string, error) {
	if b.Pending == 0 || svc.SecondReviewerAbove < 0 || b.Pending <= int64(svc.SecondReviewerAbove) {
		return "", nil
	}
	as, err := reviewdb.BatchApprovals(ctx, svc.DB, b.RunID, b.RuleID)
	if err != nil {
		return "", err
	}
	var names []string
	for _, a := range as {
		if a.Proposals >= b.Pending {
			names = append(names, a.UserName)
		}
	}
	if len(names) == 0 {
		return "needs two reviewers", nil
	}
	return "approved by " + strings.Join(names, ", ") + ", awaiting a second reviewer", nil
}

// reviewShowBatch prints a page of a batch's proposals.
func reviewShowBatch(ctx context.Context, w io.Writer, db *database.DB, t reviewdb.Selection, f reviewFlags) error {
	b, err := reviewdb.GetBatch(ctx, db, t.RunID, t.RuleID)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Batch %s: rule %s (%s) of ruleset %s, run %d as of %s.\n",
		b.Key(), b.RuleID, b.Kind, b.Ruleset, b.RunID, b.AsOf.Format(time.DateOnly))
	fmt.Fprintf(w, "%s pending, worth %s a year to customers (median %s); %s approved, %s rejected, %s expired.\n",
		count(b.Pending), formatMoney(b.Value, b.Currency), formatMoney(b.Median, b.Currency), count(b.Approved), count(b.Rejected), count(b.Expired))
	if b.Control > 0 {
		fmt.Fprintf(w, "%s more in the control group: never reviewed or sent (see goodturn outcomes).\n", count(b.Control))
	}
	as, err := reviewdb.BatchApprovals(ctx, db, b.RunID, b.RuleID)
	if err != nil {
		return err
	}
	for _, a := range as {
		fmt.Fprintf(w, "Approved by %s at %s, awaiting a second reviewer.\n", a.UserName, a.DecidedAt.Local().Format("2006-01-02 15:04"))
	}
	status := f.status
	if status == store.ProposalPending {
		status = ""
	}
	ps, total, err := reviewdb.BatchProposals(ctx, db, t.RunID, t.RuleID, reviewdb.ProposalPage{
		Status: status, MinValue: f.minValue, MaxValue: f.maxValue, Limit: f.limit, Offset: f.offset})
	if err != nil {
		return err
	}
	what := f.status + " proposals"
	if f.status == "all" {
		what = "proposals"
	}
	fmt.Fprintln(w)
	if len(ps) == 0 {
		fmt.Fprintf(w, "No %s here (%s in all).\n", what, count(total))
		return nil
	}
	head := []string{"id", "customer", "yearly value", "offer"}
	if f.status != store.ProposalPending {
		head = []string{"id", "customer", "yearly value", "status", "offer"}
	}
	rows := [][]string{head}
	for _, p := range ps {
		row := []string{strconv.FormatInt(p.ID, 10), strconv.FormatInt(p.CustomerID, 10), formatMoney(p.Value, p.Currency)}
		if f.status != store.ProposalPending {
			row = append(row, p.Status)
		}
		rows = append(rows, append(row, describeOffer(p.Offer, p.Evidence, p.Currency)))
	}
	printTable(w, leftLast(rows), 0)
	end := f.offset + len(ps)
	span := count(int64(f.offset+1)) + "–" + count(int64(end))
	if len(ps) == 1 {
		span = count(int64(end))
	}
	fmt.Fprintf(w, "\n%s %s of %s.", strings.ToUpper(what[:1])+what[1:], span, count(total))
	if int64(end) < total {
		fmt.Fprintf(w, " --offset %d shows the next.", end)
	}
	fmt.Fprintln(w)
	return nil
}

// describeOffer writes an offer's fields as name=value, sorted.
func describeOffer(offer, evidence json.RawMessage, currency string) string {
	isMoney := rules.EvidenceMoney(evidence, offer)
	var m map[string]any
	if err := json.Unmarshal(offer, &m); err != nil {
		return string(offer)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + jsonValue(k, m[k], currency, isMoney)
	}
	return strings.Join(parts, " ")
}

// jsonValue writes one decoded JSON value for a person: whole amounts of
// money as money, strings unquoted when they have no spaces.
func jsonValue(name string, v any, currency string, isMoney func(string) bool) string {
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) && isMoney(name) {
			return rules.FormatMoney(int(x), currency)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		if x == "" || strings.ContainsAny(x, " \t\n\"=") {
			return strconv.Quote(x)
		}
		return x
	case nil:
		return "none"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// showMessage prints the message a proposal would send, exactly as the
// review page and the outbox render it; a rule no longer among the
// rulesets is said, not an error.
func (f *reviewFlags) showMessage(ctx context.Context, w io.Writer, bdb *database.DB, p *reviewdb.ReviewedProposal) error {
	var rule *rules.Rule
	sets, _ := f.loadRulesets(nil)
	for _, rs := range sets {
		if rs.Name == p.Ruleset {
			rule = rs.Rule(p.RuleID)
		}
	}
	if rule == nil {
		fmt.Fprintf(w, "\nMessage: rule %s/%s is not among the rulesets, so its message cannot be shown.\n", p.Ruleset, p.RuleID)
		return nil
	}
	cust, err := (&billing.Reader{DB: bdb}).Customer(ctx, p.CustomerID)
	if err != nil {
		fmt.Fprintf(w, "\nMessage: the customer cannot be read: %s\n", termSafe(err.Error()))
		return nil
	}
	tmpls, err := notify.LoadTemplates(rule)
	if err != nil {
		return err
	}
	m, err := tmpls.RenderProposal(notify.Proposal{Value: p.Value, Currency: p.Currency, Offer: p.Offer, Evidence: p.Evidence}, cust)
	if err != nil {
		fmt.Fprintf(w, "\nMessage: it cannot be rendered: %s\n", termSafe(err.Error()))
		return nil
	}
	fmt.Fprintf(w, "\nMessage, on %s", strings.Join(m.Channels, " and "))
	if m.Fallback {
		fmt.Fprintf(w, " (in %s: no template in the language of %q)", notify.LanguageName(m.Language), cust.Locale)
	}
	fmt.Fprintln(w, ":")
	if m.Subject != "" {
		fmt.Fprintf(w, "  Subject: %s\n\n", termSafe(m.Subject))
		for _, line := range strings.Split(m.Text, "\n") {
			fmt.Fprintf(w, "  %s\n", termSafe(line))
		}
	}
	if m.SMS != "" {
		fmt.Fprintf(w, "\n  SMS: %s\n", termSafe(m.SMS))
	}
	return nil
}

// reviewShowProposal prints one proposal with its offer and evidence.
func reviewShowProposal(ctx context.Context, w io.Writer, bdb *database.DB, p *reviewdb.ReviewedProposal) {
	fmt.Fprintf(w, "Proposal %d: %s (%s) for %s, worth %s a year — %s.\n",
		p.ID, p.RuleID, p.Kind, customerLabel(p.CustomerID, accountNo(ctx, bdb, p.CustomerID)), formatMoney(p.Value, p.Currency), p.Status)
	fmt.Fprintf(w, "Batch %s of ruleset %s, as of %s; rule version %s.\n",
		store.BatchKey(p.RunID, p.RuleID), p.Ruleset, p.AsOf.Format(time.DateOnly), p.RuleVersion)
	if p.DecidedBy != "" {
		fmt.Fprintf(w, "%s by %s at %s.\n", strings.ToUpper(p.Status[:1])+p.Status[1:], termSafe(p.DecidedBy), p.DecidedAt.Local().Format("2006-01-02 15:04"))
	}
	isMoney := rules.EvidenceMoney(p.Evidence, p.Offer)
	var offer map[string]any
	if err := json.Unmarshal(p.Offer, &offer); err == nil && len(offer) > 0 {
		fmt.Fprintln(w, "\nOffer:")
		keys := make([]string, 0, len(offer))
		for k := range offer {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %s =%s\n", k, spaced(evidenceValue(k, offer[k], p.Currency, "    ", isMoney)))
		}
	}
	var ev struct {
		Values  []rules.NamedValue   `json:"values"`
		Clauses []rules.ClauseResult `json:"clauses"`
		Facts   []rules.NamedValue   `json:"facts"`
	}
	if err := json.Unmarshal(p.Evidence, &ev); err != nil {
		fmt.Fprintf(w, "\nEvidence (unreadable: %v):\n%s\n", err, p.Evidence)
		return
	}
	if len(ev.Values) > 0 {
		fmt.Fprintln(w, "\nValues:")
		for _, v := range ev.Values {
			fmt.Fprintf(w, "  %s =%s\n", v.Name, spaced(evidenceValue(v.Name, v.Value, p.Currency, "    ", isMoney)))
		}
	}
	if len(ev.Clauses) > 0 {
		fmt.Fprintln(w, "\nWhen (all must hold):")
		for _, c := range ev.Clauses {
			mark, val := "✗", evidenceValue("", c.Value, p.Currency, "    ", isMoney)
			switch {
			case !c.Evaluated:
				mark, val = "?", "not evaluated"
			case c.Value == true:
				mark = "✓"
			}
			fmt.Fprintf(w, "  %s %s  → %s\n", mark, c.Clause, val)
		}
	}
	if len(ev.Facts) > 0 {
		fmt.Fprintln(w, "\nFacts read:")
		for _, v := range ev.Facts {
			fmt.Fprintf(w, "  %s =%s\n", v.Name, spaced(evidenceValue(v.Name, v.Value, p.Currency, "    ", isMoney)))
		}
	}
	if len(ev.Values)+len(ev.Clauses)+len(ev.Facts) == 0 {
		fmt.Fprintln(w, "\nNo evidence recorded.")
	}

}

// evidenceValue writes a decoded JSON value of the evidence: amounts of
// money with the money beside them, strings quoted, lists of plain values
// on one line, objects as indented lines of name: value.
func evidenceValue(name string, v any, currency, indent string, isMoney func(string) bool) string {
	switch x := v.(type) {
	case float64:
		s := strconv.FormatFloat(x, 'f', -1, 64)
		if x == float64(int64(x)) && isMoney(name) {
			s += " (" + rules.FormatMoney(int(x), currency) + ")"
		}
		return s
	case string:
		return strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return "none"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			switch e.(type) {
			case map[string]any, []any:
				b, _ := json.Marshal(x)
				return string(b)
			}
			parts[i] = evidenceValue("", e, currency, indent, isMoney)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			b.WriteString("\n" + indent + k + ":" + spaced(evidenceValue(k, x[k], currency, indent+"  ", isMoney)))
		}
		return b.String()
	}
	return fmt.Sprint(v)
}

// spaced puts a space before a value that goes on the same line.
func spaced(v string) string {
	if strings.HasPrefix(v, "\n") {
		return v
	}
	return " " + v
}

// reviewAudit prints the audit log, newest first.
func reviewAudit(ctx context.Context, w io.Writer, db *database.DB, f reviewFlags) error {
	es, err := store.ListAudit(ctx, db, store.AuditFilter{Actor: f.actor, Action: f.action, Limit: f.limit})
	if err != nil {
		return err
	}
	if len(es) == 0 {
		fmt.Fprintln(w, "The audit log is empty.")
		return nil
	}
	rows := [][]string{{"id", "at", "actor", "action", "subject", "comment", "detail"}}
	for _, e := range es {
		detail := string(e.Detail)
		if detail == "{}" {
			detail = ""
		}
		rows = append(rows, []string{strconv.FormatInt(e.ID, 10), e.At.Local().Format("2006-01-02 15:04:05"), e.Actor, e.Action, e.Subject,
			oneLine(e.Comment), detail})
	}
	printTable(w, rows, 7)
	return nil
}

// oneLine keeps a comment on one line of a table.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
