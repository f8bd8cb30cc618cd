-- Temporary access: just-in-time requests with their approvals, the grants they
-- produce, break-glass grants and the post-incident reviews those open.
--
-- A grant adds a role to a user until `ends_at`, optionally only on one target. The
-- gateway ends every live session that depends on a grant once it expires or is
-- revoked.

CREATE TABLE access_requests (
    id            TEXT    PRIMARY KEY,
    requester_id  TEXT    NOT NULL REFERENCES users (id),
    role_id       TEXT    NOT NULL REFERENCES roles (id),
    -- Target name, or NULL for every target.
    target        TEXT,
    duration_secs INTEGER NOT NULL CHECK (duration_secs > 0),
    reason        TEXT    NOT NULL,
    state         TEXT    NOT NULL
        CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'revoked')),
    created_at    INTEGER NOT NULL,
    -- A request still pending at this time expires.
    expires_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX access_requests_state ON access_requests (state);

CREATE TABLE request_decisions (
    request_id  TEXT    NOT NULL REFERENCES access_requests (id),
    approver_id TEXT    NOT NULL REFERENCES users (id),
    decision    TEXT    NOT NULL CHECK (decision IN ('approve', 'deny')),
    decided_at  INTEGER NOT NULL,
    PRIMARY KEY (request_id, approver_id)
) STRICT;

CREATE TABLE grants (
    id         TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id),
    role_id    TEXT    NOT NULL REFERENCES roles (id),
    target     TEXT,
    source     TEXT    NOT NULL CHECK (source IN ('jit', 'break_glass')),
    reason     TEXT    NOT NULL,
    starts_at  INTEGER NOT NULL,
    ends_at    INTEGER NOT NULL,
    revoked_at INTEGER,
    revoked_by TEXT    REFERENCES users (id),
    request_id TEXT    UNIQUE REFERENCES access_requests (id),
    CHECK (ends_at > starts_at),
    CHECK ((source = 'jit') = (request_id IS NOT NULL))
) STRICT;

CREATE INDEX grants_user_id ON grants (user_id);

CREATE TABLE break_glass_reviews (
    id          TEXT    PRIMARY KEY,
    grant_id    TEXT    NOT NULL UNIQUE REFERENCES grants (id),
    opened_at   INTEGER NOT NULL,
    reviewed_by TEXT    REFERENCES users (id),
    reviewed_at INTEGER,
    notes       TEXT,
    CHECK ((reviewed_by IS NULL) = (reviewed_at IS NULL)),
    CHECK ((reviewed_at IS NULL) = (notes IS NULL))
) STRICT;
