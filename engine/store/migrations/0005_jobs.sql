-- Jobs split a run into shards of customer ids that worker processes claim
-- with FOR UPDATE SKIP LOCKED and a lease (PostgreSQL only).

CREATE TABLE jobs (
    id          {{.ID}},
    -- The rulesets evaluated in one pass and the run of each, in order,
    -- comma-separated.
    rulesets    TEXT NOT NULL,
    run_ids     TEXT NOT NULL,
    clock       {{.Timestamp}} NOT NULL,
    shards      INTEGER NOT NULL,
    status      TEXT NOT NULL DEFAULT 'running',
    -- While a worker records the runs of a finished job; a worker that dies
    -- doing it lets another take over once this has passed.
    finish_until {{.Timestamp}},
    created_at  {{.Timestamp}} NOT NULL,
    finished_at {{.Timestamp}}
);

CREATE TABLE job_shards (
    job_id      BIGINT NOT NULL REFERENCES jobs (id),
    shard       INTEGER NOT NULL,
    from_id     BIGINT NOT NULL,
    to_id       BIGINT NOT NULL,
    -- pending, running or done.
    status      TEXT NOT NULL DEFAULT 'pending',
    owner       TEXT NOT NULL DEFAULT '',
    lease_until {{.Timestamp}},
    attempts    INTEGER NOT NULL DEFAULT 0,
    -- The counts of the pass that finished the shard, as JSON.
    result      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, shard)
);
