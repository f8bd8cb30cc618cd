-- Users, roles, tokens, login failures and metadata.
--
-- Conventions shared with the PostgreSQL schema: times are UTC unix microseconds in
-- INTEGER columns, ids are UUIDs (hyphenated text here, native uuid there), and later
-- features (targets, grants, access requests) arrive as new numbered migrations.

CREATE TABLE users (
    id                       TEXT    PRIMARY KEY,
    name                     TEXT    NOT NULL UNIQUE,
    kind                     TEXT    NOT NULL CHECK (kind IN ('human', 'service')),
    owner_id                 TEXT    REFERENCES users (id),
    display_name             TEXT    NOT NULL,
    department               TEXT,
    job_role                 TEXT,
    disabled                 INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at               INTEGER NOT NULL,
    -- Argon2id PHC string.
    password_hash            TEXT,
    password_change_required INTEGER NOT NULL DEFAULT 0 CHECK (password_change_required IN (0, 1)),
    -- TOTP secret sealed with the master key's TOTP sub-key (AES-256-GCM).
    totp_secret              BLOB,
    totp_enrolled_at         INTEGER,
    -- Latest accepted TOTP time step; a code is accepted only for a later step.
    totp_last_step           INTEGER,
    CHECK ((kind = 'service') = (owner_id IS NOT NULL)),
    CHECK ((totp_secret IS NULL) = (totp_enrolled_at IS NULL))
) STRICT;

CREATE INDEX users_owner_id ON users (owner_id);

CREATE TABLE roles (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE role_members (
    user_id    TEXT    NOT NULL REFERENCES users (id),
    role_id    TEXT    NOT NULL REFERENCES roles (id),
    granted_by TEXT    NOT NULL REFERENCES users (id),
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, role_id)
) STRICT;

CREATE INDEX role_members_role_id ON role_members (role_id);

CREATE TABLE tokens (
    id          TEXT    PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users (id),
    -- SHA-256 of the token text; the token itself is never stored.
    hash        BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    mfa_at      INTEGER NOT NULL,
    source_addr TEXT
) STRICT;

CREATE INDEX tokens_user_id ON tokens (user_id);
CREATE INDEX tokens_expires_at ON tokens (expires_at);

-- Failed login attempts per key ("user:<name>", "addr:<ip>").
CREATE TABLE auth_failures (
    key               TEXT    PRIMARY KEY,
    failures          INTEGER NOT NULL,
    window_started_at INTEGER NOT NULL,
    last_failure_at   INTEGER NOT NULL,
    locked_until      INTEGER
) STRICT;

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
