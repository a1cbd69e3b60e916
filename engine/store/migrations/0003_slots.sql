-- Scheduled slots: one row per ruleset and nominal wall-clock time, claimed
-- by the process that runs it. The unique key is what makes a slot run at
-- most once however many `goodturn serve` processes share the database.

CREATE TABLE schedule_slots (
    id          {{.ID}},
    ruleset     TEXT NOT NULL,
    -- The wall-clock time in zone, as 'YYYY-MM-DD HH:MM': it exists once
    -- a day even when the clocks skip or repeat it.
    nominal     TEXT NOT NULL,
    zone        TEXT NOT NULL,
    due_at      {{.Timestamp}} NOT NULL,
    claimed_at  {{.Timestamp}} NOT NULL,
    claimed_by  TEXT NOT NULL,
    finished_at {{.Timestamp}},
    -- running, succeeded, failed, cancelled, skipped or missed.
    status      TEXT NOT NULL DEFAULT 'running',
    error       TEXT NOT NULL DEFAULT '',
    run_id      BIGINT,
    UNIQUE (ruleset, nominal)
);
CREATE INDEX schedule_slots_due ON schedule_slots (due_at);
