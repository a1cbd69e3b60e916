-- The contact policy: suppressions, and why matches were held back.

CREATE TABLE suppressions (
    id          {{.ID}},
    customer_id BIGINT,
    segment     TEXT NOT NULL DEFAULT '',
    ruleset     TEXT NOT NULL DEFAULT '',
    rule_id     TEXT NOT NULL DEFAULT '',
    owner       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  {{.Timestamp}} NOT NULL,
    expires_on  DATE
);

-- How many matches of each rule of a run the policy held back, and why.
CREATE TABLE run_held (
    run_id    BIGINT NOT NULL REFERENCES runs (id),
    rule_id   TEXT NOT NULL,
    reason    TEXT NOT NULL,
    customers BIGINT NOT NULL,
    PRIMARY KEY (run_id, rule_id, reason)
);

CREATE INDEX proposals_as_of ON proposals (as_of);
