package channel

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Log writes each message to a writer instead of delivering it, for the
// demo and for trying rules out: nothing reaches a customer.
type Log struct {
	mu sync.Mutex
	W  io.Writer
}

// Send writes the message.
func (l *Log) Send(_ context.Context, m Message) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "── %s %s to customer %d", m.Channel, m.Key, m.CustomerID)
	if m.To != "" {
		fmt.Fprintf(&b, " <%s>", m.To)
	}
	b.WriteString(" ──\n")
	switch {
	case len(m.Payload) > 0:
		fmt.Fprintf(&b, "%s\n", m.Payload)
	case m.Channel == "sms":
		fmt.Fprintf(&b, "%s\n", m.SMS)
	default:
		fmt.Fprintf(&b, "Subject: %s\n\n%s\n", m.Subject, m.Text)
	}
	b.WriteString("\n")
	_, err := io.WriteString(l.W, b.String())
	return err
}
