package rulefmt_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/goodturn/goodturn/rules/rulefmt"
)

// parseErrors parses content as rules.yaml and returns its errors, sorted,
// one string each.
func parseErrors(t *testing.T, content string) []string {
	t.Helper()
	_, errs := rulefmt.Parse("rules.yaml", []byte(content))
	errs.Sort()
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

// rule is a rule with every required field, to which a test adds lines.
const rule = `rules:
  - id: r
    name: R
    description: A rule.
    owner: pricing
    kind: cheaper_plan
    when: true
    value: 1
    message: {template: t}
`

// TestParseErrors covers problems of a file's shape; testdata/*.bad.yaml,
// compiled by the rules package, covers the rest.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    []string
	}{
		{"empty file", "", []string{
			"rules.yaml:1:1: file is empty: want a mapping with a `rules` list",
		}},
		{"only comments", "# nothing yet\n", []string{
			"rules.yaml:1:1: file is empty: want a mapping with a `rules` list",
		}},
		{"a scalar", "hello\n", []string{
			"rules.yaml:1:1: want a mapping with a `rules` list, got \"hello\"",
		}},
		{"rules is null", "rules:\n", []string{
			"rules.yaml:1:7: `rules` must be a list of rules, got nothing",
		}},
		{"rules is a mapping", "rules: {}\n", []string{
			"rules.yaml:1:8: `rules` must be a list of rules, got a mapping",
		}},
		{"rules twice", "rules: []\nrules: []\n", []string{
			`rules.yaml:2:1: field "rules" is set twice`,
		}},
		{"unknown top-level field", "rules: []\nversion: 2\n", []string{
			`rules.yaml:2:1: unknown field "version"`,
		}},
		{"field twice", rule + "    name: Again\n", []string{
			`rules.yaml:10:5: rule "r": field "name" is set twice`,
		}},
		{"key not a word", rule + "    [a, b]: c\n", []string{
			`rules.yaml:10:5: rule "r": field names must be plain words`,
		}},
		{"id not a string", strings.Replace(rule, "id: r", "id: [r]", 1), []string{
			"rules.yaml:2:9: id must be a string, got a list",
		}},
		{"value name twice", rule + "    values: {a: 1, a: 2}\n", []string{
			`rules.yaml:10:20: rule "r": values name "a" is set twice`,
		}},
		{"message field", strings.Replace(rule, "{template: t}", "{template: t, chanel: [sms]}", 1), []string{
			`rules.yaml:9:28: rule "r": unknown field "chanel" (did you mean "channels"?)`,
		}},
		{"template with extension", strings.Replace(rule, "{template: t}", "{template: t.tmpl}", 1), []string{
			`rules.yaml:9:25: rule "r": message.template "t.tmpl" must be a file name without extension, like cheaper-plan`,
		}},
		{"channel not a scalar", strings.Replace(rule, "{template: t}", "{template: t, channels: [[sms]]}", 1), []string{
			`rules.yaml:9:39: rule "r": unknown channel "": want one of email, sms, webhook`,
		}},
		{"channel suggestion", strings.Replace(rule, "{template: t}", "{template: t, channels: [SMS, e-mail, webhok]}", 1), []string{
			`rules.yaml:9:39: rule "r": unknown channel "SMS" (did you mean "sms"?)`,
			`rules.yaml:9:44: rule "r": unknown channel "e-mail" (did you mean "email"?)`,
			`rules.yaml:9:52: rule "r": unknown channel "webhok" (did you mean "webhook"?)`,
		}},
		{"empty expression", strings.Replace(rule, "when: true", "when: ' '", 1), []string{
			`rules.yaml:7:11: rule "r": when must not be empty`,
		}},
		{"a trailing empty document", rule + "---\n", nil},
		{"explicit document markers", "---\n" + rule + "...\n", nil},
		{"a second document", rule + "---\nrules: []\n", []string{
			"rules.yaml:11:1: a rule file holds one YAML document; this second one would be ignored",
		}},
		{"yaml error in a second document", rule + "---\nrules: [\n", []string{
			"rules.yaml:12:1: yaml: while parsing a flow node: did not find expected node content",
		}},
		{"tab indentation", "rules:\n  - id: a\n\tname: x\n", []string{
			"rules.yaml:3:1: yaml: while scanning a plain scalar at line 2, column 9: found a tab character that violates indentation",
		}},
		{"unknown anchor", "rules: *x\n", []string{
			"rules.yaml:1:8: yaml: unknown anchor 'x' referenced",
		}},
		{"alias rule", "rules:\n  - &r {id: a}\n  - *r\n", []string{
			`rules.yaml:2:5: rule "a": missing field "name"`,
			`rules.yaml:2:5: rule "a": missing field "description"`,
			`rules.yaml:2:5: rule "a": missing field "owner"`,
			`rules.yaml:2:5: rule "a": missing field "kind"`,
			`rules.yaml:2:5: rule "a": missing field "when"`,
			`rules.yaml:2:5: rule "a": missing field "value"`,
			`rules.yaml:2:5: rule "a": missing field "message"`,
			"rules.yaml:3:5: a rule must be a mapping of fields, got an alias",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseErrors(t, tt.content)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tt.want, "\n      "))
			}
		})
	}
}

// TestParseRules checks what Parse reads from a good file.
func TestParseRules(t *testing.T) {
	content := rule + `  - id: s
    name: S
    description: Another.
    owner: care
    kind: fee_waiver
    enabled: false
    cooldown: 36h
    values:
      b: 2
      a: 1
    when: a < b
    value: a
    offer: {z: 1, y: 2}
    message: {template: s, channels: [webhook, sms]}
`
	f, errs := rulefmt.Parse("rules.yaml", []byte(content))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if f.Path != "rules.yaml" || len(f.Hash) != 64 || len(f.Rules) != 2 {
		t.Fatalf("file %q hash %q with %d rules", f.Path, f.Hash, len(f.Rules))
	}
	f2, _ := rulefmt.Parse("other.yaml", []byte(content+"\n"))
	if f2.Hash == f.Hash {
		t.Error("two contents have the same hash")
	}
	r, s := f.Rules[0], f.Rules[1]
	if r.Cooldown != rulefmt.DefaultCooldown || !r.Enabled || r.Message.Channels[0] != "email" {
		t.Errorf("defaults: cooldown %v, enabled %v, channels %v", r.Cooldown, r.Enabled, r.Message.Channels)
	}
	if s.Enabled || s.Cooldown != 36*time.Hour || s.Kind != "fee_waiver" || s.Owner != "care" {
		t.Errorf("rule s: enabled %v, cooldown %v, kind %q, owner %q", s.Enabled, s.Cooldown, s.Kind, s.Owner)
	}
	// Named values and offers keep the order they are written in.
	if len(s.Values) != 2 || s.Values[0].Name != "b" || s.Values[1].Name != "a" ||
		s.Values[0].NamePos != (rulefmt.Pos{Line: 18, Col: 7}) || s.Values[0].Expr.Source != "2" {
		t.Errorf("values: %+v", s.Values)
	}
	if len(s.Offer) != 2 || s.Offer[0].Name != "z" || s.Offer[1].Name != "y" {
		t.Errorf("offer: %+v", s.Offer)
	}
	if got := strings.Join(s.Message.Channels, ","); got != "webhook,sms" || s.Message.Template != "s" ||
		s.Message.TemplatePos != (rulefmt.Pos{Line: 23, Col: 25}) {
		t.Errorf("message: %+v", s.Message)
	}
	if s.When.Source != "a < b" || s.When.Pos != (rulefmt.Pos{Line: 20, Col: 11}) {
		t.Errorf("when: %q at %v", s.When.Source, s.When.Pos)
	}
}

// TestPosition checks where an offset in an expression's source is in the
// file, for each way YAML lets a scalar be written. Each file starts with
// "rules:\n  - id: x\n    when:", so that when's value starts on line 3;
// the position wanted is that of the first rune of target in the source,
// counted by hand in the file (columns in characters, from 1).
func TestPosition(t *testing.T) {
	tests := []struct {
		name   string
		when   string // what follows "    when:"
		target string // the first occurrence in the source; "" for its end
		want   rulefmt.Pos
	}{
		{"plain", ` a && plan.nme`, "nme", rulefmt.Pos{Line: 3, Col: 21}},
		{"plain at the start", ` plan.nme`, "plan", rulefmt.Pos{Line: 3, Col: 11}},
		{"plain, end of source", ` a &&`, "", rulefmt.Pos{Line: 3, Col: 15}},
		{"plain with a tab", " a &&\tplan.nme", "nme", rulefmt.Pos{Line: 3, Col: 21}},
		{"plain after non-ASCII", ` customer.name == "£€" && plan.nme`, "nme", rulefmt.Pos{Line: 3, Col: 41}},
		{"plain over two lines", " a\n      && plan.nme", "nme", rulefmt.Pos{Line: 4, Col: 15}},
		{"plain with trailing spaces", " a   \n      && plan.nme", "nme", rulefmt.Pos{Line: 4, Col: 15}},
		{"plain over a blank line", " a\n\n      && plan.nme", "nme", rulefmt.Pos{Line: 5, Col: 15}},
		{"double-quoted", ` "a && plan.nme"`, "nme", rulefmt.Pos{Line: 3, Col: 22}},
		{"double-quoted after escapes", ` "x == \"\u00e9\" && plan.nme"`, "nme", rulefmt.Pos{Line: 3, Col: 36}},
		{"double-quoted, end of source", ` "a &&"`, "", rulefmt.Pos{Line: 3, Col: 16}},
		{"double-quoted over two lines", " \"x == \\\"\\\"\n      && plan.nme\"", "nme", rulefmt.Pos{Line: 4, Col: 15}},
		{"double-quoted escaped line break", " \"a && \\\n      plan.nme\"", "nme", rulefmt.Pos{Line: 4, Col: 12}},
		{"single-quoted", ` 'a == ''it''''s'' && plan.nme'`, "nme", rulefmt.Pos{Line: 3, Col: 37}},
		{"literal", " |\n      a\n        && plan.nme\n", "nme", rulefmt.Pos{Line: 5, Col: 17}},
		{"literal, first line", " |\n      plan.nme\n", "plan", rulefmt.Pos{Line: 4, Col: 7}},
		{"literal, end of source", " |-\n      a &&\n", "", rulefmt.Pos{Line: 4, Col: 11}},
		{"literal with leading blank line", " |+\n\n      a\n        && plan.nme\n", "nme", rulefmt.Pos{Line: 6, Col: 17}},
		{"literal with indentation indicator", " |2\n          a && plan.nme\n", "nme", rulefmt.Pos{Line: 4, Col: 21}},
		{"literal after a comment", " | # the rule\n      a // why\n      && plan.nme\n", "nme", rulefmt.Pos{Line: 5, Col: 15}},
		{"folded", " >\n      a\n      && plan.nme\n", "nme", rulefmt.Pos{Line: 5, Col: 15}},
		{"folded over a blank line", " >-\n      a\n\n      && plan.nme\n", "nme", rulefmt.Pos{Line: 6, Col: 15}},
		{"folded, more indented", " >\n      a\n        && plan.nme\n", "nme", rulefmt.Pos{Line: 5, Col: 17}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			content := "rules:\n  - id: x\n    when:" + tt.when + "\n"
			for _, eol := range []string{"\n", "\r\n", "\r"} {
				c := strings.ReplaceAll(content, "\n", eol)
				f, _ := rulefmt.Parse("rules.yaml", []byte(c))
				if len(f.Rules) != 1 {
					t.Fatalf("no rule in %q", c)
				}
				when := f.Rules[0].When
				offset := utf8.RuneCountInString(when.Source)
				if tt.target != "" {
					i := strings.Index(when.Source, tt.target)
					if i < 0 {
						t.Fatalf("%q not in source %q", tt.target, when.Source)
					}
					offset = utf8.RuneCountInString(when.Source[:i])
				}
				if got := when.Position(offset); got != tt.want {
					t.Errorf("end of line %q: Position(%d) in %q = %v, want %v", eol, offset, when.Source, got, tt.want)
				}
			}
		})
	}
}

func TestPositionBounds(t *testing.T) {
	f, _ := rulefmt.Parse("rules.yaml", []byte("rules:\n  - id: x\n    when: a && b\n"))
	when := f.Rules[0].When
	for _, tt := range []struct {
		offset int
		want   rulefmt.Pos
	}{
		{-5, rulefmt.Pos{Line: 3, Col: 11}},
		{0, rulefmt.Pos{Line: 3, Col: 11}},
		{5, rulefmt.Pos{Line: 3, Col: 16}},
		{6, rulefmt.Pos{Line: 3, Col: 17}},
		{100, rulefmt.Pos{Line: 3, Col: 17}},
	} {
		if got := when.Position(tt.offset); got != tt.want {
			t.Errorf("Position(%d) = %v, want %v", tt.offset, got, tt.want)
		}
	}
	// An expression not read from a file is at its Pos.
	e := rulefmt.Expr{Source: "a\nb", Pos: rulefmt.Pos{Line: 2, Col: 3}}
	if got := e.Position(2); got != e.Pos {
		t.Errorf("Position of a bare Expr = %v, want %v", got, e.Pos)
	}
}

func TestDuration(t *testing.T) {
	day := 24 * time.Hour
	for _, tt := range []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"0", 0, "0"},
		{"0d", 0, "0"},
		{"90d", 90 * day, "90d"},
		{"14d", 14 * day, "2w"},
		{"2w", 14 * day, "2w"},
		{"36h", 36 * time.Hour, "36h"},
		{"48h", 2 * day, "2d"},
		{"15m", 15 * time.Minute, "15m"},
		{"100000d", 100000 * day, "100000d"},
		{"14285w", 14285 * 7 * day, "14285w"},
		{"2400000h", 100000 * day, "100000d"},
	} {
		got, err := rulefmt.ParseDuration(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if s := rulefmt.FormatDuration(got); s != tt.out {
			t.Errorf("FormatDuration(%v) = %q, want %q", got, s, tt.out)
		}
	}
	for _, tt := range []struct{ in, err string }{
		{"", `cannot parse duration "": want a whole number followed by d, w, h or m, like 90d`},
		{"90", `cannot parse duration "90": want a whole number followed by d, w, h or m, like 90d`},
		{"1.5d", `cannot parse duration "1.5d": want a whole number followed by d, w, h or m, like 90d`},
		{"-1d", `cannot parse duration "-1d": want a whole number followed by d, w, h or m, like 90d`},
		{"90 d", `cannot parse duration "90 d": want a whole number followed by d, w, h or m, like 90d`},
		{"1y", `cannot parse duration "1y": want a whole number followed by d, w, h or m, like 90d`},
		{"100001d", `duration "100001d" is too long`},
		{"14286w", `duration "14286w" is too long`},
		{"100000w", `duration "100000w" is too long`},
		{"2400001h", `duration "2400001h" is too long`},
		{"99999999999999999999d", `duration "99999999999999999999d" is too long`},
	} {
		if _, err := rulefmt.ParseDuration(tt.in); err == nil || err.Error() != tt.err {
			t.Errorf("ParseDuration(%q) error = %v, want %s", tt.in, err, tt.err)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	for _, tt := range []struct {
		err  rulefmt.Error
		want string
	}{
		{rulefmt.Error{Path: "a.yaml", Pos: rulefmt.Pos{Line: 3, Col: 7}, Rule: "r", Msg: "bad"}, `a.yaml:3:7: rule "r": bad`},
		{rulefmt.Error{Path: "a.yaml", Pos: rulefmt.Pos{Line: 3, Col: 7}, Msg: "bad"}, `a.yaml:3:7: bad`},
		{rulefmt.Error{Path: "a.yaml", Pos: rulefmt.Pos{Line: 3}, Msg: "bad"}, `a.yaml:3:1: bad`},
		{rulefmt.Error{Path: "a.yaml", Msg: "bad"}, `a.yaml: bad`},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	es := rulefmt.Errors{
		{Path: "b.yaml", Pos: rulefmt.Pos{Line: 1, Col: 1}, Msg: "4"},
		{Path: "a.yaml", Pos: rulefmt.Pos{Line: 2, Col: 5}, Msg: "3"},
		{Path: "a.yaml", Pos: rulefmt.Pos{Line: 2, Col: 1}, Msg: "1"},
		{Path: "a.yaml", Pos: rulefmt.Pos{Line: 2, Col: 1}, Msg: "2"},
		{Path: "a.yaml", Msg: "0"},
	}
	es.Sort()
	want := "a.yaml: 0\na.yaml:2:1: 1\na.yaml:2:1: 2\na.yaml:2:5: 3\nb.yaml:1:1: 4"
	if got := es.Error(); got != want {
		t.Errorf("sorted errors:\n%s\nwant:\n%s", got, want)
	}
}

// TestLanguage checks a rule file's language: English unless it says,
// and a language code when it does.
func TestLanguage(t *testing.T) {
	rule := "rules:\n  - id: r\n    name: R\n    description: R.\n    owner: o\n    kind: k\n    when: \"true\"\n    value: 1\n    message: {template: r}\n"
	for _, tt := range []struct {
		src, want, err string
	}{
		{rule, "en", ""},
		{"language: cy\n" + rule, "cy", ""},
		{"language: Welsh\n" + rule, "Welsh", `f.yaml:1:11: language "Welsh" must be a lowercase ISO 639 language code such as en, cy or fr`},
	} {
		f, errs := rulefmt.Parse("f.yaml", []byte(tt.src))
		if f.Language != tt.want || (tt.err == "") != (len(errs) == 0) || (tt.err != "" && errs[0].Error() != tt.err) {
			t.Errorf("language %q, errors %v; want %q, %q", f.Language, errs, tt.want, tt.err)
		}
	}
}

// TestControl covers a rule's control share: how it is written, its bounds
// and the error an author sees.
func TestControl(t *testing.T) {
	tests := []struct {
		line    string
		want    int
		wantErr string
	}{
		{"", 0, ""},
		{"    control: 5%\n", 500, ""},
		{"    control: 2.5%\n", 250, ""},
		{"    control: 12.25%\n", 1225, ""},
		{"    control: 0%\n", 0, ""},
		{"    control: 50%\n", 5000, ""},
		{"    control: 50.01%\n", 0, `rules.yaml:10:14: rule "r": control: control share 50.01% is more than 50%`},
		{"    control: 80%\n", 0, "is more than 50%"},
		{"    control: 5\n", 0, `cannot parse control share "5": want a percentage`},
		{"    control: -5%\n", 0, "cannot parse control share"},
		{"    control: 0.125%\n", 0, "cannot parse control share"},
		{"    control: [5%]\n", 0, "control must be a string"},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSpace(tt.line), func(t *testing.T) {
			f, errs := rulefmt.Parse("rules.yaml", []byte(rule+tt.line))
			if tt.wantErr == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				if got := f.Rules[0].Control; got != tt.want {
					t.Errorf("control = %d, want %d", got, tt.want)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.wantErr) {
				t.Errorf("errors = %v, want one containing %q", errs, tt.wantErr)
			}
		})
	}
	for bp, want := range map[int]string{500: "5%", 250: "2.5%", 1225: "12.25%", 1010: "10.1%", 0: "0%"} {
		if got := rulefmt.FormatControl(bp); got != want {
			t.Errorf("FormatControl(%d) = %q, want %q", bp, got, want)
		}
		if back, err := rulefmt.ParseControl(want); err != nil || back != bp {
			t.Errorf("ParseControl(%q) = %d, %v; want %d", want, back, err, bp)
		}
	}
}
