// Package ruletest runs rule tests: YAML files beside a ruleset's rules
// (cheaper-plan_test.yaml) that describe fixture customers compactly, the
// run's clock and the proposals expected or expected absent. It reports
// failures field by field, JUnit XML, and which rules and clauses the tests
// exercised.
package ruletest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"
	yaml "go.yaml.in/yaml/v4"

	"github.com/goodturn/goodturn/engine/policy"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/rules"
	"github.com/goodturn/goodturn/rules/rulefmt"
)

// File is one rule test file.
type File struct {
	// Now is the clock of every test in the file unless a test sets its own.
	Now Time `yaml:"now"`
	// Plans is the plan catalogue the tests' customers see.
	Plans []Plan `yaml:"plans"`
	// Policy overrides the contact policy's frequency cap for the file's
	// tests; the default is the engine's (1 promotional message a week).
	Policy *PolicyConfig `yaml:"policy"`
	Tests  []Test        `yaml:"tests"`
}

// PolicyConfig sets the contact policy's frequency cap in a test file.
type PolicyConfig struct {
	Cap       int    `yaml:"cap"`
	CapWindow string `yaml:"cap_window"`
}

// Time is a date (2026-11-23) or an RFC 3339 time in a test file.
type Time struct{ time.Time }

// UnmarshalYAML reads a date or an RFC 3339 time.
func (t *Time) UnmarshalYAML(n *yaml.Node) error {
	for _, layout := range []string{time.DateOnly, time.RFC3339} {
		if p, err := time.Parse(layout, n.Value); err == nil {
			t.Time = p.UTC()
			return nil
		}
	}
	return fmt.Errorf("%q is not a date (2006-01-02) or time (2006-01-02T15:04:05Z)", n.Value)
}

// Plan is a catalogue plan in a test file. Currency defaults to GBP and
// Available to true.
type Plan struct {
	ID           string               `yaml:"id"`
	Name         string               `yaml:"name"`
	MonthlyPrice int                  `yaml:"monthly_price"`
	Currency     string               `yaml:"currency"`
	Available    *bool                `yaml:"available"`
	Allowances   map[string]Allowance `yaml:"allowances"`
	Attrs        map[string]any       `yaml:"attrs"`
}

// Allowance is a plan's allowance of one meter: `included: 20480`, or
// `unlimited: true`, with an exact decimal `overage_rate: "0.5"`.
type Allowance struct {
	Included    int    `yaml:"included"`
	Unlimited   bool   `yaml:"unlimited"`
	OverageRate string `yaml:"overage_rate"`
}

// Test is one fixture customer and what the rules should make of it.
type Test struct {
	Name string `yaml:"name"`
	// Now overrides the file's clock.
	Now          Time               `yaml:"now"`
	Customer     Customer           `yaml:"customer"`
	Subscription Subscription       `yaml:"subscription"`
	Addons       []Addon            `yaml:"addons"`
	Usage        []rules.UsageMonth `yaml:"usage"`
	Charges      []Charge           `yaml:"charges"`
	Events       []Event            `yaml:"events"`
	// Previous lists earlier proposals to the customer, for cooldowns and
	// the frequency cap.
	Previous []Previous `yaml:"previous"`
	// Suppressions lists suppressions of the customer.
	Suppressions []Suppression `yaml:"suppressions"`
	Expect       []Expect      `yaml:"expect"`
	// Absent lists rules that must not propose anything.
	Absent []string `yaml:"absent"`

	line int
}

// Customer is a fixture customer; every field is optional.
type Customer struct {
	ID             int64          `yaml:"id"`
	Name           string         `yaml:"name"`
	Email          *string        `yaml:"email"`
	Phone          *string        `yaml:"phone"`
	Locale         string         `yaml:"locale"`
	Timezone       string         `yaml:"timezone"`
	JoinedOn       Time           `yaml:"joined_on"`
	Segment        string         `yaml:"segment"`
	MarketingOptIn *bool          `yaml:"marketing_opt_in"`
	ContactOptOut  bool           `yaml:"contact_opt_out"`
	Attrs          map[string]any `yaml:"attrs"`
}

// Subscription is a fixture subscription; the plan comes from the file's
// catalogue.
type Subscription struct {
	PlanID          string `yaml:"plan_id"`
	StartedOn       Time   `yaml:"started_on"`
	ContractEndsOn  Time   `yaml:"contract_ends_on"`
	DeviceMonthly   int    `yaml:"device_monthly"`
	DevicePaidOffOn Time   `yaml:"device_paid_off_on"`
}

// Addon is a fixture add-on.
type Addon struct {
	ID           string `yaml:"id"`
	Name         string `yaml:"name"`
	MonthlyPrice int    `yaml:"monthly_price"`
	StartedOn    Time   `yaml:"started_on"`
	LastUsedOn   Time   `yaml:"last_used_on"`
}

// Charge is a fixture charge; ids default to their position.
type Charge struct {
	ID        int64  `yaml:"id"`
	ChargedOn Time   `yaml:"charged_on"`
	Kind      string `yaml:"kind"`
	Amount    int    `yaml:"amount"`
	Waived    bool   `yaml:"waived"`
}

// Event is a fixture event; ids default to their position.
type Event struct {
	ID         int64          `yaml:"id"`
	OccurredAt Time           `yaml:"occurred_at"`
	Kind       string         `yaml:"kind"`
	Attrs      map[string]any `yaml:"attrs"`
}

// Suppression suppresses the fixture customer from a rule, or from every
// rule when Rule is empty.
type Suppression struct {
	Rule   string `yaml:"rule"`
	Reason string `yaml:"reason"`
	Owner  string `yaml:"owner"`
}

// Previous is an earlier proposal of a rule to the fixture customer.
type Previous struct {
	Rule   string `yaml:"rule"`
	AsOf   Time   `yaml:"as_of"`
	Status string `yaml:"status"`
}

// Expect is a proposal a test expects. Kind, Value and Offer are checked
// only when given; Offer is checked field by field.
type Expect struct {
	Rule  string         `yaml:"rule"`
	Kind  string         `yaml:"kind"`
	Value *int           `yaml:"value"`
	Offer map[string]any `yaml:"offer"`
	// Held, when true, expects the rule to match but the contact policy to
	// hold it back; Because, when set, names the reason (cooldown, pending,
	// frequency_cap, outranked, no_marketing_consent, opted_out, suppressed).
	Held    bool   `yaml:"held"`
	Because string `yaml:"because"`
}

// Load reads a rule test file.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	if err := yaml.Load(b, &f, yaml.WithKnownFields()); err != nil {
		return nil, loadError(path, err)
	}
	// Remember where each test starts, for failure messages.
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) == nil && len(doc.Content) > 0 {
		root := doc.Content[0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "tests" {
				for j, tn := range root.Content[i+1].Content {
					if j < len(f.Tests) {
						f.Tests[j].line = tn.Line
					}
				}
			}
		}
	}
	for i, t := range f.Tests {
		if t.Name == "" {
			return nil, fmt.Errorf("%s:%d: test %d has no name", path, t.line, i+1)
		}
		if t.Now.IsZero() && f.Now.IsZero() {
			return nil, fmt.Errorf("%s:%d: test %q: no clock: set `now` on the file or the test", path, t.line, t.Name)
		}
	}
	return &f, nil
}

var unknownField = regexp.MustCompile(`line (\d+): field (\S+) not found in type ruletest\.(\w+)`)

// fieldTypes maps the type names in the YAML decoder's errors to the types.
var fieldTypes = map[string]reflect.Type{
	"File": reflect.TypeOf(File{}), "Plan": reflect.TypeOf(Plan{}), "Allowance": reflect.TypeOf(Allowance{}),
	"Test": reflect.TypeOf(Test{}), "Customer": reflect.TypeOf(Customer{}), "Subscription": reflect.TypeOf(Subscription{}),
	"Addon": reflect.TypeOf(Addon{}), "Charge": reflect.TypeOf(Charge{}), "Event": reflect.TypeOf(Event{}),
	"Previous": reflect.TypeOf(Previous{}), "Expect": reflect.TypeOf(Expect{}),
}

// loadError rewrites the YAML decoder's errors as path:line: messages, with
// a suggestion for a misspelt field.
func loadError(path string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "construct errors: ")
	if m := unknownField.FindStringSubmatch(msg); m != nil {
		var known []string
		if t, ok := fieldTypes[m[3]]; ok {
			for i := 0; i < t.NumField(); i++ {
				if tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]; tag != "" {
					known = append(known, tag)
				}
			}
		}
		out := fmt.Sprintf("%s:%s: unknown field %q", path, m[1], m[2])
		if s := rulefmt.Suggest(m[2], known); s != "" {
			out += fmt.Sprintf(" (did you mean %q?)", s)
		} else if len(known) > 0 {
			out += " (known fields: " + strings.Join(known, ", ") + ")"
		}
		return errors.New(out)
	}
	if strings.HasPrefix(msg, "line ") {
		return fmt.Errorf("%s:%s", path, strings.TrimPrefix(msg, "line "))
	}
	return fmt.Errorf("%s: %s", path, msg)
}

// Files returns the rule test files of a ruleset folder: *_test.yaml and
// *_test.yml.
func Files(dir string) ([]string, error) {
	var files []string
	for _, suffix := range []string{rules.TestFileSuffix, "_test.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	return files, nil
}

// catalogue converts the file's plans.
func (f *File) catalogue() ([]rules.Plan, error) {
	var out []rules.Plan
	for _, p := range f.Plans {
		rp := rules.Plan{ID: p.ID, Name: p.Name, MonthlyPrice: p.MonthlyPrice, Currency: p.Currency, Available: true,
			Allowances: map[string]rules.Allowance{}, Attrs: p.Attrs}
		if rp.Currency == "" {
			rp.Currency = "GBP"
		}
		if p.Available != nil {
			rp.Available = *p.Available
		}
		for meter, a := range p.Allowances {
			rate := rules.Rate{}
			if a.OverageRate != "" {
				r, err := rules.ParseRate(a.OverageRate)
				if err != nil {
					return nil, fmt.Errorf("plan %s: %s: %w", p.ID, meter, err)
				}
				rate = r
			}
			rp.Allowances[meter] = rules.Allowance{Meter: meter, Included: a.Included, Unlimited: a.Unlimited, OverageRate: rate}
		}
		out = append(out, rp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Facts builds the facts a rule sees for a test's customer, filling every
// field the test leaves out with a plain default.
func (f *File) Facts(t *Test) (rules.Facts, error) {
	now := f.Now.Time
	if !t.Now.IsZero() {
		now = t.Now.Time
	}
	cat, err := f.catalogue()
	if err != nil {
		return rules.Facts{}, err
	}
	c := t.Customer
	fc := rules.Customer{ID: c.ID, Name: c.Name, Locale: c.Locale, Timezone: c.Timezone,
		JoinedOn: c.JoinedOn.Time, Segment: c.Segment, MarketingOptIn: true, ContactOptOut: c.ContactOptOut, Attrs: c.Attrs}
	if fc.ID == 0 {
		fc.ID = 1
	}
	// Reachable on every channel unless the test says otherwise:
	// `email: ""` is a customer with no email address.
	fc.Email, fc.Phone = fmt.Sprintf("customer%d@example.com", fc.ID), fmt.Sprintf("+447700900%03d", fc.ID%1000)
	if c.Email != nil {
		fc.Email = *c.Email
	}
	if c.Phone != nil {
		fc.Phone = *c.Phone
	}
	if fc.Name == "" {
		fc.Name = "Sam Taylor"
	}
	if fc.Locale == "" {
		fc.Locale = "en-GB"
	}
	if fc.Timezone == "" {
		fc.Timezone = "Europe/London"
	}
	if fc.JoinedOn.IsZero() {
		fc.JoinedOn = now.AddDate(-2, 0, 0).Truncate(24 * time.Hour)
	}
	if c.MarketingOptIn != nil {
		fc.MarketingOptIn = *c.MarketingOptIn
	}
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	facts := rules.Facts{Customer: fc, Plans: cat, Now: now, Today: today}
	s := t.Subscription
	facts.Subscription = rules.Subscription{PlanID: s.PlanID, StartedOn: s.StartedOn.Time, ContractEndsOn: s.ContractEndsOn.Time,
		DeviceMonthly: s.DeviceMonthly, DevicePaidOffOn: s.DevicePaidOffOn.Time}
	if s.PlanID != "" {
		found := false
		for _, p := range cat {
			if p.ID == s.PlanID {
				facts.Plan, facts.Currency, found = p, p.Currency, true
			}
		}
		if !found {
			return rules.Facts{}, fmt.Errorf("subscription plan %q is not in the file's plans", s.PlanID)
		}
	} else if len(cat) > 0 {
		facts.Currency = cat[0].Currency
	}
	if facts.Subscription.StartedOn.IsZero() && s.PlanID != "" {
		facts.Subscription.StartedOn = fc.JoinedOn
	}
	for _, a := range t.Addons {
		facts.Addons = append(facts.Addons, rules.Addon{ID: a.ID, Name: a.Name, MonthlyPrice: a.MonthlyPrice, StartedOn: a.StartedOn.Time, LastUsedOn: a.LastUsedOn.Time})
	}
	// Usage is newest first: the month before now's month, then earlier.
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	for i, u := range t.Usage {
		if u == nil {
			u = rules.UsageMonth{}
		}
		facts.Usage = append(facts.Usage, u)
		facts.Months = append(facts.Months, first.AddDate(0, -(i+1), 0))
	}
	for i, ch := range t.Charges {
		id := ch.ID
		if id == 0 {
			id = int64(i + 1)
		}
		facts.Charges = append(facts.Charges, rules.Charge{ID: id, ChargedOn: ch.ChargedOn.Time, Kind: ch.Kind, Amount: ch.Amount, Waived: ch.Waived})
	}
	sort.SliceStable(facts.Charges, func(i, j int) bool { return facts.Charges[i].ChargedOn.After(facts.Charges[j].ChargedOn) })
	for i, e := range t.Events {
		id := e.ID
		if id == 0 {
			id = int64(i + 1)
		}
		facts.Events = append(facts.Events, rules.Event{ID: id, OccurredAt: e.OccurredAt.Time, Kind: e.Kind, Attrs: e.Attrs})
	}
	sort.SliceStable(facts.Events, func(i, j int) bool { return facts.Events[i].OccurredAt.After(facts.Events[j].OccurredAt) })
	return facts, nil
}

// Result is the outcome of one test.
type Result struct {
	File     string
	Name     string
	Line     int
	Failures []string
	Duration time.Duration
}

// Passed reports whether the test passed.
func (r Result) Passed() bool { return len(r.Failures) == 0 }

// Coverage records, per rule, whether tests made it fire and not fire, and
// which clauses of `when` were seen true and false.
type Coverage struct {
	Rules []RuleCoverage
}

// RuleCoverage is one rule's coverage.
type RuleCoverage struct {
	Rule     string
	Fired    bool
	NotFired bool
	Clauses  []ClauseCoverage
}

// ClauseCoverage is one clause's coverage.
type ClauseCoverage struct {
	Clause              string
	SeenTrue, SeenFalse bool
}

// Runner runs the rule tests of one ruleset.
type Runner struct {
	Ruleset *rules.Ruleset
	// Filter, when set, selects tests by name.
	Filter *regexp.Regexp

	machine  vm.VM
	coverage map[string]*RuleCoverage
	named    map[string]bool
	firing   map[string]Firing
}

// Firing is a test customer a rule proposed to, with the outcome: what a
// check renders the rule's message template with.
type Firing struct {
	Facts   rules.Facts
	Outcome rules.Outcome
}

// NewRunner returns a runner for a ruleset.
func NewRunner(rs *rules.Ruleset, filter *regexp.Regexp) *Runner {
	r := &Runner{Ruleset: rs, Filter: filter, coverage: map[string]*RuleCoverage{}, named: map[string]bool{}, firing: map[string]Firing{}}
	for _, rule := range rs.Rules {
		rc := &RuleCoverage{Rule: rule.ID}
		_, clauses := rule.Clauses()
		for _, c := range clauses {
			rc.Clauses = append(rc.Clauses, ClauseCoverage{Clause: c})
		}
		r.coverage[rule.ID] = rc
	}
	return r
}

// RunFile runs the tests of one file.
func (r *Runner) RunFile(path string) ([]Result, error) {
	f, err := Load(path)
	if err != nil {
		return nil, err
	}
	var out []Result
	for i := range f.Tests {
		t := &f.Tests[i]
		if r.Filter != nil && !r.Filter.MatchString(t.Name) {
			continue
		}
		start := time.Now()
		res := Result{File: path, Name: t.Name, Line: t.line}
		res.Failures = r.run(f, t)
		res.Duration = time.Since(start)
		out = append(out, res)
	}
	return out, nil
}

func (r *Runner) run(f *File, t *Test) []string {
	var fails []string
	facts, err := f.Facts(t)
	if err != nil {
		return []string{err.Error()}
	}
	for _, rn := range append(expectRules(t.Expect), t.Absent...) {
		r.named[rn] = true
		if r.Ruleset.Rule(rn) == nil {
			fails = append(fails, fmt.Sprintf("no rule %q in ruleset %s", rn, r.Ruleset.Name))
		}
	}
	if len(fails) > 0 {
		return fails
	}
	outcomes := map[string]rules.Outcome{}
	for _, rule := range r.Ruleset.Rules {
		ex, err := rule.Explain(&r.machine, facts)
		if err != nil {
			if wants(t, rule.ID) {
				fails = append(fails, fmt.Sprintf("rule %s: failed: %v", rule.ID, err))
			}
			continue
		}
		r.cover(rule.ID, ex)
		o, _ := rule.Eval(&r.machine, facts)
		outcomes[rule.ID] = o
		if _, ok := r.firing[rule.ID]; !ok && o.Matched {
			r.firing[rule.ID] = Firing{Facts: facts, Outcome: o}
		}
	}
	decisions, err := r.decide(f, t, facts, outcomes)
	if err != nil {
		return []string{err.Error()}
	}
	for _, e := range t.Expect {
		rule := r.Ruleset.Rule(e.Rule)
		o := outcomes[e.Rule]
		if !o.Matched {
			fails = append(fails, fmt.Sprintf("rule %s: want a proposal, got none (%s)", e.Rule, r.why(rule, facts)))
			continue
		}
		d := decisions[e.Rule]
		held := d.Reason != ""
		switch {
		case (e.Held || e.Because != "") && !held:
			fails = append(fails, fmt.Sprintf("rule %s: want the match held back, but it would be proposed", e.Rule))
		case !e.Held && e.Because == "" && held:
			fails = append(fails, fmt.Sprintf("rule %s: want a proposal, but it is held back: %s", e.Rule, describe(d, rule)))
		case e.Because != "" && held && d.Reason != e.Because:
			fails = append(fails, fmt.Sprintf("rule %s: held back: want %s, got %s", e.Rule, e.Because, describe(d, rule)))
		}
		if e.Kind != "" && e.Kind != rule.Kind {
			fails = append(fails, fmt.Sprintf("rule %s: kind: want %s, got %s", e.Rule, e.Kind, rule.Kind))
		}
		if e.Value != nil && *e.Value != o.Value {
			fails = append(fails, fmt.Sprintf("rule %s: value: want %d (%s), got %d (%s)", e.Rule,
				*e.Value, rules.FormatMoney(*e.Value, facts.Currency), o.Value, rules.FormatMoney(o.Value, facts.Currency)))
		}
		got := map[string]any{}
		for _, nv := range o.Offer {
			got[nv.Name] = nv.Value
		}
		keys := make([]string, 0, len(e.Offer))
		for k := range e.Offer {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			g, ok := got[k]
			if !ok {
				fails = append(fails, fmt.Sprintf("rule %s: offer.%s: want %s, but the rule's offer has no such field", e.Rule, k, show(e.Offer[k])))
				continue
			}
			if !same(e.Offer[k], g) {
				fails = append(fails, fmt.Sprintf("rule %s: offer.%s: want %s, got %s", e.Rule, k, show(e.Offer[k]), show(g)))
			}
		}
	}
	for _, a := range t.Absent {
		if o := outcomes[a]; o.Matched {
			if decisions[a].Reason != "" {
				continue // matched, but the contact policy holds it back
			}
			fails = append(fails, fmt.Sprintf("rule %s: want no proposal, got one worth %s a year", a, rules.FormatMoney(o.Value, facts.Currency)))
		}
	}
	return fails
}

func wants(t *Test, rule string) bool {
	for _, n := range append(expectRules(t.Expect), t.Absent...) {
		if n == rule {
			return true
		}
	}
	return false
}

func expectRules(es []Expect) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Rule
	}
	return out
}

// why names the clauses of `when` that were false, for a missing proposal.
func (r *Runner) why(rule *rules.Rule, facts rules.Facts) string {
	ex, err := rule.Explain(&r.machine, facts)
	if err != nil {
		return err.Error()
	}
	var false_ []string
	for _, c := range ex.Clauses {
		if c.Evaluated && c.Value == false {
			false_ = append(false_, c.Clause)
		}
	}
	if len(false_) == 0 {
		return "when is false"
	}
	return "false: " + strings.Join(false_, "; ")
}

func (r *Runner) cover(rule string, ex rules.Explanation) {
	rc := r.coverage[rule]
	if ex.Matched {
		rc.Fired = true
	} else {
		rc.NotFired = true
	}
	for i, c := range ex.Clauses {
		if !c.Evaluated || i >= len(rc.Clauses) {
			continue
		}
		switch c.Value {
		case true:
			rc.Clauses[i].SeenTrue = true
		case false, nil:
			rc.Clauses[i].SeenFalse = true
		}
	}
}

// Tested reports whether any test run so far names the rule in `expect` or
// `absent`.
func (r *Runner) Tested(rule string) bool { return r.named[rule] }

// FirstFiring returns the first test customer the rule proposed to.
func (r *Runner) FirstFiring(rule string) (Firing, bool) {
	f, ok := r.firing[rule]
	return f, ok
}

// Coverage returns what the tests run so far exercised, in rule order.
func (r *Runner) Coverage() Coverage {
	var c Coverage
	for _, rule := range r.Ruleset.Rules {
		c.Rules = append(c.Rules, *r.coverage[rule.ID])
	}
	return c
}

// decide applies the engine's contact policy to the rules that matched the
// test's customer, with the test's earlier proposals and suppressions.
func (r *Runner) decide(f *File, t *Test, facts rules.Facts, outcomes map[string]rules.Outcome) (map[string]policy.Decision, error) {
	pol := policy.DefaultPolicy
	if f.Policy != nil {
		pol = policy.Policy{Cap: f.Policy.Cap, CapWindow: policy.DefaultPolicy.CapWindow}
		if f.Policy.CapWindow != "" {
			w, err := rulefmt.ParseDuration(f.Policy.CapWindow)
			if err != nil {
				return nil, fmt.Errorf("policy.cap_window: %w", err)
			}
			pol.CapWindow = w
		}
		if pol.Cap <= 0 {
			pol.Cap = -1
		}
	}
	contact := policy.Contact{Customer: facts.Customer}
	since := facts.Today.Add(-pol.CapWindow).AddDate(0, 0, 1)
	for _, p := range t.Previous {
		rule := r.Ruleset.Rule(p.Rule)
		promotional := rule == nil || rule.Purpose != "service"
		if promotional && p.Status != "rejected" && !p.AsOf.Before(since) {
			contact.Recent++
		}
	}
	for _, s := range t.Suppressions {
		contact.Suppressions = append(contact.Suppressions, store.Suppression{CustomerID: facts.Customer.ID,
			Ruleset: r.Ruleset.Name, RuleID: s.Rule, Reason: s.Reason, Owner: s.Owner})
	}
	var cands []policy.Candidate
	out := map[string]policy.Decision{}
	for _, rule := range r.Ruleset.Rules {
		o := outcomes[rule.ID]
		if !o.Matched {
			continue
		}
		if len(o.Broken) > 0 {
			// As in a run: a match that breaks a promise is held back
			// before the contact policy sees it.
			out[rule.ID] = policy.Decision{Reason: policy.ReasonBrokenPromise, Detail: strings.Join(o.Broken, "; ")}
			continue
		}
		c := policy.Candidate{Ruleset: r.Ruleset.Name, Rule: rule, Value: o.Value}
		for _, p := range t.Previous {
			if p.Rule != rule.ID {
				continue
			}
			status := p.Status
			if status == "" {
				status = "pending"
			}
			if c.Earlier == nil || p.AsOf.After(c.Earlier.AsOf) || status == "pending" {
				c.Earlier = &policy.Earlier{Pending: status == "pending", AsOf: p.AsOf.Time}
			}
		}
		cands = append(cands, c)
	}
	for i, d := range pol.Decide(contact, cands, facts.Today) {
		out[cands[i].Rule.ID] = d
	}
	return out, nil
}

// describe says why the policy held a match back.
func describe(d policy.Decision, rule *rules.Rule) string {
	s := strings.ReplaceAll(d.Reason, "_", " ")
	if d.Reason == policy.ReasonCooldown {
		s += " of " + cooldown(rule)
	}
	if d.Detail != "" {
		s += ": " + d.Detail
	}
	return s
}

func cooldown(rule *rules.Rule) string { return rulefmt.FormatDuration(rule.Cooldown) }

// same compares an expected offer value from YAML with what the rule
// produced, through JSON so that 1000 and int64(1000), or a date and its
// time, compare equal.
func same(want, got any) bool {
	if t, ok := got.(time.Time); ok {
		if ws, ok := want.(string); ok {
			return ws == t.Format(time.DateOnly) || ws == t.Format(time.RFC3339)
		}
		if wt, ok := want.(time.Time); ok {
			return wt.Equal(t)
		}
	}
	return show(want) == show(got)
}

func show(v any) string {
	if t, ok := v.(time.Time); ok {
		if t.Equal(t.Truncate(24 * time.Hour)) {
			return t.Format(time.DateOnly)
		}
		return t.Format(time.RFC3339)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
