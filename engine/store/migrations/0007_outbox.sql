-- The outbox: one row per message (proposal and channel) or billing action
-- that approval releases, rendered when it is enqueued so that what is sent
-- is what was reviewed. The sender claims due rows, marks them sending with
-- the attempt before it sends, and sent after. No foreign key to proposals:
-- the demo deletes proposals to start afresh.

CREATE TABLE outbox (
    id              {{.ID}},
    -- Travels with the message (Message-ID, Idempotency-Key) so that a
    -- receiver can tell a resend from a new message; unique so that
    -- enqueueing twice adds nothing.
    idempotency_key TEXT NOT NULL UNIQUE,
    proposal_id     BIGINT NOT NULL,
    customer_id     BIGINT NOT NULL,
    -- email, sms, webhook, or action (the billing webhook).
    channel         TEXT NOT NULL,
    -- The email address or phone number, and the customer's name.
    recipient       TEXT NOT NULL DEFAULT '',
    recipient_name  TEXT NOT NULL DEFAULT '',
    -- The customer's IANA time zone, for quiet hours.
    timezone        TEXT NOT NULL DEFAULT '',
    -- queued, sending, sent, dead, or skipped (never sent: no address, or
    -- the customer opted out of contact after the proposal).
    status          TEXT NOT NULL DEFAULT 'queued',
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- When the row is next due; while it is sending, when its lease ends.
    next_attempt_at {{.Timestamp}} NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    sent_at         {{.Timestamp}},
    subject         TEXT NOT NULL DEFAULT '',
    text_body       TEXT NOT NULL DEFAULT '',
    html_body       TEXT NOT NULL DEFAULT '',
    sms             TEXT NOT NULL DEFAULT '',
    -- The JSON body of a billing action.
    payload         TEXT NOT NULL DEFAULT '',
    created_at      {{.Timestamp}} NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_proposal ON outbox (proposal_id);
