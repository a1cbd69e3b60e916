package channel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Webhook posts each message as JSON to a URL, signed with HMAC-SHA256 over
// "timestamp.body" in the Goodturn-Signature header and carrying the
// message's idempotency key in the Idempotency-Key header, the same on every
// attempt: the receiver deduplicates on it. Any 2xx is success; 408, 429
// and 5xx are retried; other statuses are permanent failures.
//
// A message's body is the Message as JSON; a billing action's is its
// Payload (see Billing).
type Webhook struct {
	URL    string
	Secret []byte
	// Client defaults to an http.Client with a 30 s timeout.
	Client *http.Client
	// Now is the signing clock; time.Now when nil.
	Now func() time.Time
}

// Send posts the message.
func (w *Webhook) Send(ctx context.Context, m Message) error {
	body := []byte(m.Payload)
	if len(body) == 0 {
		var err error
		if body, err = json.Marshal(m); err != nil {
			return Permanent(err)
		}
	}
	return w.post(ctx, m.Key, body)
}

func (w *Webhook) post(ctx context.Context, key string, body []byte) error {
	if w.URL == "" {
		return Permanent(errors.New("webhook: no URL configured"))
	}
	if len(w.Secret) == 0 {
		return Permanent(errors.New("webhook: no signing secret configured"))
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("webhook: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "goodturn")
	req.Header.Set(IdempotencyHeader, key)
	req.Header.Set(SignatureHeader, Sign(w.Secret, now(), body))
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("webhook: %s: %s", resp.Status, bytes.TrimSpace(snippet))
	if resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return err
	}
	return Permanent(err)
}
