// Package rulefmt reads goodturn rule files: YAML with a list of rules. It
// checks the file's shape — required and unknown fields, value formats,
// duplicate ids — and keeps the line and column of every value so that later
// stages can report errors where the author wrote them. It knows nothing of
// expressions beyond their source text.
package rulefmt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v4"
)

// Pos is a 1-based line and column in a rule file.
type Pos struct {
	Line, Col int
}

// File is one parsed rule file.
type File struct {
	// Path is the file's path as given to Parse.
	Path string
	// Hash is the hex SHA-256 of the file's content: the version of every
	// rule in it.
	Hash string
	// Language is the language the file's message templates are written
	// in, a lowercase ISO 639 code: DefaultLanguage unless the file says.
	Language string
	// Rules are the file's rules in order.
	Rules []*Rule
}

// DefaultLanguage is the language of a rule file that does not name one.
const DefaultLanguage = "en"

// Rule is one rule as written, before its expressions are compiled.
type Rule struct {
	Pos         Pos
	ID          string
	IDPos       Pos
	Name        string
	Description string
	Owner       string
	Kind        string
	Enabled     bool
	// Review is "required" (each proposal is reviewed, the default) or
	// "rule" (the rule itself is approved, so its proposals go without
	// review).
	Review string
	// Purpose is "promotional" (the default: needs marketing consent) or
	// "service" (sent whatever the customer's marketing consent).
	Purpose string
	// Cooldown is how long before the same customer may get this rule again.
	Cooldown time.Duration
	// Values are the named values, computed once per customer in order.
	Values []Named
	When   Expr
	Value  Expr
	// Offer holds the named expressions stored with each proposal.
	Offer []Named
	// Require lists the rule's promises: boolean expressions over its
	// offer, value and named values that must all hold for a match to
	// become a proposal.
	Require []Expr
	// Money names the named values and offer fields that hold amounts of
	// money when their expressions do not show it.
	Money []string
	// MoneyPos is where Money is written.
	MoneyPos Pos
	Message  Message
	// Control is the share of the customers the rule proposes to that are
	// kept as a control group, in basis points (hundredths of a percent):
	// `control: 5%` is 500. Zero means no control group.
	Control int
	// ControlPos is where the control share is written, if it is.
	ControlPos Pos
}

// MaxControl is the largest control share a rule may declare, in basis
// points: half of the rule's customers.
const MaxControl = 5000

var controlExpr = regexp.MustCompile(`^(\d{1,3})(?:\.(\d{1,2}))?\s*%$`)

// ParseControl parses a control share such as "5%", "2.5%" or "0%" into
// basis points, and refuses a share above MaxControl.
func ParseControl(s string) (int, error) {
	m := controlExpr.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("cannot parse control share %q: want a percentage such as 5%% or 2.5%%", s)
	}
	whole, _ := strconv.Atoi(m[1])
	frac := 0
	if m[2] != "" {
		frac, _ = strconv.Atoi((m[2] + "0")[:2])
	}
	bp := whole*100 + frac
	if bp > MaxControl {
		return 0, fmt.Errorf("control share %s is more than %d%%: at most half of a rule's customers may go uncontacted", s, MaxControl/100)
	}
	return bp, nil
}

// FormatControl writes a control share in basis points as a percentage, the
// way ParseControl reads it.
func FormatControl(bp int) string {
	if bp%100 == 0 {
		return fmt.Sprintf("%d%%", bp/100)
	}
	return strings.TrimRight(fmt.Sprintf("%d.%02d", bp/100, bp%100), "0") + "%"
}

// Named is a named expression: a named value or an offer field.
type Named struct {
	Name    string
	NamePos Pos
	Expr    Expr
	// Description is the comment written just above the name, without its
	// # marks: what the value means, for reviewers.
	Description string
}

// Message says how a proposal is worded and where it goes.
type Message struct {
	Template    string
	TemplatePos Pos
	Channels    []string
}

// Expr is the source of one expression and where it sits in the file.
type Expr struct {
	Source string
	Pos    Pos
	node   *yaml.Node
	lines  []string
}

// Position returns the file position of the rune at offset in the
// expression's source; an offset at the end of the source is the position
// just after its last character. It walks the scalar as written in the file
// alongside its value, following YAML's rules for the scalar's style:
// escapes in double-quoted scalars, doubled quotes in single-quoted ones,
// line folding in plain, quoted and folded (>) scalars, and the indentation
// of block (| and >) scalars.
func (e Expr) Position(offset int) Pos {
	if e.node == nil {
		return e.Pos
	}
	src := []rune(e.Source)
	offset = max(0, min(offset, len(src)))
	raw := e.written(len(src))
	block := e.node.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0
	var last rawRune
	i, j := 0, 0 // the next rune of raw and of src
	for i < len(raw) && j < len(src) {
		r := raw[i]
		n, m := 1, 1 // runes of raw and of src that go together
		switch {
		case block:
			// A folded line break reads as a space, or as nothing when
			// blank lines follow; a literal block reads as written.
			if e.node.Style&yaml.FoldedStyle != 0 && r.r == '\n' && src[j] != '\n' && src[j] != ' ' {
				m = 0
			}
		case isBlank(r.r):
			// Trailing spaces, line breaks and the next line's indentation
			// fold into one space, or into a newline per blank line.
			k, breaks := i, 0
			for k < len(raw) && isBlank(raw[k].r) {
				if raw[k].r == '\n' {
					breaks++
				}
				k++
			}
			if breaks > 0 {
				want, fold := breaks-1, '\n'
				if breaks == 1 {
					want, fold = 1, ' '
				}
				n, m = k-i, 0
				for m < want && j+m < len(src) && src[j+m] == fold {
					m++
				}
			}
		case e.node.Style == yaml.DoubleQuotedStyle && r.r == '\\' && i+1 < len(raw):
			switch raw[i+1].r {
			case '\n': // an escaped line break reads as nothing
				n, m = 2, 0
				for i+n < len(raw) && (raw[i+n].r == ' ' || raw[i+n].r == '\t') {
					n++
				}
			case 'x':
				n = 4
			case 'u':
				n = 6
			case 'U':
				n = 10
			default:
				n = 2
			}
		case e.node.Style == yaml.SingleQuotedStyle && r.r == '\'':
			n = 2 // '' reads as '
		}
		n = min(n, len(raw)-i)
		if m > 0 && offset < j+m {
			return Pos{Line: r.line, Col: r.col}
		}
		last = raw[i+n-1]
		i, j = i+n, j+m
	}
	if j == offset && last.line > 0 {
		return Pos{Line: last.line, Col: last.col + 1}
	}
	return e.Pos
}

// rawRune is one character of the file and its position.
type rawRune struct {
	r         rune
	line, col int
}

func isBlank(r rune) bool { return r == ' ' || r == '\t' || r == '\n' }

// written returns the scalar as written in the file, lines joined by '\n':
// from after the opening quote of a quoted scalar, from the first character
// of a plain one, and the content lines of a block scalar without the
// block's indentation. It reads no more lines than a value of n runes can
// span.
func (e Expr) written(n int) []rawRune {
	first, from := e.Pos.Line-1, e.Pos.Col-1
	switch e.node.Style {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		from++
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// Content starts on the line after the indicator, indented by the
		// first non-blank line's indentation less its own in the value.
		first, from = e.node.Line, 0
		value := strings.TrimLeft(e.Source, "\n")
		value, _, _ = strings.Cut(value, "\n")
		for k := first; k < len(e.lines); k++ {
			if strings.TrimSpace(e.lines[k]) != "" {
				from = max(0, leadingSpaces(e.lines[k])-leadingSpaces(value))
				break
			}
		}
	}
	if first < 0 {
		return nil
	}
	block := e.node.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0
	var raw []rawRune
	prevLen := 0
	for k := first; k < len(e.lines) && k <= first+2*n+1; k++ {
		line := []rune(e.lines[k])
		start := 0
		switch {
		case block:
			start = min(from, leadingSpaces(string(line)))
		case k == first:
			start = min(from, len(line))
		}
		if k > first {
			raw = append(raw, rawRune{'\n', k, prevLen + 1})
		}
		for c := start; c < len(line); c++ {
			raw = append(raw, rawRune{line[c], k + 1, c + 1})
		}
		prevLen = len(line)
	}
	return raw
}

func leadingSpaces(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

// Error is a problem at a position in a rule file.
type Error struct {
	Path string
	Pos  Pos
	// Rule is the id of the rule the problem is in, or "" for the file.
	Rule string
	// Kind names what Rule identifies: "rule" when empty; other files in
	// the same format (the schedule) name a "ruleset".
	Kind string
	Msg  string
}

// Error formats the problem as `path:line:col: rule "id": what is wrong`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Pos.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Pos.Line, max(e.Pos.Col, 1))
	}
	b.WriteString(": ")
	if e.Rule != "" {
		kind := e.Kind
		if kind == "" {
			kind = "rule"
		}
		fmt.Fprintf(&b, "%s %q: ", kind, e.Rule)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found, in file order.
type Errors []*Error

// Error joins the problems one per line.
func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Sort orders the problems by path, line and column.
func (es Errors) Sort() {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		return a.Pos.Col < b.Pos.Col
	})
}

var (
	idPattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	kindPattern  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	namePattern  = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	tmplPattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	langPattern  = regexp.MustCompile(`^[a-z]{2,3}$`)
	durationExpr = regexp.MustCompile(`^(\d+)(d|w|h|m)$`)
)

// Channels lists the message channels a rule may name.
var Channels = []string{"email", "sms", "webhook"}

var (
	fileFields    = []string{"rules", "language"}
	ruleFields    = []string{"id", "name", "description", "owner", "kind", "enabled", "review", "purpose", "cooldown", "values", "when", "value", "offer", "require", "money", "message", "control"}
	messageFields = []string{"template", "channels"}
)

// longestDuration is the longest cooldown ParseDuration accepts.
const longestDuration = 100000 * 24 * time.Hour

// DefaultCooldown is a rule's cooldown when it does not set one.
const DefaultCooldown = 30 * 24 * time.Hour

// ParseDuration parses a cooldown such as "90d", "2w", "36h", "15m" or "0".
func ParseDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	m := durationExpr.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("cannot parse duration %q: want a whole number followed by d, w, h or m, like 90d", s)
	}
	unit := map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour, "h": time.Hour, "m": time.Minute}[m[2]]
	// At most 100,000 days, whatever the unit: 100000w would overflow.
	n, err := strconv.Atoi(m[1])
	if err != nil || time.Duration(n) > longestDuration/unit {
		return 0, fmt.Errorf("duration %q is too long", s)
	}
	return time.Duration(n) * unit, nil
}

// FormatDuration writes a duration the way ParseDuration reads it.
func FormatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%(7*24*time.Hour) == 0:
		return fmt.Sprintf("%dw", d/(7*24*time.Hour))
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	default:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
}

// Parse reads one rule file. It returns every problem it finds; a file with
// problems may still return the rules it could read, for later checks.
func Parse(path string, content []byte) (*File, Errors) {
	sum := sha256.Sum256(content)
	f := &File{Path: path, Hash: hex.EncodeToString(sum[:])}
	// Lines as YAML counts them: a lone \r breaks a line too.
	text := strings.ReplaceAll(strings.ReplaceAll(string(content), "\r\n", "\n"), "\r", "\n")
	p := &parser{path: path, lines: strings.Split(text, "\n")}

	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(content))
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		p.errorf(yamlErrorPos(err), "", "%s", yamlErrorMsg(err))
		return f, p.errs
	}
	// A second document would be ignored, and its rules with it.
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if err == io.EOF {
			break
		}
		if err != nil {
			p.errorf(yamlErrorPos(err), "", "%s", yamlErrorMsg(err))
			return f, p.errs
		}
		if len(next.Content) > 0 && next.Content[0].Tag != "!!null" {
			p.errorf(pos(next.Content[0]), "", "a rule file holds one YAML document; this second one would be ignored")
			return f, p.errs
		}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		p.errorf(Pos{1, 1}, "", "file is empty: want a mapping with a `rules` list")
		return f, p.errs
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		p.errorf(pos(root), "", "want a mapping with a `rules` list, got %s", kindName(root))
		return f, p.errs
	}
	var rulesNode *yaml.Node
	f.Language = DefaultLanguage
	p.fields(root, "", fileFields, func(key, val *yaml.Node) {
		switch key.Value {
		case "rules":
			rulesNode = val
		case "language":
			if s, ok := p.str(val, "", "language"); ok {
				if !langPattern.MatchString(s) {
					p.errorf(pos(val), "", "language %q must be a lowercase ISO 639 language code such as en, cy or fr", s)
				}
				f.Language = s
			}
		}
	})
	if rulesNode == nil {
		p.errorf(pos(root), "", "missing field `rules`")
		return f, p.errs
	}
	if rulesNode.Kind != yaml.SequenceNode {
		p.errorf(pos(rulesNode), "", "`rules` must be a list of rules, got %s", kindName(rulesNode))
		return f, p.errs
	}
	seen := map[string]Pos{}
	for _, rn := range rulesNode.Content {
		r := p.rule(rn)
		if r == nil {
			continue
		}
		if r.ID != "" {
			if first, dup := seen[r.ID]; dup {
				p.errorf(r.IDPos, r.ID, "duplicate rule id (first defined at line %d)", first.Line)
			} else {
				seen[r.ID] = r.IDPos
			}
		}
		f.Rules = append(f.Rules, r)
	}
	return f, p.errs
}

type parser struct {
	path  string
	lines []string
	errs  Errors
}

func (p *parser) errorf(at Pos, rule, format string, args ...any) {
	p.errs = append(p.errs, &Error{Path: p.path, Pos: at, Rule: rule, Msg: fmt.Sprintf(format, args...)})
}

// fields walks a mapping, reporting unknown and repeated keys, and calls fn
// for every known key.
func (p *parser) fields(m *yaml.Node, rule string, known []string, fn func(key, val *yaml.Node)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(pos(k), rule, "field names must be plain words")
			continue
		}
		if !contains(known, k.Value) {
			msg := fmt.Sprintf("unknown field %q", k.Value)
			if s := suggest(k.Value, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			p.errorf(pos(k), rule, "%s", msg)
			continue
		}
		if seen[k.Value] {
			p.errorf(pos(k), rule, "field %q is set twice", k.Value)
			continue
		}
		seen[k.Value] = true
		fn(k, v)
	}
}

func (p *parser) rule(n *yaml.Node) *Rule {
	if n.Kind != yaml.MappingNode {
		p.errorf(pos(n), "", "a rule must be a mapping of fields, got %s", kindName(n))
		return nil
	}
	r := &Rule{Pos: pos(n), Enabled: true, Review: "required", Purpose: "promotional", Cooldown: DefaultCooldown}
	// The id comes first so that every other error can name the rule.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "id" {
			v := n.Content[i+1]
			r.IDPos = pos(v)
			if v.Kind == yaml.ScalarNode {
				r.ID = v.Value
			}
		}
	}
	have := map[string]bool{}
	p.fields(n, r.ID, ruleFields, func(k, v *yaml.Node) {
		have[k.Value] = true
		switch k.Value {
		case "id":
			if s, ok := p.str(v, r.ID, "id"); ok && !idPattern.MatchString(s) {
				p.errorf(pos(v), r.ID, "id %q must be lowercase letters, digits, '-' and '_'", s)
			}
		case "name":
			r.Name, _ = p.str(v, r.ID, "name")
		case "description":
			r.Description, _ = p.str(v, r.ID, "description")
		case "owner":
			r.Owner, _ = p.str(v, r.ID, "owner")
		case "kind":
			if s, ok := p.str(v, r.ID, "kind"); ok {
				if !kindPattern.MatchString(s) {
					p.errorf(pos(v), r.ID, "kind %q must be a snake_case word such as cheaper_plan, free_replacement or fee_waiver", s)
				}
				r.Kind = s
			}
		case "enabled":
			if v.Kind != yaml.ScalarNode || (v.Value != "true" && v.Value != "false") {
				p.errorf(pos(v), r.ID, "enabled must be true or false")
			} else {
				r.Enabled = v.Value == "true"
			}
		case "review":
			if s, ok := p.str(v, r.ID, "review"); ok {
				if s != "required" && s != "rule" {
					p.errorf(pos(v), r.ID, "review must be \"required\" or \"rule\", got %q", s)
				}
				r.Review = s
			}
		case "purpose":
			if s, ok := p.str(v, r.ID, "purpose"); ok {
				if s != "promotional" && s != "service" {
					p.errorf(pos(v), r.ID, "purpose must be \"promotional\" or \"service\", got %q", s)
				}
				r.Purpose = s
			}
		case "cooldown":
			if s, ok := p.str(v, r.ID, "cooldown"); ok {
				d, err := ParseDuration(s)
				if err != nil {
					p.errorf(pos(v), r.ID, "cooldown: %v", err)
				}
				r.Cooldown = d
			}
		case "values":
			r.Values = p.named(v, r.ID, "values", true)
		case "when":
			r.When, _ = p.expr(v, r.ID, "when")
		case "value":
			r.Value, _ = p.expr(v, r.ID, "value")
		case "offer":
			r.Offer = p.named(v, r.ID, "offer", false)
		case "require":
			r.Require = p.exprList(v, r.ID, "require")
		case "money":
			r.MoneyPos = pos(v)
			if v.Kind != yaml.SequenceNode {
				p.errorf(pos(v), r.ID, "money must be a list of named values and offer fields, got %s", kindName(v))
				break
			}
			for _, n := range v.Content {
				if name, ok := p.str(n, r.ID, "money"); ok {
					r.Money = append(r.Money, name)
				}
			}
		case "message":
			r.Message = p.message(v, r.ID)
		case "control":
			if s, ok := p.str(v, r.ID, "control"); ok {
				bp, err := ParseControl(s)
				if err != nil {
					p.errorf(pos(v), r.ID, "control: %v", err)
				}
				r.Control, r.ControlPos = bp, pos(v)
			}
		}
	})
	for _, req := range []string{"id", "name", "description", "owner", "kind", "when", "value", "message"} {
		if !have[req] {
			p.errorf(r.Pos, r.ID, "missing field %q", req)
		}
	}
	return r
}

func (p *parser) str(v *yaml.Node, rule, field string) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		p.errorf(pos(v), rule, "%s must be a string, got %s", field, kindName(v))
		return "", false
	}
	if strings.TrimSpace(v.Value) == "" {
		p.errorf(pos(v), rule, "%s must not be empty", field)
		return "", false
	}
	return v.Value, true
}

func (p *parser) expr(v *yaml.Node, rule, field string) (Expr, bool) {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		p.errorf(pos(v), rule, "%s must be an expression, got %s", field, kindName(v))
		return Expr{}, false
	}
	if strings.TrimSpace(v.Value) == "" {
		p.errorf(pos(v), rule, "%s must not be empty", field)
		return Expr{}, false
	}
	return Expr{Source: v.Value, Pos: pos(v), node: v, lines: p.lines}, true
}

// commentText returns the text of a YAML comment, its lines joined and
// their # marks taken off.
func commentText(c string) string {
	var words []string
	for _, line := range strings.Split(c, "\n") {
		line = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), "#"))
		if line != "" {
			words = append(words, line)
		}
	}
	return strings.Join(words, " ")
}

// exprList reads a list of expressions, such as a rule's promises.
func (p *parser) exprList(v *yaml.Node, rule, field string) []Expr {
	if v.Kind != yaml.SequenceNode {
		p.errorf(pos(v), rule, "%s must be a list of expressions, got %s", field, kindName(v))
		return nil
	}
	var out []Expr
	for i, n := range v.Content {
		if e, ok := p.expr(n, rule, fmt.Sprintf("%s[%d]", field, i)); ok {
			out = append(out, e)
		}
	}
	return out
}

func (p *parser) named(v *yaml.Node, rule, field string, identifiers bool) []Named {
	if v.Kind != yaml.MappingNode {
		p.errorf(pos(v), rule, "%s must be a mapping of names to expressions, got %s", field, kindName(v))
		return nil
	}
	var out []Named
	seen := map[string]bool{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		name := k.Value
		if k.Kind != yaml.ScalarNode || !namePattern.MatchString(name) {
			p.errorf(pos(k), rule, "%s name %q must be a snake_case identifier", field, name)
			continue
		}
		if seen[name] {
			p.errorf(pos(k), rule, "%s name %q is set twice", field, name)
			continue
		}
		seen[name] = true
		e, ok := p.expr(val, rule, field+"."+name)
		if !ok {
			continue
		}
		out = append(out, Named{Name: name, NamePos: pos(k), Expr: e, Description: commentText(k.HeadComment)})
	}
	return out
}

func (p *parser) message(v *yaml.Node, rule string) Message {
	var m Message
	hasTemplate := false
	if v.Kind != yaml.MappingNode {
		p.errorf(pos(v), rule, "message must be a mapping with `template` and `channels`, got %s", kindName(v))
		return m
	}
	p.fields(v, rule, messageFields, func(k, val *yaml.Node) {
		switch k.Value {
		case "template":
			hasTemplate = true
			if s, ok := p.str(val, rule, "message.template"); ok {
				if !tmplPattern.MatchString(s) {
					p.errorf(pos(val), rule, "message.template %q must be a file name without extension, like cheaper-plan", s)
				}
				m.Template, m.TemplatePos = s, pos(val)
			}
		case "channels":
			if val.Kind != yaml.SequenceNode {
				p.errorf(pos(val), rule, "message.channels must be a list such as [email, sms], got %s", kindName(val))
				return
			}
			for _, c := range val.Content {
				if c.Kind != yaml.ScalarNode || !contains(Channels, c.Value) {
					msg := fmt.Sprintf("unknown channel %q: want one of %s", c.Value, strings.Join(Channels, ", "))
					if s := suggest(c.Value, Channels); s != "" {
						msg = fmt.Sprintf("unknown channel %q (did you mean %q?)", c.Value, s)
					}
					p.errorf(pos(c), rule, "%s", msg)
					continue
				}
				m.Channels = append(m.Channels, c.Value)
			}
		}
	})
	if !hasTemplate {
		p.errorf(pos(v), rule, "message: missing field \"template\"")
	}
	if len(m.Channels) == 0 {
		m.Channels = []string{"email"}
	}
	return m
}

func pos(n *yaml.Node) Pos { return Pos{Line: n.Line, Col: n.Column} }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

func yamlErrorPos(err error) Pos {
	var le *yaml.LoadError
	if errors.As(err, &le) {
		return Pos{Line: le.Mark.Line, Col: le.Mark.Column}
	}
	return Pos{}
}

func yamlErrorMsg(err error) string {
	var le *yaml.LoadError
	if errors.As(err, &le) {
		msg := le.Message
		if le.ContextMsg != "" {
			ctx := le.ContextMsg
			if c := le.ContextMark; c.Line > 0 && (c.Line != le.Mark.Line || c.Column != le.Mark.Column) {
				// The error is often found far from its cause: an
				// unterminated quote only at the end of the file.
				ctx += fmt.Sprintf(" at line %d, column %d", c.Line, c.Column)
			}
			msg = ctx + ": " + msg
		}
		if le.Message == "mapping values are not allowed in this context" {
			// The usual cause in a rule file is the ternary operator.
			msg += ` (an expression holding ": ", such as a ? b : c, must be quoted or written as a | block)`
		}
		return "yaml: " + msg
	}
	return err.Error()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Suggest returns the known word closest to s, if it is close enough to be
// a likely typo, or "".
func Suggest(s string, known []string) string { return suggest(s, known) }

// suggest returns the known word closest to s, if it is close enough to be
// a likely typo.
func suggest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		d := levenshtein(strings.ToLower(s), k)
		if d < bestD && d <= max(1, len(k)/2) {
			best, bestD = k, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
