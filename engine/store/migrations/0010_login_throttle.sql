-- Login throttling: the failed logins of each account name and of each
-- client address, so that guessing passwords slows down and then stops for
-- a while. A key is "user NAME" or "addr ADDRESS" (an IPv6 address by its
-- /64). Names that are nobody's are throttled alike, so that the login
-- page's answers never tell who exists.
CREATE TABLE login_throttle (
    throttle_key    TEXT PRIMARY KEY,
    -- Logins counted as failed: each attempt counts as it starts, and a
    -- successful one takes its count back.
    failures        INTEGER NOT NULL,
    last_failure_at {{.Timestamp}} NOT NULL,
    -- No login of this key is checked before this time.
    blocked_until   {{.Timestamp}} NOT NULL
);
CREATE INDEX login_throttle_last ON login_throttle (last_failure_at);
