package notify

import (
	"errors"
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// TemplateLimits bound the rendering of one part of a message, so that no
// template can hang or exhaust the process that renders it (the review
// page, the sender, check).
type TemplateLimits struct {
	// Output is the most bytes a part may render to.
	Output int
	// Steps is the most steps a part may take: one for each iteration of
	// every {{range}} and each run of a template ({{template}} included).
	Steps int
	// Time is the wall-clock time a part may take, checked at every step.
	Time time.Duration
}

// DefaultTemplateLimits are the limits of every render.
var DefaultTemplateLimits = TemplateLimits{Output: 64 << 10, Steps: 10_000, Time: time.Second}

// ErrTemplateLimit is wrapped by the error of a render stopped by its
// limits.
var ErrTemplateLimit = errors.New("template over its limits")

// stepFunc is the function every range body and template begins with.
const stepFunc = "goodturn_step"

// stepFuncs give parse (and any execution not through execute) a no-op step.
var stepFuncs = template.FuncMap{stepFunc: func() (string, error) { return "", nil }}

// stepNode returns a new {{goodturn_step}} action.
func stepNode() parse.Node {
	t := template.Must(template.New("step").Funcs(stepFuncs).Parse("{{" + stepFunc + "}}"))
	return t.Tree.Root.Nodes[0]
}

// addSteps makes every template of t and every {{range}} body in them begin
// with a step, which execute counts and times.
func addSteps(t *template.Template) {
	t.Funcs(stepFuncs)
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Tree.Root == nil {
			continue
		}
		addStepsTo(tt.Tree.Root)
	}
}

func addStepsTo(l *parse.ListNode) {
	if l == nil {
		return
	}
	if len(l.Nodes) > 0 {
		if a, ok := l.Nodes[0].(*parse.ActionNode); ok && a.String() == "{{"+stepFunc+"}}" {
			return // already done: templates share trees with their clones
		}
	}
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.RangeNode:
			addStepsTo(n.List)
			addStepsTo(n.ElseList)
		case *parse.IfNode:
			addStepsTo(n.List)
			addStepsTo(n.ElseList)
		case *parse.WithNode:
			addStepsTo(n.List)
			addStepsTo(n.ElseList)
		case *parse.ListNode:
			addStepsTo(n)
		}
	}
	l.Nodes = append([]parse.Node{stepNode()}, l.Nodes...)
}

// execute renders the named template of t for d within the limits.
func (t *Template) execute(name string, d Data, lim TemplateLimits) (string, error) {
	c, err := t.t.Clone()
	if err != nil {
		return "", err
	}
	steps := 0
	deadline := time.Now().Add(lim.Time)
	var stop error
	c.Funcs(template.FuncMap{stepFunc: func() (string, error) {
		steps++
		switch {
		case steps > lim.Steps:
			stop = fmt.Errorf("%w: more than %d steps", ErrTemplateLimit, lim.Steps)
		case time.Now().After(deadline):
			stop = fmt.Errorf("%w: took longer than %v", ErrTemplateLimit, lim.Time)
		}
		return "", stop
	}})
	w := &limitedWriter{max: lim.Output}
	if err := c.ExecuteTemplate(w, name, d); err != nil {
		if errors.Is(err, errOutputLimit) {
			return "", fmt.Errorf("%s: %w: output longer than %d bytes", name, ErrTemplateLimit, lim.Output)
		}
		if stop != nil {
			return "", fmt.Errorf("%s: %w", name, stop)
		}
		return "", errors.New(strings.TrimPrefix(err.Error(), "template: "))
	}
	return w.b.String(), nil
}

var errOutputLimit = errors.New("output limit")

// limitedWriter keeps what is written to it up to max bytes and fails the
// write that would pass them.
type limitedWriter struct {
	b   strings.Builder
	max int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > w.max {
		return 0, errOutputLimit
	}
	return w.b.Write(p)
}
