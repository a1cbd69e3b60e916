// Package sample generates a believable, deterministic sample mobile
// operator's billing data in the billing relations of the facts contract
// (docs/billing-data.md): a plan catalogue in the spirit of a sim-only
// operator, customers, subscriptions, add-ons, monthly metered usage,
// charges and events. `goodturn demo` uses it for a few thousand customers;
// the benchmark uses it for a million, so rows are streamed in batches
// (COPY on PostgreSQL, multi-row INSERT on SQLite) and memory stays flat
// whatever the number of customers.
//
// The data is shaped so that the shipped mobile rules find work to do:
// about a fifth of customers pay for more plan than their usage needs (or
// pay enough overage that a bigger plan is cheaper), some recently lost or
// damaged a SIM and some paid for its replacement, and some loyal customers
// were charged a first late fee.
package sample

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/rules"
)

// Options control what Generate writes.
type Options struct {
	// Customers is the number of customers; their ids are 1..Customers.
	Customers int
	// Seed fixes the data: the same seed and options give identical rows.
	Seed uint64
	// Now is the clock. Usage covers the Months complete calendar months
	// before Now's month; charges and events never fall after Now. The zero
	// time means the current time, which makes the data depend on the day.
	Now time.Time
	// Months is the number of months of usage; DefaultMonths when zero.
	Months int
}

// Stats counts the rows Generate wrote to each relation.
type Stats struct {
	// Customers is the number of customers rows.
	Customers int
	// Plans is the number of plans rows (the catalogue).
	Plans int
	// Subscriptions is the number of subscriptions rows.
	Subscriptions int
	// Addons is the number of addons rows.
	Addons int
	// UsageRows is the number of usage rows.
	UsageRows int
	// Charges is the number of charges rows.
	Charges int
	// Events is the number of events rows.
	Events int
}

// DefaultMonths is the number of months of usage generated when
// Options.Months is zero.
const DefaultMonths = 6

// Currency is the ISO 4217 code of every amount in the sample data.
const Currency = "GBP"

// The meters of the sample operator. Quantities are whole units.
const (
	MeterData    = "data_mb"
	MeterMinutes = "minutes"
	MeterTexts   = "texts"
	MeterRoaming = "roaming_mb"
)

// batchCustomers is the number of customers written per transaction.
const batchCustomers = 10_000

// pcgStream is the second PCG seed word; the first is Options.Seed.
const pcgStream = 0x676f6f647475726e // "goodturn"

// allowance describes one row of plan_allowances in the catalogue table.
type allowance struct {
	meter    string
	included int // -1 = unlimited
	rate     string
}

type planSpec struct {
	id, name  string
	price     int
	available bool
	attrs     map[string]any
	allows    []allowance
}

const unlimited = -1

// catalogue is the sample plan catalogue, cheapest sim-only plan first.
var catalogue = []planSpec{
	{"sim-6", "SIM only 1.5GB", 600, true, map[string]any{"type": "sim_only"}, []allowance{
		{MeterData, 1536, "0.5"}, {MeterMinutes, 300, "8.5"}, {MeterTexts, 500, "4.5"},
	}},
	{"sim-8", "SIM only 6GB", 800, true, map[string]any{"type": "sim_only"}, []allowance{
		{MeterData, 6144, "0.5"}, {MeterMinutes, unlimited, "0"}, {MeterTexts, unlimited, "0"}, {MeterRoaming, 0, "0.75"},
	}},
	{"sim-10", "SIM only 20GB", 1000, true, map[string]any{"type": "sim_only"}, []allowance{
		{MeterData, 20480, "0.5"}, {MeterMinutes, unlimited, "0"}, {MeterTexts, unlimited, "0"}, {MeterRoaming, 0, "0.75"},
	}},
	{"sim-12", "SIM only 35GB", 1200, true, map[string]any{"type": "sim_only"}, []allowance{
		{MeterData, 35840, "0.5"}, {MeterMinutes, unlimited, "0"}, {MeterTexts, unlimited, "0"}, {MeterRoaming, 5120, "0.75"},
	}},
	{"sim-15", "SIM only 80GB", 1500, true, map[string]any{"type": "sim_only"}, []allowance{
		{MeterData, 81920, "0.5"}, {MeterMinutes, unlimited, "0"}, {MeterTexts, unlimited, "0"}, {MeterRoaming, 5120, "0.75"},
	}},
	{"sim-25", "SIM only Unlimited", 2500, true, map[string]any{"type": "sim_only"}, []allowance{
		{MeterData, unlimited, "0"}, {MeterMinutes, unlimited, "0"}, {MeterTexts, unlimited, "0"}, {MeterRoaming, 10240, "0.75"},
	}},
	{"legacy-15", "Classic 5GB", 1500, false, map[string]any{"type": "sim_only", "legacy": true}, []allowance{
		{MeterData, 5120, "0.5"}, {MeterMinutes, unlimited, "0"}, {MeterTexts, unlimited, "0"}, {MeterRoaming, 0, "0.75"},
	}},
	{"legacy-20", "Classic 10GB", 2000, false, map[string]any{"type": "sim_only", "legacy": true}, []allowance{
		{MeterData, 10240, "0.5"}, {MeterMinutes, unlimited, "0"}, {MeterTexts, unlimited, "0"}, {MeterRoaming, 0, "0.75"},
	}},
	{"handset-12", "Phone plan 30GB", 1200, false, map[string]any{"type": "handset"}, []allowance{
		{MeterData, 30720, "0.5"}, {MeterMinutes, unlimited, "0"}, {MeterTexts, unlimited, "0"}, {MeterRoaming, 5120, "0.75"},
	}},
	{"handset-18", "Phone plan Unlimited", 1800, false, map[string]any{"type": "handset"}, []allowance{
		{MeterData, unlimited, "0"}, {MeterMinutes, unlimited, "0"}, {MeterTexts, unlimited, "0"}, {MeterRoaming, 5120, "0.75"},
	}},
}

// Catalogue returns the sample plan catalogue as rules.Plan values with
// their allowances, ordered by id as the engine reads it. Each call returns
// fresh values that the caller may modify.
func Catalogue() []rules.Plan {
	plans := make([]rules.Plan, 0, len(catalogue))
	for _, s := range catalogue {
		p := rules.Plan{
			ID: s.id, Name: s.name, MonthlyPrice: s.price, Currency: Currency,
			Available: s.available, Allowances: map[string]rules.Allowance{},
			Attrs: map[string]any{},
		}
		for k, v := range s.attrs {
			p.Attrs[k] = v
		}
		for _, a := range s.allows {
			p.Allowances[a.meter] = rules.Allowance{
				Meter:       a.meter,
				Included:    max(a.included, 0),
				Unlimited:   a.included == unlimited,
				OverageRate: rules.MustParseRate(a.rate),
			}
		}
		plans = append(plans, p)
	}
	slices.SortFunc(plans, func(a, b rules.Plan) int { return strings.Compare(a.ID, b.ID) })
	return plans
}

// Generate writes the sample data into db's billing relations. It assumes the
// relations exist (billing.CreateSchema) and are empty. Rows are written in
// batches of ten thousand customers, each committed before the next (COPY
// on PostgreSQL, multi-row INSERT on SQLite), so a failure leaves the
// batches already committed.
func Generate(ctx context.Context, db *database.DB, opts Options) (Stats, error) {
	var st Stats
	if opts.Customers < 0 {
		return st, fmt.Errorf("generate sample data: %d customers", opts.Customers)
	}
	if opts.Months < 0 {
		return st, fmt.Errorf("generate sample data: %d months", opts.Months)
	}
	if opts.Months == 0 {
		opts.Months = DefaultMonths
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	w := &writer{db: db, pg: db.IsPostgres()}
	if err := w.writeCatalogue(ctx); err != nil {
		return st, fmt.Errorf("generate sample data: %w", err)
	}
	st.Plans = len(catalogue)

	// One goroutine generates the next batch while this one writes the
	// previous: two batches circulate, so memory does not grow with N.
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	free := make(chan *batch, 2)
	full := make(chan *batch)
	free <- &batch{}
	free <- &batch{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(full)
		g := newGenerator(opts)
		for from := 1; from <= opts.Customers; from += batchCustomers {
			var b *batch
			select {
			case b = <-free:
			case <-gctx.Done():
				return
			}
			b.reset()
			to := min(from+batchCustomers-1, opts.Customers)
			for id := from; id <= to; id++ {
				g.customer(int64(id), b)
			}
			select {
			case full <- b:
			case <-gctx.Done():
				return
			}
		}
	}()
	var err error
	for b := range full {
		if err == nil {
			err = w.writeBatch(ctx, b)
			if err != nil {
				cancel()
				continue
			}
			st.Customers += len(b.customers)
			st.Subscriptions += len(b.subs)
			st.Addons += len(b.addons)
			st.UsageRows += len(b.usage)
			st.Charges += len(b.charges)
			st.Events += len(b.events)
		}
		free <- b
	}
	wg.Wait()
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return st, fmt.Errorf("generate sample data: %w", err)
	}
	return st, nil
}

// Rows of the relations, as generated.

type customerRow struct {
	id                         int64
	name, email, phone         string
	locale, timezone, joined   string
	segment                    string
	marketingOptIn, contactOut bool
	attrs                      string
}

type subRow struct {
	customerID     int64
	planID         string
	startedOn      string
	contractEndsOn string // "" = NULL
	deviceMonthly  int64
	devicePaidOff  string // "" = NULL
}

type addonRow struct {
	customerID int64
	addonID    string
	name       string
	price      int64
	startedOn  string
	lastUsedOn string // "" = NULL
}

type usageRow struct {
	customerID int64
	month      string
	meter      string
	quantity   int64
}

type chargeRow struct {
	id         int64
	customerID int64
	on         time.Time
	kind       string
	amount     int64
	waived     bool
}

type eventRow struct {
	id         int64
	customerID int64
	at         time.Time
	kind       string
	attrs      string
}

// batch holds the rows of a run of consecutive customers.
type batch struct {
	customers []customerRow
	subs      []subRow
	addons    []addonRow
	usage     []usageRow
	charges   []chargeRow
	events    []eventRow
}

func (b *batch) reset() {
	b.customers = b.customers[:0]
	b.subs = b.subs[:0]
	b.addons = b.addons[:0]
	b.usage = b.usage[:0]
	b.charges = b.charges[:0]
	b.events = b.events[:0]
}

// The generator.

var (
	firstNames = []string{
		"Olivia", "Amelia", "Isla", "Ava", "Mia", "Grace", "Sophia", "Lily", "Freya", "Emily",
		"Ella", "Poppy", "Evie", "Charlotte", "Sienna", "Priya", "Aisha", "Zara", "Hannah", "Chloe",
		"Oliver", "George", "Noah", "Arthur", "Leo", "Harry", "Oscar", "Jack", "Charlie", "Jacob",
		"Thomas", "Henry", "William", "Mohammed", "Alfie", "Joshua", "Samuel", "Daniel", "Ravi", "Kwame",
	}
	welshFirstNames = []string{
		"Rhys", "Cerys", "Dafydd", "Angharad", "Gethin", "Eleri", "Iwan", "Nia", "Owain", "Seren",
	}
	lastNames = []string{
		"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson",
		"Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Thomas", "Clarke",
		"Jackson", "Wood", "Harris", "Edwards", "Turner", "Martin", "Cooper", "Hill", "Ward", "Hughes",
		"Moore", "Clark", "King", "Harrison", "Lewis", "Baker", "Lee", "Khan", "O'Brien", "Okafor",
	}
	addonCatalogue = []struct {
		id, name string
		price    int64
	}{
		{"roam-eu", "EU roaming pass", 200},
		{"intl-100", "100 international minutes", 300},
		{"cloud-50", "50GB cloud storage", 149},
	}
	complaintTopics = []string{"billing", "coverage", "customer_service", "data_speed"}
	reportChannels  = []string{"app", "phone", "web"}
)

// natural tiers of sim-only usage: the weight of customers whose usage
// fits each available sim-only plan best, cheapest first.
var tierWeights = []int{25, 30, 20, 10, 10, 5}

type generator struct {
	opts      Options
	now       time.Time
	today     time.Time
	thisMonth time.Time
	// months are the first days of the usage months, oldest first, then
	// the current month (charges only): len = Months+1.
	months    []time.Time
	monthStrs []string

	plans  map[string]*rules.Plan
	ladder []*rules.Plan // available sim-only plans, cheapest first
	legacy15, legacy20,
	handset12, handset18 *rules.Plan

	pcg *rand.PCG
	r   *rand.Rand

	nextCharge, nextEvent int64

	// per-customer scratch, reused
	usage   []rules.UsageMonth
	charges []chargeRow
	events  []eventRow
}

func newGenerator(opts Options) *generator {
	now := opts.Now.UTC().Truncate(time.Second)
	g := &generator{
		opts:      opts,
		now:       now,
		today:     time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC),
		thisMonth: time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC),
		plans:     map[string]*rules.Plan{},
		pcg:       rand.NewPCG(opts.Seed, pcgStream),
	}
	g.r = rand.New(g.pcg)
	for i := opts.Months; i >= 0; i-- {
		m := g.thisMonth.AddDate(0, -i, 0)
		g.months = append(g.months, m)
		g.monthStrs = append(g.monthStrs, dateString(m))
	}
	cat := Catalogue()
	for i := range cat {
		g.plans[cat[i].ID] = &cat[i]
	}
	for _, s := range catalogue {
		if s.available {
			g.ladder = append(g.ladder, g.plans[s.id])
		}
	}
	g.legacy15, g.legacy20 = g.plans["legacy-15"], g.plans["legacy-20"]
	g.handset12, g.handset18 = g.plans["handset-12"], g.plans["handset-18"]
	g.usage = make([]rules.UsageMonth, opts.Months)
	for i := range g.usage {
		g.usage[i] = rules.UsageMonth{}
	}
	return g
}

// splitmix64 scrambles a customer id into an independent PCG seed word.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// pct reports true with probability p percent.
func (g *generator) pct(p float64) bool { return g.r.Float64()*100 < p }

// between returns a uniform integer in [lo, hi].
func (g *generator) between(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + g.r.IntN(hi-lo+1)
}

// day returns a uniform date in [from, to]; from when to is before from.
func (g *generator) day(from, to time.Time) time.Time {
	n := int(to.Sub(from).Hours() / 24)
	if n <= 0 {
		return from
	}
	return from.AddDate(0, 0, g.r.IntN(n+1))
}

// daysAgo returns today minus n days.
func (g *generator) daysAgo(n int) time.Time { return g.today.AddDate(0, 0, -n) }

// instant returns a time on the given date between 07:00 and 22:00 UTC,
// never after now.
func (g *generator) instant(d time.Time) time.Time {
	t := d.Add(time.Duration(g.between(7*3600, 22*3600-1)) * time.Second)
	if t.After(g.now) {
		t = g.now.Add(-time.Duration(g.between(60, 3600)) * time.Second)
		if t.Before(d) {
			t = d
		}
	}
	return t
}

// scale returns base times a uniform factor in [lo, hi], rounded.
func (g *generator) scale(base int, lo, hi float64) int {
	return int(float64(base)*(lo+(hi-lo)*g.r.Float64()) + 0.5)
}

type group int

const (
	matched     group = iota // on the cheapest plan that fits
	overpaying               // on a dearer plan than their usage needs
	overrunning              // on a plan their usage outgrows: overage
	handset                  // on a handset plan with instalments
)

// cust is the customer being generated.
type cust struct {
	id       int64
	grp      group
	joined   time.Time
	recent   bool // joined inside the usage window
	firstIdx int  // index in months of their first whole month
	tier     int  // the sim-only plan their usage naturally fits; -1 heavy handset
	plan     *rules.Plan
	// The handset: instalment, when it was paid off, and whether the
	// instalment is (wrongly) still charged after that.
	device       int64
	paidOff      time.Time
	stillCharged bool
}

func (g *generator) customer(id int64, b *batch) {
	g.pcg.Seed(g.opts.Seed, pcgStream^splitmix64(uint64(id)))
	c := &cust{id: id}
	row := g.person(c)
	g.usagePlan(c)
	sub := g.subscription(c)
	row.joined = dateString(c.joined)
	b.customers = append(b.customers, row)
	b.subs = append(b.subs, sub)
	for i := c.firstIdx; i < g.opts.Months; i++ {
		m := g.usage[i]
		for _, meter := range [...]string{MeterData, MeterMinutes, MeterRoaming, MeterTexts} {
			if q, ok := m[meter]; ok {
				b.usage = append(b.usage, usageRow{id, g.monthStrs[i], meter, int64(q)})
			}
		}
	}
	g.charges, g.events = g.charges[:0], g.events[:0]
	g.bills(c, b)
	g.incidents(c)

	// Ids in date order within the customer, sequential across customers.
	slices.SortStableFunc(g.charges, func(a, b chargeRow) int { return a.on.Compare(b.on) })
	for i := range g.charges {
		g.nextCharge++
		g.charges[i].id = g.nextCharge
	}
	slices.SortStableFunc(g.events, func(a, b eventRow) int { return a.at.Compare(b.at) })
	for i := range g.events {
		g.nextEvent++
		g.events[i].id = g.nextEvent
	}
	b.charges = append(b.charges, g.charges...)
	b.events = append(b.events, g.events...)
}

// person draws who the customer is, the kind of customer they are and when
// they joined.
func (g *generator) person(c *cust) customerRow {
	r := g.r
	welsh := g.pct(5)
	first := firstNames[r.IntN(len(firstNames))]
	if welsh && g.pct(60) {
		first = welshFirstNames[r.IntN(len(welshFirstNames))]
	}
	last := lastNames[r.IntN(len(lastNames))]
	row := customerRow{
		id:       c.id,
		name:     first + " " + last,
		email:    emailLocal(first) + "." + emailLocal(last) + "+" + strconv.FormatInt(c.id, 10) + "@example.com",
		phone:    "+447700900" + fmt.Sprintf("%03d", c.id%1000),
		locale:   "en-GB",
		timezone: "Europe/London",
		segment:  "consumer",
		attrs:    "{}",
	}
	if welsh {
		row.locale = "cy-GB"
	}
	if g.pct(8) {
		row.segment = "small_business"
	}
	if g.pct(20) {
		row.attrs = `{"app_user":true}`
	}
	row.marketingOptIn = g.pct(70)
	row.contactOut = g.pct(3)

	// The group decides how plan and usage relate.
	switch u := r.IntN(100); {
	case u < 8:
		c.grp = handset
	case u < 25:
		c.grp = overpaying
	case u < 33:
		c.grp = overrunning
	default:
		c.grp = matched
	}
	windowStart := g.months[0]
	c.recent = c.grp != handset && g.pct(3)
	if c.recent {
		c.joined = g.day(windowStart, g.thisMonth.AddDate(0, 0, -1))
		for c.firstIdx < g.opts.Months && g.months[c.firstIdx].Before(c.joined) {
			c.firstIdx++
		}
	} else {
		c.joined = g.day(g.today.AddDate(-10, 0, 0), windowStart.AddDate(0, 0, -1))
	}
	return row
}

// usagePlan draws the customer's monthly usage into g.usage and picks their
// plan to suit their group.
func (g *generator) usagePlan(c *cust) {
	r := g.r
	top := len(g.ladder) - 1

	// A baseline per meter between the allowances of the plan below and
	// the plan their usage naturally fits.
	c.tier = pickWeighted(r, tierWeights)
	var hs *rules.Plan
	if c.grp == handset {
		switch u := r.IntN(100); {
		case u < 20: // light users on a phone plan pay for airtime they don't use
			hs, c.tier = g.handset12, 1
		case u < 80:
			hs, c.tier = g.handset12, -1
		default:
			hs, c.tier = g.handset18, top
		}
	}
	lo, hi := 0, 0
	switch {
	case c.tier == -1: // above sim-10, within handset-12
		lo, hi = g.ladder[2].Allowances[MeterData].Included, hs.Allowances[MeterData].Included
	case c.tier == 0:
		hi = g.ladder[0].Allowances[MeterData].Included
	case c.tier == top:
		lo = g.ladder[top-1].Allowances[MeterData].Included
		hi = lo * 2
	default:
		lo = g.ladder[c.tier-1].Allowances[MeterData].Included
		hi = g.ladder[c.tier].Allowances[MeterData].Included
	}
	dataBase := lo + g.scale(hi-lo, 0.3, 0.72)
	var minBase, textBase int
	if c.tier == 0 {
		minBase, textBase = g.between(20, 250), g.between(5, 400)
	} else {
		minBase, textBase = g.between(30, 1200), g.between(5, 1500)
	}
	if c.grp == overrunning && c.tier >= 0 && c.tier < top {
		// Usage hovers around the allowance of their plan.
		if c.tier == 0 && g.pct(40) {
			minBase = g.scale(g.ladder[0].Allowances[MeterMinutes].Included, 0.95, 1.2)
		} else {
			dataBase = g.scale(hi, 0.92, 1.12)
		}
	}
	roamer := g.pct(12)

	// Monthly usage with noise, and the odd heavy month.
	for i := range g.usage {
		clear(g.usage[i])
		if i < c.firstIdx {
			continue
		}
		m := g.usage[i]
		data := g.scale(dataBase, 0.85, 1.15)
		if g.pct(4) {
			data = g.scale(data, 1.2, 1.5)
		}
		m[MeterData] = data
		m[MeterMinutes] = g.scale(minBase, 0.85, 1.15)
		m[MeterTexts] = g.scale(textBase, 0.8, 1.2)
		if roamer && g.pct(30) {
			m[MeterRoaming] = g.between(20, 2500)
		}
	}

	// The plan: the cheapest that fits the last three months, or not.
	fit := g.fitting(c.firstIdx)
	c.plan = g.ladder[fit]
	switch c.grp {
	case overpaying:
		maxData := 0
		for _, m := range g.usage[c.firstIdx:] {
			maxData = max(maxData, m[MeterData])
		}
		switch {
		case c.plan.MonthlyPrice < g.legacy15.MonthlyPrice && maxData <= g.legacy15.Allowances[MeterData].Included && g.pct(40):
			c.plan = g.legacy15
		case c.plan.MonthlyPrice < g.legacy20.MonthlyPrice && maxData <= g.legacy20.Allowances[MeterData].Included && g.pct(30):
			c.plan = g.legacy20
		default:
			c.plan = g.ladder[min(fit+g.between(1, 2), top)]
		}
	case overrunning:
		if c.tier >= 0 && c.tier < fit {
			c.plan = g.ladder[c.tier]
		}
	case handset:
		c.plan = hs
	}
	if _, ok := c.plan.Allowances[MeterRoaming]; !ok {
		for _, m := range g.usage {
			delete(m, MeterRoaming)
		}
	}
}

// subscription draws the subscription's dates and, on a handset plan, the
// instalment and contract.
func (g *generator) subscription(c *cust) subRow {
	windowStart := g.months[0]
	sub := subRow{customerID: c.id, planID: c.plan.ID}
	var started time.Time
	switch {
	case c.grp == handset:
		c.device = int64(1500 + 100*g.r.IntN(21))
		var end time.Time
		switch u := g.r.IntN(100); {
		case u < 30: // the contract ends soon
			end = g.today.AddDate(0, 0, g.between(10, 60))
		case u < 55: // paid off in the past
			c.paidOff = g.daysAgo(g.between(20, 400))
			end = c.paidOff
			c.stillCharged = g.pct(75)
		default: // mid contract, started before the usage window
			last := daysBetween(g.today, windowStart.AddDate(2, 0, -1))
			end = g.today.AddDate(0, 0, g.between(61, max(last, 90)))
		}
		started = end.AddDate(-2, 0, 0)
		if started.Before(c.joined) {
			c.joined = g.day(started.AddDate(-6, 0, 0), started)
		}
		sub.contractEndsOn = dateString(end)
		sub.deviceMonthly = c.device
		if !c.paidOff.IsZero() {
			sub.devicePaidOff = dateString(c.paidOff)
			if !c.stillCharged {
				sub.deviceMonthly = 0
			}
		}
	case c.recent:
		started = c.joined
	case c.plan.Available:
		started = g.day(c.joined, windowStart.AddDate(0, 0, -1))
	default: // legacy plans were taken out years ago
		started = g.day(c.joined, later(c.joined, windowStart.AddDate(-2, 0, 0)))
	}
	sub.startedOn = dateString(started)
	return sub
}

func (g *generator) charge(c *cust, on time.Time, kind string, amount int64, waived bool) {
	g.charges = append(g.charges, chargeRow{customerID: c.id, on: on, kind: kind, amount: amount, waived: waived})
}

func (g *generator) event(c *cust, at time.Time, kind, attrs string) {
	g.events = append(g.events, eventRow{customerID: c.id, at: at, kind: kind, attrs: attrs})
}

// bills charges the plan, the handset and any add-on on the first of each
// month (this one included), with the previous month's overage, and
// writes the add-on.
func (g *generator) bills(c *cust, b *batch) {
	for i := c.firstIdx; i <= g.opts.Months; i++ {
		on := g.months[i]
		g.charge(c, on, "plan", int64(c.plan.MonthlyPrice), false)
		if c.device > 0 && (c.paidOff.IsZero() || c.stillCharged || on.Before(c.paidOff)) {
			g.charge(c, on, "device", c.device, false)
		}
		if i > c.firstIdx {
			if over := rules.Overage(*c.plan, g.usage[i-1]); over > 0 {
				g.charge(c, on, "overage", int64(over), false)
			}
		}
	}
	if !g.pct(10) {
		return
	}
	a := addonCatalogue[g.r.IntN(len(addonCatalogue))]
	started := later(g.day(c.joined, g.daysAgo(30)), c.joined)
	var used time.Time
	switch u := g.r.IntN(100); {
	case u < 55: // recently
		used = g.day(later(started, g.daysAgo(30)), g.today)
	case u < 80: // long ago
		used = g.day(started, g.daysAgo(91))
	} // else never
	row := addonRow{customerID: c.id, addonID: a.id, name: a.name, price: a.price, startedOn: dateString(started)}
	if !used.IsZero() {
		row.lastUsedOn = dateString(used)
	}
	b.addons = append(b.addons, row)
	for i := c.firstIdx; i <= g.opts.Months; i++ {
		if !g.months[i].Before(started) {
			g.charge(c, g.months[i], "addon", a.price, false)
		}
	}
}

// incidents draws the things that happen to a customer: lost SIMs and
// their replacement fees, failed payments and late fees, faults, outages
// and complaints. They fall on days the customer had, from joining (or the
// start of the usage window) to today.
func (g *generator) incidents(c *cust) {
	r := g.r
	sinceDays := daysBetween(later(c.joined, g.months[0]), g.today)
	// ago picks a day from..to days ago, if the customer had one.
	ago := func(from, to int) (time.Time, bool) {
		to = min(to, sinceDays)
		if to < from {
			return time.Time{}, false
		}
		return g.daysAgo(g.between(from, to)), true
	}

	// A lost or damaged SIM, and for half of them a replacement fee.
	simEvent := func(kind string, from, to int) {
		d, ok := ago(from, to)
		if !ok {
			return
		}
		at := g.instant(d)
		g.event(c, at, kind, `{"channel":"`+reportChannels[r.IntN(len(reportChannels))]+`"}`)
		if g.pct(50) {
			on := earlier(dateOf(at).AddDate(0, 0, g.between(0, 2)), g.today)
			fee := int64(500)
			if g.pct(30) {
				fee = 1000
			}
			g.charge(c, on, "replacement_fee", fee, false)
		}
	}
	switch u := r.Float64() * 100; {
	case u < 1.5:
		simEvent("sim_lost", 0, 29)
	case u < 2.0:
		simEvent("sim_damaged", 0, 29)
	case u < 2.5:
		simEvent("sim_lost", 35, sinceDays)
	}

	// Late fees, each a few days after a failed payment; mostly to
	// customers of long standing.
	lateFee := func(on time.Time, waived bool) {
		g.event(c, g.instant(on.AddDate(0, 0, -g.between(2, 6))), "payment_failed",
			`{"amount":`+strconv.Itoa(c.plan.MonthlyPrice+int(c.device))+`}`)
		g.charge(c, on, "late_fee", 1000, waived)
	}
	lateP := 1.5
	if rules.YearsBetween(c.joined, g.today) >= 3 {
		lateP = 3.5
	}
	if d, ok := ago(3, 58); ok && g.pct(lateP) {
		switch u := r.IntN(100); {
		case u < 12: // repeated: an earlier one in the window too
			if before, ok := ago(70, sinceDays-7); ok {
				lateFee(before, false)
			}
			lateFee(d, false)
		case u < 20: // already waived
			lateFee(d, true)
		default:
			lateFee(d, false)
		}
	}

	if d, ok := ago(0, 89); ok && g.pct(0.5) {
		g.event(c, g.instant(d), "device_fault", "{}")
	}
	if d, ok := ago(0, sinceDays); ok && g.pct(2) {
		g.event(c, g.instant(d), "outage", `{"hours":`+strconv.Itoa(g.between(2, 72))+`}`)
	}
	if d, ok := ago(0, sinceDays); ok && g.pct(1) {
		g.event(c, g.instant(d), "complaint_opened", `{"topic":"`+complaintTopics[r.IntN(len(complaintTopics))]+`"}`)
	}
}

// fitting returns the index in the ladder of the cheapest available sim-only
// plan on which each of the last three usage months fits and that covers
// every meter used in any month.
func (g *generator) fitting(firstIdx int) int {
	last := g.usage[firstIdx:]
	recent := last[max(len(last)-3, 0):]
next:
	for i, p := range g.ladder {
		for _, m := range last {
			for meter, q := range m {
				if _, ok := p.Allowances[meter]; !ok && q > 0 {
					continue next
				}
			}
		}
		for _, m := range recent {
			if !rules.Fits(*p, m) {
				continue next
			}
		}
		return i
	}
	return len(g.ladder) - 1
}

func pickWeighted(r *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := r.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

// emailLocal lowercases a name and keeps its letters only.
func emailLocal(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// daysBetween returns the whole days from date a to date b.
func daysBetween(a, b time.Time) int { return int(b.Sub(a).Hours() / 24) }

func dateOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// dateString formats a date as YYYY-MM-DD, faster than time.Format.
func dateString(t time.Time) string {
	y, m, d := t.Date()
	var b [10]byte
	b[0] = byte('0' + y/1000%10)
	b[1] = byte('0' + y/100%10)
	b[2] = byte('0' + y/10%10)
	b[3] = byte('0' + y%10)
	b[4] = '-'
	b[5] = byte('0' + int(m)/10)
	b[6] = byte('0' + int(m)%10)
	b[7] = '-'
	b[8] = byte('0' + d/10)
	b[9] = byte('0' + d%10)
	return string(b[:])
}

// The writer.

type writer struct {
	db *database.DB
	pg bool
}

type table struct {
	name string
	cols []string
}

var (
	tCustomers = table{"customers", []string{"id", "name", "email", "phone", "locale", "timezone", "joined_on", "segment", "marketing_opt_in", "contact_opt_out", "attrs", "account_no"}}
	tPlans     = table{"plans", []string{"id", "name", "monthly_price", "currency", "available", "attrs"}}
	tAllowance = table{"plan_allowances", []string{"plan_id", "meter", "included", "overage_rate"}}
	tSubs      = table{"subscriptions", []string{"customer_id", "plan_id", "started_on", "contract_ends_on", "device_monthly", "device_paid_off_on"}}
	tAddons    = table{"addons", []string{"customer_id", "addon_id", "name", "monthly_price", "started_on", "last_used_on"}}
	tUsage     = table{"usage", []string{"customer_id", "month", "meter", "quantity"}}
	tCharges   = table{"charges", []string{"id", "customer_id", "charged_on", "kind", "amount", "waived"}}
	tEvents    = table{"events", []string{"id", "customer_id", "occurred_at", "kind", "attrs"}}
)

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (w *writer) writeCatalogue(ctx context.Context) error {
	return w.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := w.rows(ctx, tx, tPlans, len(catalogue), func(i int, v []any) {
			s := catalogue[i]
			attrs, _ := json.Marshal(s.attrs)
			v[0], v[1], v[2], v[3], v[4], v[5] = s.id, s.name, int64(s.price), Currency, s.available, string(attrs)
		}); err != nil {
			return err
		}
		var allows []struct {
			plan string
			a    allowance
		}
		for _, s := range catalogue {
			for _, a := range s.allows {
				allows = append(allows, struct {
					plan string
					a    allowance
				}{s.id, a})
			}
		}
		return w.rows(ctx, tx, tAllowance, len(allows), func(i int, v []any) {
			a := allows[i]
			var included any
			if a.a.included != unlimited {
				included = int64(a.a.included)
			}
			v[0], v[1], v[2], v[3] = a.plan, a.a.meter, included, a.a.rate
		})
	})
}

// job is the rows of one table in a batch: fill sets row i's values in v.
type job struct {
	t    table
	n    int
	fill func(i int, v []any)
}

func (w *writer) writeBatch(ctx context.Context, b *batch) error {
	jobs := []job{
		{tCustomers, len(b.customers), func(i int, v []any) {
			c := &b.customers[i]
			v[0], v[1], v[2], v[3], v[4], v[5] = c.id, c.name, c.email, c.phone, c.locale, c.timezone
			v[6], v[7], v[8], v[9], v[10] = c.joined, c.segment, c.marketingOptIn, c.contactOut, c.attrs
			v[11] = AccountNo(c.id)
		}},
		{tSubs, len(b.subs), func(i int, v []any) {
			s := &b.subs[i]
			v[0], v[1], v[2], v[3], v[4], v[5] = s.customerID, s.planID, s.startedOn, nullable(s.contractEndsOn), s.deviceMonthly, nullable(s.devicePaidOff)
		}},
		{tAddons, len(b.addons), func(i int, v []any) {
			a := &b.addons[i]
			v[0], v[1], v[2], v[3], v[4], v[5] = a.customerID, a.addonID, a.name, a.price, a.startedOn, nullable(a.lastUsedOn)
		}},
		{tCharges, len(b.charges), func(i int, v []any) {
			c := &b.charges[i]
			v[0], v[1], v[2], v[3], v[4], v[5] = c.id, c.customerID, dateString(c.on), c.kind, c.amount, c.waived
		}},
		{tEvents, len(b.events), func(i int, v []any) {
			e := &b.events[i]
			v[0], v[1], v[3], v[4] = e.id, e.customerID, e.kind, e.attrs
			if w.pg {
				v[2] = e.at
			} else {
				v[2] = e.at.Format(time.DateTime)
			}
		}},
		{tUsage, len(b.usage), func(i int, v []any) {
			u := &b.usage[i]
			v[0], v[1], v[2], v[3] = u.customerID, u.month, u.meter, u.quantity
		}},
	}
	run := func(jobs []job) error {
		return w.inTx(ctx, func(tx *sqlx.Tx) error {
			for _, j := range jobs {
				if err := w.rows(ctx, tx, j.t, j.n, j.fill); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if !w.pg {
		return run(jobs)
	}
	// PostgreSQL: usage, the largest relation, is copied on a connection
	// of its own while the others are copied on another, so that two
	// backends share the work.
	var usageErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		usageErr = run(jobs[len(jobs)-1:])
	}()
	err := run(jobs[:len(jobs)-1])
	<-done
	return errors.Join(err, usageErr)
}

func (w *writer) inTx(ctx context.Context, fn func(*sqlx.Tx) error) error {
	tx, err := w.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// sqliteRowsPerInsert is the number of rows of one multi-row INSERT.
const sqliteRowsPerInsert = 100

// rows writes n rows to a table: fill sets row i's column values in v.
// PostgreSQL gets one COPY; SQLite gets prepared multi-row INSERTs.
func (w *writer) rows(ctx context.Context, tx *sqlx.Tx, t table, n int, fill func(i int, v []any)) error {
	if n == 0 {
		return nil
	}
	if w.pg {
		return w.copyRows(ctx, tx, t, n, fill)
	}
	ncol := len(t.cols)
	per := min(sqliteRowsPerInsert, n)
	full, err := tx.PrepareContext(ctx, insertSQL(t, per))
	if err != nil {
		return fmt.Errorf("write %s: %w", t.name, err)
	}
	defer full.Close()
	args := make([]any, per*ncol)
	for i := 0; i < n; i += per {
		k := min(per, n-i)
		for j := 0; j < k; j++ {
			fill(i+j, args[j*ncol:(j+1)*ncol])
		}
		if k == per {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, insertSQL(t, k), args[:k*ncol]...)
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", t.name, err)
		}
	}
	return nil
}

func insertSQL(t table, rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + t.name + " (" + strings.Join(t.cols, ", ") + ") VALUES ")
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(t.cols)), ", ") + ")"
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

func (w *writer) copyRows(ctx context.Context, tx *sqlx.Tx, t table, n int, fill func(i int, v []any)) (err error) {
	stmt, err := tx.PrepareContext(ctx, `COPY "`+t.name+`" (`+strings.Join(t.cols, ", ")+`) FROM STDIN`)
	if err != nil {
		return fmt.Errorf("write %s: %w", t.name, err)
	}
	defer func() {
		if cerr := stmt.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("write %s: %w", t.name, cerr)
		}
	}()
	v := make([]any, len(t.cols))
	for i := 0; i < n; i++ {
		fill(i, v)
		if _, err := stmt.ExecContext(ctx, v...); err != nil {
			return fmt.Errorf("write %s: %w", t.name, err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return fmt.Errorf("write %s: %w", t.name, err)
	}
	return nil
}

// AccountNo is the sample operator's account number of customer id, as its
// billing system would write it: "AC-0000041".
func AccountNo(id int64) string { return fmt.Sprintf("AC-%07d", id) }
