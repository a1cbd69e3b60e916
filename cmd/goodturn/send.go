package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/queue"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/channel"
	"github.com/goodturn/goodturn/notify/outbox"
	"github.com/goodturn/goodturn/notify/outbox/outboxdb"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

// sendFlags are the sender's flags: its channels and its manners.
type sendFlags struct {
	smtpHost, smtpTLS, smtpUser, smtpFrom string
	smtpPort                              int
	webhookURL, smsWebhookURL, billingURL string
	logOnly                               bool
	rate, hours, defaultZone              string
	rescueAfter                           *time.Duration
	maxAttempts, workers                  int
	holdEmail                             bool
}

func (s *sendFlags) bind(env *Env, fs *flag.FlagSet) {
	def := func(key, fallback string) string {
		if v := env.Getenv(key); v != "" {
			return v
		}
		return fallback
	}
	fs.StringVar(&s.smtpHost, "smtp-host", def("GOODTURN_SMTP_HOST", ""), "the SMTP server that sends email (GOODTURN_SMTP_HOST)")
	intVar(fs, &s.smtpPort, "smtp-port", 0, 0, 65535, "its port; 587, or 465 with --smtp-tls tls (GOODTURN_SMTP_PORT)")
	fs.StringVar(&s.smtpTLS, "smtp-tls", def("GOODTURN_SMTP_TLS", channel.TLSStartTLS), "starttls (required), opportunistic, tls (implicit, port 465) or none (GOODTURN_SMTP_TLS)")
	fs.StringVar(&s.smtpUser, "smtp-user", def("GOODTURN_SMTP_USER", ""), "the SMTP user; the password is read from GOODTURN_SMTP_PASSWORD (GOODTURN_SMTP_USER)")
	fs.StringVar(&s.smtpFrom, "smtp-from", def("GOODTURN_SMTP_FROM", ""), `the From of every email, like "Mobile Co <hello@mobile.example>" (GOODTURN_SMTP_FROM)`)
	fs.StringVar(&s.webhookURL, "webhook-url", def("GOODTURN_WEBHOOK_URL", ""), "where messages of the webhook channel are posted (GOODTURN_WEBHOOK_URL)")
	fs.StringVar(&s.smsWebhookURL, "sms-webhook-url", def("GOODTURN_SMS_WEBHOOK_URL", ""), "the SMS gateway webhook that sms messages are posted to (GOODTURN_SMS_WEBHOOK_URL)")
	fs.StringVar(&s.billingURL, "billing-webhook-url", def("GOODTURN_BILLING_WEBHOOK_URL", ""), "the billing webhook that actions (waive a charge, ship a SIM) are posted to (GOODTURN_BILLING_WEBHOOK_URL)")
	fs.BoolVar(&s.logOnly, "log", false, "write the messages of channels with no transport to stdout instead of sending them (the demo)")
	fs.StringVar(&s.rate, "rate", def("GOODTURN_SEND_RATE", ""), "rate limits per channel, like email=10/s,sms=5/s (GOODTURN_SEND_RATE)")
	fs.StringVar(&s.hours, "send-hours", def("GOODTURN_SEND_HOURS", "08:00-20:00"), "the hours of the customer's day messages may arrive in, or always (GOODTURN_SEND_HOURS)")
	fs.StringVar(&s.defaultZone, "default-timezone", def("GOODTURN_DEFAULT_TIMEZONE", "UTC"), "the time zone of customers with none")
	s.rescueAfter = durationIn(fs, "send-rescue-after", outbox.DefaultRescueAfter, time.Minute,
		"how long a send job may run before River takes its sender for stopped and another sends the message again, with its key")
	intVar(fs, &s.maxAttempts, "max-attempts", outbox.DefaultMaxAttempts, 1, 1000, "attempts a message has before it is dead: those of the send jobs this process inserts, and at most this many for those it works")
	intVar(fs, &s.workers, "send-workers", 10, 1, 1000, "how many messages of each channel this process sends at once")
	fs.BoolVar(&s.holdEmail, "hold-uncertain-email", false, "mark an email whose sender stopped mid-send dead for an admin, instead of sending it again with the same Message-ID")
}

// outboxChannels are the channels of outbox messages.
var outboxChannels = []string{"email", "sms", "webhook", outbox.ActionChannel}

// sender builds the sender the flags describe.
func (s *sendFlags) sender(env *Env, c *config) (*outbox.Sender, []string, error) {
	now, err := c.clock()
	if err != nil {
		return nil, nil, err
	}
	quiet, err := outbox.ParseWindow(s.hours)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: --send-hours: %v", errUsage, err)
	}
	if quiet.Default, err = time.LoadLocation(s.defaultZone); err != nil {
		return nil, nil, fmt.Errorf("%w: --default-timezone: %v", errUsage, err)
	}
	limits, err := outbox.ParseRates(s.rate)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: --rate: %v", errUsage, err)
	}
	chans := map[string]channel.Channel{}
	if s.smtpHost != "" {
		e := &channel.Email{Host: s.smtpHost, Port: s.smtpPort, TLS: s.smtpTLS, User: s.smtpUser,
			Password: env.Getenv("GOODTURN_SMTP_PASSWORD"), From: s.smtpFrom}
		if err := e.Check(); err != nil {
			return nil, nil, fmt.Errorf("%w: %v (set --smtp-from)", errUsage, err)
		}
		chans["email"] = e
	}
	secret := []byte(env.Getenv("GOODTURN_WEBHOOK_SECRET"))
	hook := func(url string) (channel.Webhook, error) {
		if len(secret) == 0 {
			return channel.Webhook{}, fmt.Errorf("%w: webhooks are signed: set GOODTURN_WEBHOOK_SECRET", errUsage)
		}
		return channel.Webhook{URL: url, Secret: secret}, nil
	}
	for name, url := range map[string]string{"webhook": s.webhookURL, "sms": s.smsWebhookURL, outbox.ActionChannel: s.billingURL} {
		if url == "" {
			continue
		}
		w, err := hook(url)
		if err != nil {
			return nil, nil, err
		}
		if name == outbox.ActionChannel {
			chans[name] = &channel.Billing{Webhook: w}
		} else {
			chans[name] = &w
		}
	}
	var missing []string
	for _, name := range outboxChannels {
		if chans[name] != nil {
			continue
		}
		if s.logOnly {
			chans[name] = &channel.Log{W: env.Stdout}
		} else {
			missing = append(missing, name)
		}
	}
	return &outbox.Sender{Channels: chans, Now: now, Quiet: quiet, Limits: limits, HoldUncertainEmail: s.holdEmail, MaxAttempts: s.maxAttempts,
		Logger: env.Logger}, missing, nil
}

// client returns a River client on snd's database that works the send
// queues of snd's channels — nil when it has none: every message waits —
// and the jobs the flags' attempts insert through a client of its own.
func (s *sendFlags) client(snd *outbox.Sender, log *slog.Logger) (*queue.Client, *outbox.Jobs, error) {
	if len(snd.Channels) == 0 {
		inserter, err := queue.NewClient(snd.DB, queue.Config{Logger: log})
		if err != nil {
			return nil, nil, err
		}
		return nil, &outbox.Jobs{Client: inserter, MaxAttempts: s.maxAttempts}, nil
	}
	workers := river.NewWorkers()
	outbox.AddWorker(workers, snd)
	c, err := queue.NewClient(snd.DB, queue.Config{Workers: workers, Queues: snd.Queues(s.workers), Logger: log,
		RescueStuckJobsAfter: *s.rescueAfter})
	if err != nil {
		return nil, nil, err
	}
	return c, &outbox.Jobs{Client: c, MaxAttempts: s.maxAttempts}, nil
}

func sendOnce(ctx context.Context, x *call) error {
	env, c, fs := x.Env, &x.config, x.Flags
	var sf sendFlags
	sf.bind(env, fs)
	_, err := x.Parse()
	if err != nil {
		return err
	}
	snd, missing, err := sf.sender(env, c)
	if err != nil {
		return err
	}
	sets, err := c.loadRulesets(nil)
	if err != nil {
		return fmt.Errorf("load rulesets: %w", err)
	}
	db, bdb, err := x.Databases(ctx)
	if err != nil {
		return err
	}
	snd.DB = db
	client, jobs, err := sf.client(snd, env.Logger)
	if err != nil {
		return err
	}
	out := env.Stdout
	adopted, err := jobs.Adopt(ctx, db)
	if err != nil {
		return err
	}
	if adopted > 0 {
		fmt.Fprintf(out, "Gave %d messages queued by an earlier version their send jobs.\n", adopted)
	}
	if settled, err := jobs.Settle(ctx, db); err != nil {
		return err
	} else if settled > 0 {
		fmt.Fprintf(out, "%d messages whose send job River gave up are dead letters now (goodturn send list --status dead).\n", settled)
	}
	enq := &outbox.Enqueuer{DB: db, Customers: &billing.Reader{DB: bdb}, Rulesets: sets, Jobs: jobs, Now: snd.Now}
	res, err := enq.Enqueue(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Enqueued %d approved proposals: %d messages, %d billing actions, %d skipped (no address or opted out).\n",
		res.Proposals, res.Messages, res.Actions, res.Skipped)
	for _, f := range res.Failed {
		fmt.Fprintf(out, "  not enqueued: %v\n", f)
	}
	var rep outbox.Report
	if client != nil {
		rep, err = snd.RunOnce(ctx, client)
	}
	printSendReport(env, rep)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		counts, err := outboxdb.Counts(ctx, db)
		if err != nil {
			return err
		}
		for _, ch := range missing {
			if n := counts[ch][outboxdb.Queued] + counts[ch][outboxdb.Sending]; n > 0 {
				fmt.Fprintf(out, "%d %s messages wait: no %s transport is configured (%s, or --log to write them out).\n", n, ch, ch, transportHint[ch])
			}
		}
	}
	if len(res.Failed) > 0 {
		return fmt.Errorf("%d approved proposals could not be enqueued", len(res.Failed))
	}
	return nil
}

var transportHint = map[string]string{
	"email":              "--smtp-host and --smtp-from",
	"sms":                "--sms-webhook-url",
	"webhook":            "--webhook-url",
	outbox.ActionChannel: "--billing-webhook-url",
}

// printSendReport prints what a pass did: counts per result and channel,
// the messages deferred to quiet hours, retried or dead.
func printSendReport(env *Env, rep outbox.Report) {
	out := env.Stdout
	if len(rep.Outcomes) == 0 {
		fmt.Fprintln(out, "No messages were due.")
		return
	}
	type key struct{ result, channel string }
	counts := map[key]int{}
	for _, o := range rep.Outcomes {
		counts[key{o.Result, o.Channel}]++
	}
	labels := []struct{ result, label string }{
		{outbox.ResultSent, "sent"},
		{outbox.ResultDeferred, "waiting for the customer's sending hours"},
		{outbox.ResultLimited, "waiting for the channel's rate limit"},
		{outbox.ResultRetry, "failed, will retry"},
		{outbox.ResultDead, "dead"},
		{outbox.ResultLost, "changed by another run of its job"},
	}
	for _, l := range labels {
		var parts []string
		total := 0
		for k, n := range counts {
			if k.result == l.result {
				parts = append(parts, fmt.Sprintf("%s %d", k.channel, n))
				total += n
			}
		}
		if total == 0 {
			continue
		}
		sort.Strings(parts)
		fmt.Fprintf(out, "%-42s %d (%s)\n", l.label+":", total, strings.Join(parts, ", "))
	}
	resent := 0
	for _, o := range rep.Outcomes {
		if o.Resend && o.Result == outbox.ResultSent {
			resent++
		}
	}
	if resent > 0 {
		fmt.Fprintf(out, "%d of the sent were sent again after a sender stopped mid-send, with the same idempotency key.\n", resent)
	}
	var rows [][]string
	for _, o := range rep.Outcomes {
		switch o.Result {
		case outbox.ResultRetry:
			rows = append(rows, []string{strconv.FormatInt(o.ID, 10), o.Key, "will retry", o.Error})
		case outbox.ResultDead:
			rows = append(rows, []string{strconv.FormatInt(o.ID, 10), o.Key, "dead", o.Error})
		}
	}
	if len(rows) > 0 {
		fmt.Fprintln(out)
		printTable(out, append([][]string{{"id", "key", "status", "error"}}, rows...), 4)
		fmt.Fprintln(out, "\nRetry a dead message with `goodturn send retry ID`.")
	}
}

func sendList(ctx context.Context, x *call) error {
	env, fs := x.Env, x.Flags
	status := fs.String("status", "", "only messages with this status")
	ch := fs.String("channel", "", "only messages of this channel")
	limit := intIn(fs, "limit", 50, 0, math.MaxInt, "at most this many, newest first")
	_, err := x.Parse()
	if err != nil {
		return err
	}
	db, err := x.DB(ctx)
	if err != nil {
		return err
	}
	ms, err := outboxdb.List(ctx, db, outboxdb.Filter{Status: *status, Channel: *ch, Limit: *limit})
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		fmt.Fprintln(env.Stdout, "No messages.")
		return nil
	}
	rows := [][]string{{"id", "key", "channel", "to", "status", "attempts", "when", "last error"}}
	for _, m := range ms {
		when := ""
		if m.Status == outboxdb.Sent {
			when = m.SentAt.UTC().Format(time.RFC3339)
		}
		to := m.Recipient
		if to == "" {
			to = fmt.Sprintf("customer %d", m.CustomerID)
		}
		rows = append(rows, []string{strconv.FormatInt(m.ID, 10), m.Key, m.Channel, to, m.Status, strconv.Itoa(m.Attempts), when, m.LastError})
	}
	printTable(env.Stdout, rows, 8)
	return nil
}

func sendRetry(ctx context.Context, x *call) error {
	env, fs := x.Env, x.Flags
	all := fs.Bool("all", false, "queue again every dead message (that --channel and --error select)")
	ch := fs.String("channel", "", "with --all: only messages of this channel (email, sms, webhook, billing-action)")
	errText := fs.String("error", "", "with --all: only messages whose last error contains this text, ignoring case")
	positional, err := x.Parse()
	if err != nil {
		return err
	}
	var id int64
	switch {
	case *all && len(positional) > 0:
		return fmt.Errorf("%w: give an ID or --all, not both", errUsage)
	case !*all && (*ch != "" || *errText != ""):
		return fmt.Errorf("%w: --channel and --error go with --all", errUsage)
	case !*all:
		id, err = oneID(positional, "message id", "the id of one dead message (see `goodturn send list --status dead`), or --all")
		if err != nil {
			return err
		}
	}
	now := x.Now
	db, err := x.DB(ctx)
	if err != nil {
		return err
	}
	inserter, err := queue.NewClient(db, queue.Config{Logger: env.Logger})
	if err != nil {
		return err
	}
	jobs := &outbox.Jobs{Client: inserter}
	entry := &store.AuditEntry{At: now(), Actor: "cli:" + osUser(env), Action: "outbox_retry", Detail: json.RawMessage("{}")}
	if !*all {
		if err := jobs.Retry(ctx, db, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no message %d", id)
			}
			return err
		}
		entry.Subject = "message " + strconv.FormatInt(id, 10)
		if err := store.AddAudit(ctx, db, entry); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "Message %d is queued again; `goodturn send` (or serve) delivers it.\n", id)
		return nil
	}
	tx, err := database.Begin(ctx, db)
	if err != nil {
		return fmt.Errorf("retry dead messages: %w", err)
	}
	defer tx.Rollback()
	n, err := jobs.RetryDead(ctx, tx, outboxdb.DeadFilter{Channel: *ch, ErrorContains: *errText})
	if err != nil {
		return err
	}
	detail := map[string]any{"requeued": n}
	if *ch != "" {
		detail["channel"] = *ch
	}
	if *errText != "" {
		detail["error"] = *errText
	}
	entry.Subject = "dead messages"
	if entry.Detail, err = json.Marshal(detail); err != nil {
		return err
	}
	if n > 0 {
		if err := store.AddAudit(ctx, tx, entry); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("retry dead messages: %w", err)
	}
	if n == 0 {
		fmt.Fprintln(env.Stdout, "Requeued 0 dead messages.")
		return nil
	}
	what := count(int64(n)) + " dead messages"
	if n == 1 {
		what = "1 dead message"
	}
	fmt.Fprintf(env.Stdout, "Requeued %s; `goodturn send` (or serve) delivers them.\n", what)
	return nil
}

// enqueueApproved is the review's OnApprove: it enqueues the messages of
// what a decision approved, and their send jobs, in the decision's
// transaction. A proposal whose message cannot be rendered stays approved
// and is logged; the sender's next round tries it again.
func enqueueApproved(enq *outbox.Enqueuer, log *slog.Logger) func(context.Context, database.Querier, reviewdb.Selection) error {
	return func(ctx context.Context, tx database.Querier, t reviewdb.Selection) error {
		res, err := enq.EnqueueIn(ctx, tx, outboxdb.Approved{ProposalID: t.ProposalID, RunID: t.RunID, RuleID: t.RuleID})
		for _, f := range res.Failed {
			log.Error("outbox: enqueue on approval", "err", f)
		}
		return err
	}
}

// approvalOutbox returns the OnApprove of `review approve`: the approved
// proposals' messages and send jobs are enqueued with the decision, with
// the rulesets that load (a broken one's messages wait for the sender).
func approvalOutbox(x *call, db, bdb *database.DB) (func(context.Context, database.Querier, reviewdb.Selection) error, error) {
	inserter, err := queue.NewClient(db, queue.Config{Logger: x.Env.Logger})
	if err != nil {
		return nil, err
	}
	sets, _ := x.config.loadRulesetsPartly(nil)
	enq := &outbox.Enqueuer{DB: db, Customers: &billing.Reader{DB: bdb}, Rulesets: sets, Jobs: &outbox.Jobs{Client: inserter}, Now: x.Now}
	return enqueueApproved(enq, x.Env.Logger), nil
}
