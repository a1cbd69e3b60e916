package notify

import (
	"fmt"

	"github.com/goodturn/goodturn/rules"
)

// ParseRuleTemplate reads and parses a rule's message template from where
// the rule was loaded (a folder, or the rulesets embedded in the binary) and
// checks it defines the parts the rule's channels need.
func ParseRuleTemplate(r *rules.Rule) (*Template, error) {
	src, err := r.ReadTemplate()
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	return ParseTemplate(r.TemplatePath, string(src), r.Message.Channels)
}
