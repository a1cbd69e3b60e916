package billing

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
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
	// OnRefuse, when set, is called with every customer Read refuses, in
	// id order (Stats keeps only a few).
	OnRefuse func(Refusal)
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

// Catalogue reads the plan catalogue with its allowances, ordered by id. It
// checks every row against the facts contract and returns a
// *CatalogueError listing every problem found: a NULL or negative price or
// rate, a NULL currency, a duplicated plan or (plan, meter) row, an
// allowance of a plan that is not in plans.
func (r *Reader) Catalogue(ctx context.Context) ([]rules.Plan, error) {
	rows, err := r.DB.QueryContext(ctx, `SELECT id, name, monthly_price, currency, available, attrs FROM plans ORDER BY id`)
	if err != nil {
		if missing := r.MissingRelations(ctx); len(missing) > 0 {
			return nil, fmt.Errorf("read plans: the billing data has no %s (tables or views): map your billing data onto them "+
				"as docs/billing-data.md describes, or point --billing-db at the database (and search_path) where they live", strings.Join(missing, ", "))
		}
		return nil, fmt.Errorf("read plans: %w", err)
	}
	defer rows.Close()
	var (
		plans    []rules.Plan
		problems []string
	)
	index := map[string]int{}
	badPlan := map[string]bool{}
	for rows.Next() {
		c, err := scanRaw(rows)
		if err != nil {
			return nil, fmt.Errorf("read plans: %w", err)
		}
		p := rules.Plan{ID: c.text(0, "id"), Name: c.text(1, "name")}
		key := fmt.Sprintf("plan %q", p.ID)
		if c.raw[0] == nil {
			key = fmt.Sprintf("plan named %q", p.Name)
		}
		price, _ := c.integer(2, "monthly_price", false, true)
		p.MonthlyPrice = int(price)
		p.Currency = c.text(3, "currency")
		p.Available = c.boolean(4, "available")
		p.Attrs = c.attrs(5, "attrs")
		if _, dup := index[p.ID]; (dup || badPlan[p.ID]) && c.raw[0] != nil {
			c.problem("duplicate row")
		}
		if len(c.problems) > 0 {
			problems = append(problems, c.reason("plans", key))
			badPlan[p.ID] = true
			continue
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
	seen := map[[2]string]bool{}
	for arows.Next() {
		c, err := scanRaw(arows)
		if err != nil {
			return nil, fmt.Errorf("read plan allowances: %w", err)
		}
		planID := c.text(0, "plan_id")
		a := rules.Allowance{Meter: c.text(1, "meter")}
		included, unlimited := c.integer(2, "included", true, true)
		a.Included, a.Unlimited = int(included), unlimited
		a.OverageRate = c.rate(3, "overage_rate")
		i, known := index[planID]
		switch k := [2]string{planID, a.Meter}; {
		case seen[k]:
			c.problem("duplicate row")
		case !known && c.raw[0] != nil && !badPlan[planID]:
			c.problem("plan %q is not in plans", planID)
		default:
			seen[k] = true
		}
		if len(c.problems) > 0 {
			problems = append(problems, c.reason("plan_allowances", fmt.Sprintf("plan %q meter %q", planID, a.Meter)))
			continue
		}
		if known {
			plans[i].Allowances[a.Meter] = a
		}
	}
	if err := arows.Err(); err != nil {
		return nil, fmt.Errorf("read plan allowances: %w", err)
	}
	if len(problems) > 0 {
		return nil, &CatalogueError{Problems: problems}
	}
	return plans, nil
}

// Stats counts what a read saw.
type Stats struct {
	// Customers counts the customers whose facts were handed over.
	Customers int
	// Refused counts the customers refused because a row of theirs breaks
	// the facts contract; they are not in Customers.
	Refused int
	// Refusals holds the first MaxRefusalSamples refusals, in id order.
	Refusals []Refusal
}

// streamBatch is how many rows a stream's reader hands over at a time.
const streamBatch = 512

// item is one row of a stream with its customer id. A row that breaks the
// facts contract has bad set to why; its v is then not to be used.
type item[T any] struct {
	id  int64
	v   T
	bad string
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
// before it (rows with no customer). It returns why the first of the
// customer's rows that breaks the contract does so, or "".
func (s *stream[T]) take(id int64, add func(*T)) (bad string, err error) {
	for s.ok && s.cur.id < id {
		s.next()
	}
	for s.ok && s.cur.id == id {
		if s.cur.bad != "" {
			if bad == "" {
				bad = s.cur.bad
			}
		} else {
			add(&s.cur.v)
		}
		s.next()
	}
	return bad, s.err
}

// relation is how one per-customer relation is read: a fast decode of
// every row's driver values (rows.go), and a column-by-column check for the
// rare row the decode fails on or flags, which says what is wrong with it.
type relation[T any] struct {
	name  string
	query string
	// decode reads a row's values into the customer id and v; errDecode
	// when one of them does not decode or breaks the contract.
	decode func(v []driver.Value, id *int64, out *T) error
	// check reads the row's raw values into the customer id and v,
	// recording what breaks the contract, and returns the row's key.
	check func(c *rowCheck, id *int64, v *T) string
}

// read decodes a row's values; a row that breaks the contract comes back
// with bad set. Only a row whose customer id cannot be read is an error.
func (rel *relation[T]) read(vals []driver.Value, it *item[T]) error {
	if rel.decode(vals, &it.id, &it.v) == nil {
		return nil
	}
	c := &rowCheck{raw: make([]any, len(vals))}
	for i, v := range vals {
		if b, ok := v.([]byte); ok {
			v = bytes.Clone(b) // the driver's buffer is reused
		}
		c.raw[i] = v
	}
	var v T
	key := rel.check(c, &it.id, &v)
	it.v = v
	if c.raw[0] == nil {
		return errors.New("customer id is NULL")
	}
	if len(c.problems) > 0 {
		it.bad = c.reason(rel.name, key)
	}
	return nil
}

// open starts a query and the goroutine that reads its rows. The
// goroutine stops when ctx is cancelled.
func open[T any](ctx context.Context, db *database.DB, rel *relation[T], args []any) (*stream[T], error) {
	name := rel.name
	s := &stream[T]{name: name, ch: make(chan []item[T], 4), pos: -1}
	go func() {
		defer close(s.ch)
		err := query(ctx, db, db.Rebind(rel.query), args, func(rows rowSource) error { return rel.stream(ctx, rows, s.ch) })
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			s.readErr = fmt.Errorf("read %s: %w", name, err)
		}
	}()
	s.next()
	if !s.ok && s.err != nil {
		return nil, s.err
	}
	return s, nil
}

// stream reads every row into batches sent to ch, until the rows end or
// ctx is cancelled.
func (rel *relation[T]) stream(ctx context.Context, rows rowSource, ch chan<- []item[T]) error {
	send := func(b []item[T]) error {
		select {
		case ch <- b:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	vals := make([]driver.Value, rows.columns())
	batch := make([]item[T], 0, streamBatch)
	for {
		more, err := rows.next(vals)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		batch = batch[:len(batch)+1]
		if err := rel.read(vals, &batch[len(batch)-1]); err != nil {
			return err
		}
		if len(batch) == streamBatch {
			if err := send(batch); err != nil {
				return err
			}
			batch = make([]item[T], 0, streamBatch)
		}
	}
	if len(batch) > 0 {
		return send(batch)
	}
	return nil
}

type usageRow struct {
	month  time.Time
	meters string
}

// parseMeters reads a month's meters as the usage query joins them:
// "data_mb=2048,minutes=300", a NULL meter or quantity written as empty.
// Each meter appears once and its quantity is a whole number, not negative.
func parseMeters(s string) (rules.UsageMonth, error) {
	m := make(rules.UsageMonth, strings.Count(s, ",")+1)
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, ",")
		name, qty, ok := strings.Cut(pair, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("bad meter %q", pair)
		case name == "":
			return nil, fmt.Errorf("meter is NULL")
		case qty == "":
			return nil, fmt.Errorf("meter %s: quantity is NULL", name)
		}
		n, err := strconv.Atoi(qty)
		switch {
		case err != nil:
			return nil, fmt.Errorf("meter %s: quantity %s is not a whole number", name, qty)
		case n < 0:
			return nil, fmt.Errorf("meter %s: quantity %d is negative", name, n)
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("meter %s: duplicate row", name)
		}
		m[name] = n
	}
	return m, nil
}

type subRow struct {
	rules.Subscription
}

// customerQuery reads customers; NULL email, phone, segment and account_no
// mean none. accountNo says whether the relation has the optional
// account_no column; without it every account number reads as ”. attrs
// says whether to read attrs; without them every customer's are none.
func customerQuery(accountNo, attrs bool) string {
	acct := "''"
	if accountNo {
		acct = "COALESCE(CAST(account_no AS TEXT), '')"
	}
	attrsCol := "NULL"
	if attrs {
		attrsCol = "attrs"
	}
	return `SELECT id, name, COALESCE(email, ''), COALESCE(phone, ''), locale, timezone, CAST(joined_on AS TEXT),
	COALESCE(segment, ''), marketing_opt_in, contact_opt_out, ` + attrsCol + `, ` + acct + ` FROM customers `
}

// customersRelation reads customers, with or without the account_no column
// and the attrs.
func customersRelation(accountNo, attrs bool) *relation[rules.Customer] {
	return &relation[rules.Customer]{
		name:  "customers",
		query: customerQuery(accountNo, attrs) + `WHERE id >= ? AND id < ? ORDER BY id`,
		decode: func(v []driver.Value, id *int64, c *rules.Customer) error {
			d := decoder{v: v}
			c.ID = d.int(0)
			*id = c.ID
			c.Name, c.Email, c.Phone, c.Locale, c.Timezone = d.text(1), d.text(2), d.text(3), d.text(4), d.text(5)
			c.JoinedOn = d.date(6, true)
			c.Segment = d.text(7)
			c.MarketingOptIn, c.ContactOptOut = d.boolean(8), d.boolean(9)
			c.Attrs = d.attrs(10)
			c.AccountNo = d.text(11)
			return d.err()
		},
		check: func(r *rowCheck, id *int64, c *rules.Customer) string {
			*id, _ = r.integer(0, "id", false, false)
			c.ID = *id
			c.Name, c.Email, c.Phone = r.text(1, "name"), r.text(2, "email"), r.text(3, "phone")
			c.Locale, c.Timezone = r.text(4, "locale"), r.text(5, "timezone")
			c.JoinedOn = r.date(6, "joined_on", true)
			c.Segment = r.text(7, "segment")
			c.MarketingOptIn, c.ContactOptOut = r.boolean(8, "marketing_opt_in"), r.boolean(9, "contact_opt_out")
			c.Attrs = r.attrs(10, "attrs")
			c.AccountNo = r.text(11, "account_no")
			return fmt.Sprintf("customer %d", *id)
		},
	}
}

// customers returns how to read the customers relation, with or without
// their attrs: with account_no when it has that optional column.
func (r *Reader) customers(ctx context.Context, attrs bool) (*relation[rules.Customer], bool, error) {
	ok, err := r.HasAccountNo(ctx)
	if err != nil {
		return nil, false, err
	}
	return customersRelation(ok, attrs), ok, nil
}

var subscriptionsRel = relation[subRow]{
	name: "subscriptions",
	query: `SELECT customer_id, plan_id, CAST(started_on AS TEXT), CAST(contract_ends_on AS TEXT), device_monthly, CAST(device_paid_off_on AS TEXT)
		 FROM subscriptions WHERE customer_id >= ? AND customer_id < ? ORDER BY customer_id, subscriptions.started_on DESC`,
	decode: func(v []driver.Value, id *int64, s *subRow) error {
		d := decoder{v: v}
		*id = d.int(0)
		s.PlanID = d.text(1)
		s.StartedOn, s.ContractEndsOn = d.date(2, true), d.date(3, false)
		s.DeviceMonthly = d.nonNegative(4)
		s.DevicePaidOffOn = d.date(5, false)
		return d.err()
	},
	check: func(r *rowCheck, id *int64, s *subRow) string {
		*id, _ = r.integer(0, "customer_id", false, false)
		s.PlanID = r.text(1, "plan_id")
		s.StartedOn = r.date(2, "started_on", true)
		s.ContractEndsOn = r.date(3, "contract_ends_on", false)
		device, _ := r.integer(4, "device_monthly", false, true)
		s.DeviceMonthly = int(device)
		s.DevicePaidOffOn = r.date(5, "device_paid_off_on", false)
		return fmt.Sprintf("customer %d", *id)
	},
}

var addonsRel = relation[rules.Addon]{
	name: "addons",
	query: `SELECT customer_id, addon_id, name, monthly_price, CAST(started_on AS TEXT), CAST(last_used_on AS TEXT)
		 FROM addons WHERE customer_id >= ? AND customer_id < ? ORDER BY customer_id, addon_id`,
	decode: func(v []driver.Value, id *int64, a *rules.Addon) error {
		d := decoder{v: v}
		*id = d.int(0)
		a.ID, a.Name = d.text(1), d.text(2)
		a.MonthlyPrice = d.nonNegative(3)
		a.StartedOn, a.LastUsedOn = d.date(4, true), d.date(5, false)
		return d.err()
	},
	check: func(r *rowCheck, id *int64, a *rules.Addon) string {
		*id, _ = r.integer(0, "customer_id", false, false)
		a.ID, a.Name = r.text(1, "addon_id"), r.text(2, "name")
		price, _ := r.integer(3, "monthly_price", false, true)
		a.MonthlyPrice = int(price)
		a.StartedOn = r.date(4, "started_on", true)
		a.LastUsedOn = r.date(5, "last_used_on", false)
		return fmt.Sprintf("customer %d addon %q", *id, a.ID)
	},
}

// usageRel reads one row per customer and month, its meters joined as
// "data_mb=2048,minutes=300" (see Read); the meters are checked as they are
// parsed.
func usageRel(agg string) *relation[usageRow] {
	return &relation[usageRow]{
		name: "usage",
		query: `SELECT customer_id, CAST(month AS TEXT), ` + agg + `
		 FROM usage WHERE customer_id >= ? AND customer_id < ? AND month >= ? AND month < ?
		 GROUP BY customer_id, month
		 ORDER BY customer_id, usage.month`,
		decode: func(v []driver.Value, id *int64, u *usageRow) error {
			d := decoder{v: v}
			*id = d.int(0)
			u.month = d.date(1, false)
			u.meters = d.text(2)
			return d.err()
		},
		check: func(r *rowCheck, id *int64, u *usageRow) string {
			*id, _ = r.integer(0, "customer_id", false, false)
			u.month = r.date(1, "month", true)
			u.meters = r.text(2, "meters")
			month := r.show(1)
			if !u.month.IsZero() {
				month = u.month.Format("2006-01")
			}
			return fmt.Sprintf("customer %d month %s", *id, month)
		},
	}
}

var chargesRel = relation[rules.Charge]{
	name: "charges",
	query: `SELECT customer_id, id, CAST(charged_on AS TEXT), kind, amount, waived
		 FROM charges WHERE customer_id >= ? AND customer_id < ? AND charged_on >= ?` + kindsMark + `
		 ORDER BY customer_id, charges.charged_on DESC, id DESC`,
	decode: func(v []driver.Value, id *int64, c *rules.Charge) error {
		d := decoder{v: v}
		*id = d.int(0)
		c.ID = d.int(1)
		c.ChargedOn = d.date(2, false)
		c.Kind = d.text(3)
		c.Amount = int(d.int(4))
		c.Waived = d.boolean(5)
		return d.err()
	},
	check: func(r *rowCheck, id *int64, c *rules.Charge) string {
		*id, _ = r.integer(0, "customer_id", false, false)
		c.ID, _ = r.integer(1, "id", false, false)
		c.ChargedOn = r.date(2, "charged_on", true)
		c.Kind = r.text(3, "kind")
		amount, _ := r.integer(4, "amount", false, false) // negative for a credit
		c.Amount = int(amount)
		c.Waived = r.boolean(5, "waived")
		return fmt.Sprintf("customer %d charge %s", *id, r.show(1))
	},
}

var eventsRel = relation[rules.Event]{
	name: "events",
	query: `SELECT customer_id, id, occurred_at, kind, attrs
		 FROM events WHERE customer_id >= ? AND customer_id < ? AND occurred_at >= ?` + kindsMark + `
		 ORDER BY customer_id, occurred_at DESC, id DESC`,
	decode: func(v []driver.Value, id *int64, e *rules.Event) error {
		d := decoder{v: v}
		*id = d.int(0)
		e.ID = d.int(1)
		e.OccurredAt = d.date(2, false)
		e.Kind = d.text(3)
		e.Attrs = d.attrs(4)
		return d.err()
	},
	check: func(r *rowCheck, id *int64, e *rules.Event) string {
		*id, _ = r.integer(0, "customer_id", false, false)
		e.ID, _ = r.integer(1, "id", false, false)
		e.OccurredAt = r.date(2, "occurred_at", true)
		e.Kind = r.text(3, "kind")
		e.Attrs = r.attrs(4, "attrs")
		return fmt.Sprintf("customer %d event %s", *id, r.show(1))
	},
}

// Read streams the facts of every customer in rng, in id order, to fn,
// reading every relation whole; see ReadWith.
func (r *Reader) Read(ctx context.Context, rng Range, now time.Time, catalogue []rules.Plan, fn func(rules.Facts) error) (Stats, error) {
	return r.ReadWith(ctx, rng, now, catalogue, ReadOptions{}, fn)
}

// ReadOptions narrow a read to what the rules can read, and report the
// queries it runs.
type ReadOptions struct {
	// Need is what the rules can read of a customer's facts; nil reads
	// everything. A relation no rule reads is not queried and its facts
	// stay empty; charges and events are read only of the kinds listed;
	// only the newest UsageMonths months of usage are kept. The rows not
	// read are not validated either.
	Need *rules.Reads
	// OnQuery, when set, is called with each relation's query and its
	// arguments before the query is run.
	OnQuery func(relation, query string, args []any)
}

// ReadWith streams the facts of every customer in rng, in id order, to fn.
// The catalogue is shared by every customer's facts and must not be
// modified. It issues one ordered query per relation read, whatever the
// number of customers.
//
// A customer any of whose rows breaks the facts contract (a NULL where a
// value is required, an impossible negative, a duplicated row, a bad date
// or JSON) is refused: fn does not see them, the read goes on, and Stats
// counts them with a few samples; OnRefuse, when set, sees every one.
func (r *Reader) ReadWith(ctx context.Context, rng Range, now time.Time, catalogue []rules.Plan, opts ReadOptions, fn func(rules.Facts) error) (Stats, error) {
	var st Stats
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rs, err := r.openStreams(ctx, rng, now, opts)
	if err != nil {
		return st, err
	}
	byID := make(map[string]*rules.Plan, len(catalogue))
	for i := range catalogue {
		byID[catalogue[i].ID] = &catalogue[i]
	}
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	for rs.customers.ok {
		f := rules.Facts{Customer: rs.customers.cur.v, Plans: catalogue, Now: now, Today: today}
		id, bad, err := rs.assemble(&f, byID)
		if err != nil {
			return st, err
		}
		if bad != "" {
			st.refuse(Refusal{CustomerID: id, Reason: bad}, r.OnRefuse)
			continue
		}
		st.Customers++
		if err := fn(f); err != nil {
			return st, err
		}
	}
	if rs.customers.err != nil {
		return st, rs.customers.err
	}
	return st, nil
}

// streams are the relations of a read, each one query streamed in customer
// order, merged customer by customer.
type streams struct {
	customers *stream[rules.Customer]
	subs      *stream[subRow]
	addons    *stream[rules.Addon]
	usage     *stream[usageRow]
	charges   *stream[rules.Charge]
	events    *stream[rules.Event]
	// months is how many of the newest usage months are kept; 0 keeps
	// them all.
	months int
}

// kindsMark stands, in the charges and events queries, where a filter on
// the kinds read goes.
const kindsMark = "/*kinds*/"

// ofKinds returns how to read a relation with kinds, only of the kinds
// listed (nil: every kind), and its arguments: args, then the kinds.
func (rel *relation[T]) ofKinds(kinds []string, args []any) (*relation[T], []any) {
	if kinds == nil {
		return rel, args
	}
	narrow := *rel
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(kinds)), ", ")
	narrow.query = strings.Replace(rel.query, kindsMark, " AND kind IN ("+marks+")", 1)
	for _, k := range kinds {
		args = append(args, k)
	}
	return &narrow, args
}

// closed returns a stream with no rows: a relation that is not read.
func closed[T any]() *stream[T] { return &stream[T]{} }

// openStreams opens one query per relation read over the customers of rng
// and the months and history the window of now covers.
func (r *Reader) openStreams(ctx context.Context, rng Range, now time.Time, opts ReadOptions) (*streams, error) {
	need := rules.ReadEverything
	if opts.Need != nil {
		need = *opts.Need
	}
	w := r.Window(now)
	to := rng.To
	if to <= 0 {
		to = 1<<63 - 1
	}
	ids := []any{rng.From, to}
	day := func(t time.Time) string { return t.Format(time.DateOnly) }
	crel, _, err := r.customers(ctx, need.CustomerAttrs)
	if err != nil {
		return nil, err
	}
	rs := streams{addons: closed[rules.Addon](), usage: closed[usageRow](), charges: closed[rules.Charge](),
		events: closed[rules.Event](), months: need.UsageMonths}
	if rs.customers, err = openLogged(ctx, r.DB, crel, ids, opts); err != nil {
		return nil, err
	}
	if rs.subs, err = openLogged(ctx, r.DB, &subscriptionsRel, ids, opts); err != nil {
		return nil, err
	}
	if need.Addons {
		if rs.addons, err = openLogged(ctx, r.DB, &addonsRel, ids, opts); err != nil {
			return nil, err
		}
	}
	if need.Usage {
		// One row per customer and month, its meters joined as
		// "data_mb=2048,minutes=300": a third of the rows to send and
		// scan. The months come oldest first, in the primary key's order,
		// and are turned newest first below. A NULL meter or quantity is
		// joined as empty, so that it is refused rather than dropped.
		agg := "string_agg(COALESCE(meter, '') || '=' || COALESCE(CAST(quantity AS TEXT), ''), ',')"
		if !r.DB.IsPostgres() {
			agg = "group_concat(COALESCE(meter, '') || '=' || COALESCE(CAST(quantity AS TEXT), ''), ',')"
		}
		if rs.usage, err = openLogged(ctx, r.DB, usageRel(agg), []any{rng.From, to, day(w.UsageFrom), day(w.UsageTo)}, opts); err != nil {
			return nil, err
		}
	}
	history := []any{rng.From, to, day(w.HistoryFrom)}
	if need.Charges && (need.ChargeKinds == nil || len(need.ChargeKinds) > 0) {
		rel, args := chargesRel.ofKinds(need.ChargeKinds, history)
		if rs.charges, err = openLogged(ctx, r.DB, rel, args, opts); err != nil {
			return nil, err
		}
	}
	if need.Events && (need.EventKinds == nil || len(need.EventKinds) > 0) {
		rel, args := eventsRel.ofKinds(need.EventKinds, history)
		if rs.events, err = openLogged(ctx, r.DB, rel, args, opts); err != nil {
			return nil, err
		}
	}
	return &rs, nil
}

// openLogged reports a relation's query to opts.OnQuery, then opens it.
func openLogged[T any](ctx context.Context, db *database.DB, rel *relation[T], args []any, opts ReadOptions) (*stream[T], error) {
	q := strings.Replace(rel.query, kindsMark, "", 1)
	if opts.OnQuery != nil {
		opts.OnQuery(rel.name, strings.Join(strings.Fields(q), " "), args)
	}
	narrow := *rel
	narrow.query = q
	return open(ctx, db, &narrow, args)
}

// assemble reads the current customer's rows of every relation into f and
// moves every stream past them. It returns the customer's id and, when a
// row breaks the facts contract, the first reason to refuse the customer.
func (rs *streams) assemble(f *rules.Facts, plans map[string]*rules.Plan) (id int64, bad string, err error) {
	id, bad = rs.customers.cur.id, rs.customers.cur.bad
	for rs.customers.next(); rs.customers.ok && rs.customers.cur.id == id; rs.customers.next() {
		if bad == "" {
			bad = fmt.Sprintf("customers: customer %d: duplicate row", id)
		}
	}
	// note keeps the first reason to refuse the customer.
	note := func(why string, err error) error {
		if bad == "" {
			bad = why
		}
		return err
	}
	if err := note(rs.subs.take(id, func(s *subRow) {
		if f.Subscription.PlanID == "" { // newest first: keep the current one
			f.Subscription = s.Subscription
		}
	})); err != nil {
		return id, bad, err
	}
	if p, ok := plans[f.Subscription.PlanID]; ok {
		f.Plan = *p
		f.Currency = p.Currency
	}
	if err := note(rs.addons.take(id, func(a *rules.Addon) {
		if n := len(f.Addons); n > 0 && f.Addons[n-1].ID == a.ID && bad == "" {
			bad = fmt.Sprintf("addons: customer %d addon %q: duplicate row", id, a.ID)
		}
		f.Addons = append(f.Addons, *a)
	})); err != nil {
		return id, bad, err
	}
	if err := note(rs.usage.take(id, func(u *usageRow) {
		m, err := parseMeters(u.meters)
		if err != nil && bad == "" {
			bad = fmt.Sprintf("usage: customer %d month %s %v", id, u.month.Format("2006-01"), err)
		}
		f.Months = append(f.Months, u.month)
		f.Usage = append(f.Usage, m)
	})); err != nil {
		return id, bad, err
	}
	slices.Reverse(f.Months)
	slices.Reverse(f.Usage)
	if n := rs.months; n > 0 && len(f.Usage) > n {
		f.Months, f.Usage = f.Months[:n], f.Usage[:n]
	}
	if err := note(rs.charges.take(id, func(ch *rules.Charge) { f.Charges = append(f.Charges, *ch) })); err != nil {
		return id, bad, err
	}
	if err := note(rs.events.take(id, func(e *rules.Event) { f.Events = append(f.Events, *e) })); err != nil {
		return id, bad, err
	}
	return id, bad, nil
}

// refuse counts a refused customer and keeps it as a sample if there is
// room.
func (st *Stats) refuse(rf Refusal, report func(Refusal)) {
	st.Refused++
	if len(st.Refusals) < MaxRefusalSamples {
		st.Refusals = append(st.Refusals, rf)
	}
	if report != nil {
		report(rf)
	}
}

// Customer reads one customer, for showing a message or an explanation;
// runs never call it. A customer whose row breaks the facts contract is an
// error naming what is wrong.
func (r *Reader) Customer(ctx context.Context, id int64) (rules.Customer, error) {
	var it item[rules.Customer]
	crel, acct, err := r.customers(ctx, true)
	if err != nil {
		return it.v, fmt.Errorf("read customer %d: %w", id, err)
	}
	rows, err := r.DB.QueryContext(ctx, r.DB.Rebind(customerQuery(acct, true)+`WHERE id = ?`), id)
	if err != nil {
		return it.v, fmt.Errorf("read customer %d: %w", id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		err := rows.Err()
		if err == nil {
			err = sql.ErrNoRows
		}
		return it.v, fmt.Errorf("read customer %d: %w", id, err)
	}
	src, err := newSQLRows(rows)
	if err != nil {
		return it.v, fmt.Errorf("read customer %d: %w", id, err)
	}
	vals := make([]driver.Value, src.columns())
	for i := range vals {
		src.ptrs[i] = (*any)(&vals[i])
	}
	if err := rows.Scan(src.ptrs...); err != nil {
		return it.v, fmt.Errorf("read customer %d: %w", id, err)
	}
	if err := crel.read(vals, &it); err != nil {
		return it.v, fmt.Errorf("read customer %d: %w", id, err)
	}
	if it.bad != "" {
		return it.v, fmt.Errorf("read customer %d: %s", id, it.bad)
	}
	return it.v, nil
}

// CountCustomers returns how many customers a read of rng would take, for
// progress reports: one query.
func (r *Reader) CountCustomers(ctx context.Context, rng Range) (int64, error) {
	to := rng.To
	if to <= 0 {
		to = 1<<63 - 1
	}
	var n int64
	err := r.DB.QueryRowContext(ctx, r.DB.Rebind(`SELECT count(*) FROM customers WHERE id >= ? AND id < ?`), rng.From, to).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count customers: %w", err)
	}
	return n, nil
}

// CustomerFacts assembles one customer's facts as a run at now would, for
// explaining a decision or showing their usage; a customer whose rows break
// the facts contract is an error saying why.
func (r *Reader) CustomerFacts(ctx context.Context, id int64, now time.Time) (rules.Facts, error) {
	catalogue, err := r.Catalogue(ctx)
	if err != nil {
		return rules.Facts{}, err
	}
	var (
		facts rules.Facts
		found bool
	)
	st, err := r.Read(ctx, Range{From: id, To: id + 1}, now, catalogue, func(f rules.Facts) error {
		facts, found = f, true
		return nil
	})
	if err != nil {
		return rules.Facts{}, err
	}
	if len(st.Refusals) > 0 {
		return rules.Facts{}, fmt.Errorf("customer %d is refused: %s", id, st.Refusals[0].Reason)
	}
	if !found {
		return rules.Facts{}, fmt.Errorf("customer %d: %w", id, ErrNoCustomer)
	}
	return facts, nil
}

// Relations are the billing relations of the facts contract a run reads.
var Relations = []string{"customers", "plans", "plan_allowances", "subscriptions", "addons", "usage", "charges", "events"}

// MissingRelations returns the billing relations the database does not
// have, in the contract's order: one query each, read nothing.
func (r *Reader) MissingRelations(ctx context.Context) []string {
	var missing []string
	for _, rel := range Relations {
		rows, err := r.DB.QueryContext(ctx, `SELECT 1 FROM `+rel+` WHERE 1 = 0`)
		if err != nil {
			missing = append(missing, rel)
			continue
		}
		rows.Close()
	}
	return missing
}
