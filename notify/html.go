package notify

import (
	"html"
	"strings"
)

// TextToHTML makes the HTML part of an email from its plain text part:
// every character escaped, blank-line separated paragraphs as <p>, single
// line breaks as <br>, in a small self-contained document.
func TextToHTML(text string) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n")
	b.WriteString("<body style=\"font-family: sans-serif; font-size: 16px; line-height: 1.5; max-width: 40em;\">\n")
	text = strings.ReplaceAll(strings.TrimSpace(text), "\r\n", "\n")
	for _, para := range strings.Split(text, "\n\n") {
		para = strings.TrimSpace(para)
		if para == "" {
			continue
		}
		lines := strings.Split(para, "\n")
		for i, l := range lines {
			lines[i] = html.EscapeString(strings.TrimSpace(l))
		}
		b.WriteString("<p>")
		b.WriteString(strings.Join(lines, "<br>\n"))
		b.WriteString("</p>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}
