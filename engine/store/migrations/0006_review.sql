-- Review: the people who decide, their login sessions, the audit log of
-- every decision, and the approvals a large batch collects from its
-- reviewers. Proposals gain the statuses approved, rejected and expired,
-- and record who decided them and when.

CREATE TABLE users (
    id            {{.ID}},
    name          TEXT NOT NULL UNIQUE,
    -- viewer, reviewer or admin.
    role          TEXT NOT NULL,
    -- An argon2id hash in the PHC string format.
    password_hash TEXT NOT NULL,
    created_at    {{.Timestamp}} NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE
);

-- A login session: the SHA-256 of the cookie's token, never the token.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    created_at  {{.Timestamp}} NOT NULL,
    expires_at  {{.Timestamp}} NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Every decision and every change to the people, with who and when.
CREATE TABLE audit (
    id       {{.ID}},
    at       {{.Timestamp}} NOT NULL,
    -- The user's name, or "system" for expiry.
    actor    TEXT NOT NULL,
    -- approve, reject, expire, login, login_failed, user_add, user_disable, …
    action   TEXT NOT NULL,
    -- "proposal 12", "batch 3/cheaper-plan", "user ana".
    subject  TEXT NOT NULL DEFAULT '',
    comment  TEXT NOT NULL DEFAULT '',
    detail   {{.JSON}} NOT NULL
);
CREATE INDEX audit_at ON audit (at);

-- The approvals of proposals of a batch large enough to need a second
-- reviewer: the first reviewer's approval waits here for another's. No
-- foreign key to proposals: the demo deletes proposals to start afresh.
CREATE TABLE approvals (
    proposal_id BIGINT NOT NULL,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    decided_at  {{.Timestamp}} NOT NULL,
    PRIMARY KEY (proposal_id, user_id)
);

ALTER TABLE proposals ADD COLUMN decided_at {{.Timestamp}};
ALTER TABLE proposals ADD COLUMN decided_by TEXT NOT NULL DEFAULT '';
CREATE INDEX proposals_status ON proposals (status, created_at);
