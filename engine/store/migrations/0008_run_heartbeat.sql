-- Runs record a heartbeat while they run, so that a run whose process died
-- (kill -9, a lost machine) can be told from one still going. The
-- proposals of a run that failed or died are withdrawn: moved out of
-- proposals into withdrawn_proposals, with the reason, so that they are
-- neither reviewed nor hold a customer back, and so that the unique key of
-- a day is free for the next run to propose to those customers again.

ALTER TABLE runs ADD COLUMN heartbeat_at {{.Timestamp}};

CREATE TABLE withdrawn_proposals (
    -- The proposal's id while it was in proposals.
    id           BIGINT PRIMARY KEY,
    run_id       BIGINT NOT NULL REFERENCES runs (id),
    ruleset      TEXT NOT NULL,
    rule_id      TEXT NOT NULL,
    rule_version TEXT NOT NULL,
    customer_id  BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    value        BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    offer        {{.JSON}} NOT NULL,
    evidence     {{.JSON}} NOT NULL,
    -- The status it had when it was withdrawn: pending, held or expired.
    status       TEXT NOT NULL,
    as_of        DATE NOT NULL,
    created_at   {{.Timestamp}} NOT NULL,
    withdrawn_at {{.Timestamp}} NOT NULL,
    reason       TEXT NOT NULL
);
CREATE INDEX withdrawn_proposals_run ON withdrawn_proposals (run_id);

-- Runs that failed before this migration kept their proposals: withdraw
-- them now, by the same rule.
INSERT INTO withdrawn_proposals (id, run_id, ruleset, rule_id, rule_version, customer_id, kind, value, currency, offer, evidence,
    status, as_of, created_at, withdrawn_at, reason)
SELECT p.id, p.run_id, p.ruleset, p.rule_id, p.rule_version, p.customer_id, p.kind, p.value, p.currency, p.offer, p.evidence,
    p.status, p.as_of, p.created_at, COALESCE(r.finished_at, r.started_at), 'run ' || r.id || ' failed: ' || r.error
FROM proposals p JOIN runs r ON r.id = p.run_id
WHERE r.status = 'failed' AND p.status IN ('pending', 'held', 'expired');

DELETE FROM proposals WHERE status IN ('pending', 'held', 'expired')
    AND run_id IN (SELECT id FROM runs WHERE status = 'failed');
