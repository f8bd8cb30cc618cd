-- Users, roles, tokens, login failures and metadata.
--
-- Conventions shared with the SQLite schema: times are UTC unix microseconds in BIGINT
-- columns, ids are UUIDs, and later features (targets, grants, access requests) arrive
-- as new numbered migrations.

CREATE TABLE users (
    id                       UUID    PRIMARY KEY,
    name                     TEXT    NOT NULL UNIQUE,
    kind                     TEXT    NOT NULL CHECK (kind IN ('human', 'service')),
    owner_id                 UUID    REFERENCES users (id),
    display_name             TEXT    NOT NULL,
    department               TEXT,
    job_role                 TEXT,
    disabled                 BOOLEAN NOT NULL DEFAULT FALSE,
    created_at               BIGINT  NOT NULL,
    -- Argon2id PHC string.
    password_hash            TEXT,
    password_change_required BOOLEAN NOT NULL DEFAULT FALSE,
    -- TOTP secret sealed with the master key's TOTP sub-key (AES-256-GCM).
    totp_secret              BYTEA,
    totp_enrolled_at         BIGINT,
    -- Latest accepted TOTP time step; a code is accepted only for a later step.
    totp_last_step           BIGINT,
    CHECK ((kind = 'service') = (owner_id IS NOT NULL)),
    CHECK ((totp_secret IS NULL) = (totp_enrolled_at IS NULL))
);

CREATE INDEX users_owner_id ON users (owner_id);

CREATE TABLE roles (
    id          UUID   PRIMARY KEY,
    name        TEXT   NOT NULL UNIQUE,
    description TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE role_members (
    user_id    UUID   NOT NULL REFERENCES users (id),
    role_id    UUID   NOT NULL REFERENCES roles (id),
    granted_by UUID   NOT NULL REFERENCES users (id),
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, role_id)
);

CREATE INDEX role_members_role_id ON role_members (role_id);

CREATE TABLE tokens (
    id          UUID   PRIMARY KEY,
    user_id     UUID   NOT NULL REFERENCES users (id),
    -- SHA-256 of the token text; the token itself is never stored.
    hash        BYTEA  NOT NULL UNIQUE CHECK (length(hash) = 32),
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    mfa_at      BIGINT NOT NULL,
    source_addr TEXT
);

CREATE INDEX tokens_user_id ON tokens (user_id);
CREATE INDEX tokens_expires_at ON tokens (expires_at);

-- Failed login attempts per key ("user:<name>", "addr:<ip>").
CREATE TABLE auth_failures (
    key               TEXT   PRIMARY KEY,
    failures          BIGINT NOT NULL,
    window_started_at BIGINT NOT NULL,
    last_failure_at   BIGINT NOT NULL,
    locked_until      BIGINT
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
