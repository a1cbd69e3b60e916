-- Sending became River's work (notify/outbox): each outbox message that
-- waits has one River send job, which holds when it is next due, its
-- attempts towards giving up, and its retries; the row keeps the message,
-- its idempotency key and its delivery state. The row's own schedule and
-- lease (next_attempt_at) are gone. Rows an installation had queued
-- before have no job yet: the sender gives each one when it starts
-- (outbox.Adopt).
ALTER TABLE outbox ADD COLUMN job_id BIGINT;
DROP INDEX outbox_due;
ALTER TABLE outbox DROP COLUMN next_attempt_at;
CREATE INDEX outbox_status ON outbox (status);
