package billing

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/rules"
)

// DefaultMonths is how many complete months of usage a rule sees.
const DefaultMonths = 6

// DefaultHistoryMonths is how far back charges and events are read.
const DefaultHistoryMonths = 24

// Reader assembles customers' facts from the billing relations.
type Reader struct {
	// DB holds the billing relations.
	DB *database.DB
	// Months is the number of complete calendar months of usage read
	// before the month of Now; DefaultMonths when zero.
	Months int
	// HistoryMonths is how many months of charges and events are read;
	// DefaultHistoryMonths when zero.
	HistoryMonths int
}

// Range is a half-open range of customer ids [From, To). A zero To means no
// upper bound.
type Range struct {
	From, To int64
}

// Window is the period a read covers.
type Window struct {
	// UsageFrom and UsageTo bound the usage months read: [UsageFrom, UsageTo).
	UsageFrom, UsageTo time.Time
	// HistoryFrom is the first day of charges and events read.
	HistoryFrom time.Time
}

// Window returns the period a read at now covers.
func (r *Reader) Window(now time.Time) Window {
	months := r.Months
	if months <= 0 {
		months = DefaultMonths
	}
	hist := r.HistoryMonths
	if hist <= 0 {
		hist = DefaultHistoryMonths
	}
	now = now.UTC()
	to := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	return Window{
		UsageFrom:   to.AddDate(0, -months, 0),
		UsageTo:     to,
		HistoryFrom: to.AddDate(0, -hist, 0),
	}
}

// Catalogue reads the plan catalogue with its allowances, ordered by id.
func (r *Reader) Catalogue(ctx context.Context) ([]rules.Plan, error) {
	rows, err := r.DB.QueryContext(ctx, `SELECT id, name, monthly_price, currency, available, attrs FROM plans ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read plans: %w", err)
	}
	defer rows.Close()
	var plans []rules.Plan
	index := map[string]int{}
	for rows.Next() {
		var p rules.Plan
		if err := rows.Scan(&p.ID, &p.Name, &p.MonthlyPrice, &p.Currency, &p.Available, attrs{&p.Attrs}); err != nil {
			return nil, fmt.Errorf("read plans: %w", err)
		}
		p.Allowances = map[string]rules.Allowance{}
		index[p.ID] = len(plans)
		plans = append(plans, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read plans: %w", err)
	}
	rows.Close()

	arows, err := r.DB.QueryContext(ctx, `SELECT plan_id, meter, included, overage_rate FROM plan_allowances ORDER BY plan_id, meter`)
	if err != nil {
		return nil, fmt.Errorf("read plan allowances: %w", err)
	}
	defer arows.Close()
	for arows.Next() {
		var (
			planID string
			a      rules.Allowance
		)
		if err := arows.Scan(&planID, &a.Meter, nullInt{&a.Included, &a.Unlimited}, rate{&a.OverageRate}); err != nil {
			return nil, fmt.Errorf("read plan allowances: %w", err)
		}
		i, ok := index[planID]
		if !ok {
			return nil, fmt.Errorf("read plan allowances: plan %q of meter %q is not in plans", planID, a.Meter)
		}
		plans[i].Allowances[a.Meter] = a
	}
	if err := arows.Err(); err != nil {
		return nil, fmt.Errorf("read plan allowances: %w", err)
	}
	return plans, nil
}

// Stats counts what a read saw.
type Stats struct {
	Customers int
}

// streamBatch is how many rows a stream's reader hands over at a time.
const streamBatch = 512

// item is one row of a stream with its customer id.
type item[T any] struct {
	id int64
	v  T
}

// stream is one ordered query whose rows are consumed customer by customer.
// A goroutine of its own scans the rows, so that the relations are read in
// parallel with each other and with the merge.
type stream[T any] struct {
	name string
	ch   chan []item[T]
	buf  []item[T]
	pos  int
	cur  *item[T]
	ok   bool
	err  error
	// readErr is set by the reading goroutine before it closes ch.
	readErr error
}

func (s *stream[T]) next() {
	s.pos++
	for s.pos >= len(s.buf) {
		b, open := <-s.ch
		if !open {
			s.ok, s.cur, s.err = false, nil, s.readErr
			return
		}
		s.buf, s.pos = b, 0
	}
	s.cur, s.ok = &s.buf[s.pos], true
}

// take calls add for every row of customer id, skipping rows of customers
// before it (rows with no customer).
func (s *stream[T]) take(id int64, add func(*T)) error {
	for s.ok && s.cur.id < id {
		s.next()
	}
	for s.ok && s.cur.id == id {
		add(&s.cur.v)
		s.next()
	}
	return s.err
}

// open starts a query and the goroutine that scans its rows. The goroutine
// stops when ctx is cancelled.
func open[T any](ctx context.Context, db *database.DB, name, query string, args []any, scan func(*sql.Rows, *int64, *T) error) (*stream[T], error) {
	rows, err := db.QueryContext(ctx, db.Rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	s := &stream[T]{name: name, ch: make(chan []item[T], 4), pos: -1}
	go func() {
		defer close(s.ch)
		defer rows.Close()
		send := func(b []item[T]) bool {
			select {
			case s.ch <- b:
				return true
			case <-ctx.Done():
				s.readErr = fmt.Errorf("read %s: %w", name, ctx.Err())
				return false
			}
		}
		batch := make([]item[T], 0, streamBatch)
		for rows.Next() {
			batch = batch[:len(batch)+1]
			it := &batch[len(batch)-1]
			if err := scan(rows, &it.id, &it.v); err != nil {
				s.readErr = fmt.Errorf("read %s: %w", name, err)
				return
			}
			if len(batch) == streamBatch {
				if !send(batch) {
					return
				}
				batch = make([]item[T], 0, streamBatch)
			}
		}
		if err := rows.Err(); err != nil {
			s.readErr = fmt.Errorf("read %s: %w", name, err)
			return
		}
		if err := ctx.Err(); err != nil {
			s.readErr = fmt.Errorf("read %s: %w", name, err)
			return
		}
		if len(batch) > 0 {
			send(batch)
		}
	}()
	s.next()
	return s, nil
}

type usageRow struct {
	month  time.Time
	meters string
}

// parseMeters reads a month's meters as the usage query joins them:
// "data_mb=2048,minutes=300".
func parseMeters(s string) (rules.UsageMonth, error) {
	m := make(rules.UsageMonth, strings.Count(s, ",")+1)
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, ",")
		name, qty, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("bad meter %q", pair)
		}
		n, err := strconv.Atoi(qty)
		if err != nil {
			return nil, fmt.Errorf("meter %s: %w", name, err)
		}
		m[name] += n
	}
	return m, nil
}

type subRow struct {
	rules.Subscription
}

// Read streams the facts of every customer in rng, in id order, to fn. The
// catalogue is shared by every customer's facts and must not be modified.
// It issues one ordered query per relation, whatever the number of
// customers.
func (r *Reader) Read(ctx context.Context, rng Range, now time.Time, catalogue []rules.Plan, fn func(rules.Facts) error) (Stats, error) {
	var st Stats
	w := r.Window(now)
	to := rng.To
	if to <= 0 {
		to = 1<<63 - 1
	}
	byID := make(map[string]*rules.Plan, len(catalogue))
	for i := range catalogue {
		byID[catalogue[i].ID] = &catalogue[i]
	}
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	ids := []any{rng.From, to}
	day := func(t time.Time) string { return t.Format(time.DateOnly) }

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	customers, err := open(ctx, r.DB, "customers",
		`SELECT id, name, email, phone, locale, timezone, CAST(joined_on AS TEXT), segment, marketing_opt_in, contact_opt_out, attrs
		 FROM customers WHERE id >= ? AND id < ? ORDER BY id`, ids,
		func(rows *sql.Rows, id *int64, c *rules.Customer) error {
			err := rows.Scan(&c.ID, &c.Name, &c.Email, &c.Phone, &c.Locale, &c.Timezone, date(&c.JoinedOn),
				&c.Segment, &c.MarketingOptIn, &c.ContactOptOut, attrs{&c.Attrs})
			*id = c.ID
			return err
		})
	if err != nil {
		return st, err
	}

	subs, err := open(ctx, r.DB, "subscriptions",
		`SELECT customer_id, plan_id, CAST(started_on AS TEXT), CAST(contract_ends_on AS TEXT), device_monthly, CAST(device_paid_off_on AS TEXT)
		 FROM subscriptions WHERE customer_id >= ? AND customer_id < ? ORDER BY customer_id, started_on DESC`, ids,
		func(rows *sql.Rows, id *int64, s *subRow) error {
			return rows.Scan(id, &s.PlanID, date(&s.StartedOn), date(&s.ContractEndsOn), &s.DeviceMonthly, date(&s.DevicePaidOffOn))
		})
	if err != nil {
		return st, err
	}

	addons, err := open(ctx, r.DB, "addons",
		`SELECT customer_id, addon_id, name, monthly_price, CAST(started_on AS TEXT), CAST(last_used_on AS TEXT)
		 FROM addons WHERE customer_id >= ? AND customer_id < ? ORDER BY customer_id, addon_id`, ids,
		func(rows *sql.Rows, id *int64, a *rules.Addon) error {
			return rows.Scan(id, &a.ID, &a.Name, &a.MonthlyPrice, date(&a.StartedOn), date(&a.LastUsedOn))
		})
	if err != nil {
		return st, err
	}

	// One row per customer and month, its meters joined as
	// "data_mb=2048,minutes=300": a third of the rows to send and scan. The
	// months come oldest first, in the primary key's order, and are turned
	// newest first below.
	agg := "string_agg(meter || '=' || CAST(quantity AS TEXT), ',')"
	if !r.DB.IsPostgres() {
		agg = "group_concat(meter || '=' || CAST(quantity AS TEXT), ',')"
	}
	usage, err := open(ctx, r.DB, "usage",
		`SELECT customer_id, CAST(month AS TEXT), `+agg+`
		 FROM usage WHERE customer_id >= ? AND customer_id < ? AND month >= ? AND month < ?
		 GROUP BY customer_id, month
		 ORDER BY customer_id, month`, []any{rng.From, to, day(w.UsageFrom), day(w.UsageTo)},
		func(rows *sql.Rows, id *int64, u *usageRow) error {
			return rows.Scan(id, date(&u.month), &u.meters)
		})
	if err != nil {
		return st, err
	}

	charges, err := open(ctx, r.DB, "charges",
		`SELECT customer_id, id, CAST(charged_on AS TEXT), kind, amount, waived
		 FROM charges WHERE customer_id >= ? AND customer_id < ? AND charged_on >= ?
		 ORDER BY customer_id, charged_on DESC, id DESC`, []any{rng.From, to, day(w.HistoryFrom)},
		func(rows *sql.Rows, id *int64, c *rules.Charge) error {
			return rows.Scan(id, &c.ID, date(&c.ChargedOn), &c.Kind, &c.Amount, &c.Waived)
		})
	if err != nil {
		return st, err
	}

	events, err := open(ctx, r.DB, "events",
		`SELECT customer_id, id, occurred_at, kind, attrs
		 FROM events WHERE customer_id >= ? AND customer_id < ? AND occurred_at >= ?
		 ORDER BY customer_id, occurred_at DESC, id DESC`, []any{rng.From, to, day(w.HistoryFrom)},
		func(rows *sql.Rows, id *int64, e *rules.Event) error {
			return rows.Scan(id, &e.ID, date(&e.OccurredAt), &e.Kind, attrs{&e.Attrs})
		})
	if err != nil {
		return st, err
	}

	for customers.ok {
		c := customers.cur.v
		f := rules.Facts{Customer: c, Plans: catalogue, Now: now, Today: today}
		id := c.ID
		if err := subs.take(id, func(s *subRow) {
			if f.Subscription.PlanID == "" { // newest first: keep the current one
				f.Subscription = s.Subscription
			}
		}); err != nil {
			return st, err
		}
		if p, ok := byID[f.Subscription.PlanID]; ok {
			f.Plan = *p
			f.Currency = p.Currency
		}
		if err := addons.take(id, func(a *rules.Addon) { f.Addons = append(f.Addons, *a) }); err != nil {
			return st, err
		}
		var usageErr error
		if err := usage.take(id, func(u *usageRow) {
			m, err := parseMeters(u.meters)
			if err != nil && usageErr == nil {
				usageErr = fmt.Errorf("read usage of customer %d: %w", id, err)
			}
			f.Months = append(f.Months, u.month)
			f.Usage = append(f.Usage, m)
		}); err != nil {
			return st, err
		}
		if usageErr != nil {
			return st, usageErr
		}
		slices.Reverse(f.Months)
		slices.Reverse(f.Usage)
		if err := charges.take(id, func(ch *rules.Charge) { f.Charges = append(f.Charges, *ch) }); err != nil {
			return st, err
		}
		if err := events.take(id, func(e *rules.Event) { f.Events = append(f.Events, *e) }); err != nil {
			return st, err
		}
		st.Customers++
		if err := fn(f); err != nil {
			return st, err
		}
		customers.next()
	}
	if customers.err != nil {
		return st, customers.err
	}
	return st, nil
}

// Customer reads one customer, for showing a message or an explanation;
// runs never call it.
func (r *Reader) Customer(ctx context.Context, id int64) (rules.Customer, error) {
	var c rules.Customer
	err := r.DB.QueryRowContext(ctx, r.DB.Rebind(
		`SELECT id, name, email, phone, locale, timezone, CAST(joined_on AS TEXT), segment, marketing_opt_in, contact_opt_out, attrs
		 FROM customers WHERE id = ?`), id).
		Scan(&c.ID, &c.Name, &c.Email, &c.Phone, &c.Locale, &c.Timezone, date(&c.JoinedOn),
			&c.Segment, &c.MarketingOptIn, &c.ContactOptOut, attrs{&c.Attrs})
	if err != nil {
		return c, fmt.Errorf("read customer %d: %w", id, err)
	}
	return c, nil
}
