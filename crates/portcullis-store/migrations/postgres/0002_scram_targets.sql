-- SCRAM-SHA-256 keys of tokens, and target databases.
--
-- Native database clients send their token as the password and the gateway checks it
-- with SCRAM. Only a hash of each token is stored, so the SCRAM keys are derived when
-- the token is issued. All tokens of a user share the user's salt and iteration count
-- because the server-first-message carries one salt. Changing either makes the SCRAM
-- keys of the user's existing tokens useless.

-- Existing users receive a random salt: the 16 bytes of a version 4 UUID, of which
-- 122 bits are random (gen_random_uuid needs PostgreSQL 13 or later). The default is
-- dropped afterwards, so every insert must supply a salt, as on SQLite.
ALTER TABLE users ADD COLUMN scram_salt BYTEA NOT NULL
    DEFAULT uuid_send(gen_random_uuid())
    CHECK (length(scram_salt) = 16);
ALTER TABLE users ALTER COLUMN scram_salt DROP DEFAULT;

ALTER TABLE users ADD COLUMN scram_iterations BIGINT NOT NULL DEFAULT 4096
    CHECK (scram_iterations BETWEEN 1 AND 4294967295);

-- StoredKey and ServerKey of RFC 5802. Tokens issued before this migration have
-- neither and can only be checked by their hash.
ALTER TABLE tokens ADD COLUMN scram_stored_key BYTEA
    CHECK (length(scram_stored_key) = 32);
ALTER TABLE tokens ADD COLUMN scram_server_key BYTEA
    CHECK (length(scram_server_key) = 32);
ALTER TABLE tokens ADD CONSTRAINT tokens_scram_keys_paired
    CHECK ((scram_stored_key IS NULL) = (scram_server_key IS NULL));

-- Upstream databases, which clients name as the database when they connect.
CREATE TABLE targets (
    id                UUID   PRIMARY KEY,
    name              TEXT   NOT NULL UNIQUE,
    host              TEXT   NOT NULL,
    port              BIGINT NOT NULL CHECK (port BETWEEN 1 AND 65535),
    database_name     TEXT   NOT NULL,
    upstream_user     TEXT   NOT NULL,
    -- Password of upstream_user sealed with the master key's target-credentials
    -- sub-key (AES-256-GCM), with the target id as associated data.
    password_sealed   BYTEA  NOT NULL,
    tls_mode          TEXT   NOT NULL CHECK (tls_mode IN ('disable', 'require', 'verify-full')),
    ca_file           TEXT,
    idle_timeout_secs BIGINT CHECK (idle_timeout_secs > 0),
    created_at        BIGINT NOT NULL,
    created_by        UUID   REFERENCES users (id),
    CHECK ((tls_mode = 'verify-full') = (ca_file IS NOT NULL))
);
