-- Runs, their per-rule results, and the proposals they made.

CREATE TABLE runs (
    id          {{.ID}},
    ruleset     TEXT NOT NULL,
    dry_run     BOOLEAN NOT NULL DEFAULT FALSE,
    as_of       DATE NOT NULL,
    started_at  {{.Timestamp}} NOT NULL,
    finished_at {{.Timestamp}},
    status      TEXT NOT NULL DEFAULT 'running',
    customers   BIGINT NOT NULL DEFAULT 0,
    proposals   BIGINT NOT NULL DEFAULT 0,
    errors      BIGINT NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_ruleset ON runs (ruleset, started_at);

CREATE TABLE run_rules (
    run_id        BIGINT NOT NULL REFERENCES runs (id),
    rule_id       TEXT NOT NULL,
    rule_version  TEXT NOT NULL,
    kind          TEXT NOT NULL,
    matched       BIGINT NOT NULL DEFAULT 0,
    proposals     BIGINT NOT NULL DEFAULT 0,
    skipped       BIGINT NOT NULL DEFAULT 0,
    errors        BIGINT NOT NULL DEFAULT 0,
    value         BIGINT NOT NULL DEFAULT 0,
    error_samples TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (run_id, rule_id)
);

CREATE TABLE proposals (
    id           {{.ID}},
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
    status       TEXT NOT NULL DEFAULT 'pending',
    as_of        DATE NOT NULL,
    created_at   {{.Timestamp}} NOT NULL,
    UNIQUE (ruleset, rule_id, customer_id, as_of)
);
CREATE INDEX proposals_run ON proposals (run_id, rule_id);
CREATE INDEX proposals_customer ON proposals (customer_id, rule_id);
