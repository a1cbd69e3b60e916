package channel

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
)

// KeyHeader carries the idempotency key in every email.
const KeyHeader = "X-Goodturn-Idempotency-Key"

// TLS modes of the email channel.
const (
	// TLSStartTLS requires STARTTLS (the default; port 587).
	TLSStartTLS = "starttls"
	// TLSOpportunistic uses STARTTLS when the server offers it.
	TLSOpportunistic = "opportunistic"
	// TLSImplicit speaks TLS from the first byte (port 465).
	TLSImplicit = "tls"
	// TLSNone never encrypts: only for a relay on the same host or a test.
	TLSNone = "none"
)

// Email sends messages over SMTP with github.com/wneessen/go-mail as
// multipart/alternative mail: the plain text part and the HTML part.
//
// Each message's Message-ID is derived from its idempotency key
// (<proposal-12-email@example.com> for the key proposal-12-email and a From
// address at example.com) and the key itself is in the
// X-Goodturn-Idempotency-Key header, so every attempt of one message is
// the same message to the receiving systems.
type Email struct {
	Host string
	// Port defaults to 587, or 465 with TLSImplicit.
	Port int
	// TLS is one of the TLS* modes; TLSStartTLS when empty.
	TLS      string
	User     string
	Password string
	// From is the sender, such as "Goodturn Mobile <hello@example.com>".
	From string
	// Timeout bounds the connection and each command; 30 s when zero.
	Timeout time.Duration
}

// Check reports a configuration that cannot work.
func (e *Email) Check() error {
	if e.Host == "" {
		return errors.New("email: no SMTP host")
	}
	if e.From == "" {
		return errors.New("email: no From address")
	}
	if _, err := netmail.ParseAddress(e.From); err != nil {
		return fmt.Errorf("email: From %q: %w", e.From, err)
	}
	switch e.TLS {
	case "", TLSStartTLS, TLSOpportunistic, TLSImplicit, TLSNone:
	default:
		return fmt.Errorf("email: TLS mode %q: want starttls, opportunistic, tls or none", e.TLS)
	}
	return nil
}

// fromAddr returns the address part of a From value.
func fromAddr(from string) string {
	if i := strings.LastIndexByte(from, '<'); i >= 0 {
		return strings.TrimSuffix(strings.TrimSpace(from[i+1:]), ">")
	}
	return strings.TrimSpace(from)
}

// MessageID returns the Message-ID (without angle brackets) of the message
// with the given key sent from the given address.
func MessageID(key, from string) string {
	domain := "goodturn.invalid"
	if _, d, ok := strings.Cut(fromAddr(from), "@"); ok && d != "" {
		domain = d
	}
	return key + "@" + domain
}

// Send delivers the message.
func (e *Email) Send(ctx context.Context, m Message) error {
	if err := e.Check(); err != nil {
		return Permanent(err)
	}
	if m.To == "" {
		return Permanent(errors.New("email: no address"))
	}
	msg := mail.NewMsg()
	if err := msg.From(e.From); err != nil {
		return Permanent(fmt.Errorf("email: From %q: %w", e.From, err))
	}
	var err error
	if m.Name != "" {
		err = msg.AddToFormat(m.Name, m.To)
	} else {
		err = msg.To(m.To)
	}
	if err != nil {
		return Permanent(fmt.Errorf("email: To %q: %w", m.To, err))
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(MessageID(m.Key, e.From))
	msg.SetGenHeader(mail.Header(KeyHeader), m.Key)
	msg.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated")
	msg.SetDate()
	msg.SetUserAgent("goodturn")
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}

	timeout := e.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	opts := []mail.Option{mail.WithTimeout(timeout)}
	port := e.Port
	switch e.TLS {
	case "", TLSStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case TLSOpportunistic:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case TLSImplicit:
		opts = append(opts, mail.WithSSL())
		if port == 0 {
			port = 465
		}
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	if port == 0 {
		port = 587
	}
	opts = append(opts, mail.WithPort(port))
	if e.User != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(e.User), mail.WithPassword(e.Password))
	}
	client, err := mail.NewClient(e.Host, opts...)
	if err != nil {
		return Permanent(fmt.Errorf("email: %w", err))
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		var se *mail.SendError
		if errors.As(err, &se) && se.ErrorCode() >= 500 {
			return Permanent(fmt.Errorf("email: %w", err))
		}
		return fmt.Errorf("email: %w", err)
	}
	return nil
}
