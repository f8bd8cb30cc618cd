-- SCRAM-SHA-256 keys of tokens, and target databases.
--
-- Native database clients send their token as the password and the gateway checks it
-- with SCRAM. Only a hash of each token is stored, so the SCRAM keys are derived when
-- the token is issued. All tokens of a user share the user's salt and iteration count
-- because the server-first-message carries one salt. Changing either makes the SCRAM
-- keys of the user's existing tokens useless.

-- SQLite's ADD COLUMN needs a constant default for a NOT NULL column, so the salt
-- column gets an all-zero placeholder. Existing users receive a random salt below, and
-- the trigger rejects an insert that leaves the placeholder in place.
ALTER TABLE users ADD COLUMN scram_salt BLOB NOT NULL
    DEFAULT X'00000000000000000000000000000000'
    CHECK (length(scram_salt) = 16);
UPDATE users SET scram_salt = randomblob(16);
CREATE TRIGGER users_scram_salt_required BEFORE INSERT ON users
    WHEN NEW.scram_salt = zeroblob(16)
BEGIN
    SELECT RAISE(ABORT, 'users.scram_salt is missing: insert a random 16-byte salt');
END;

ALTER TABLE users ADD COLUMN scram_iterations INTEGER NOT NULL DEFAULT 4096
    CHECK (scram_iterations BETWEEN 1 AND 4294967295);

-- StoredKey and ServerKey of RFC 5802. Tokens issued before this migration have
-- neither and can only be checked by their hash.
ALTER TABLE tokens ADD COLUMN scram_stored_key BLOB
    CHECK (length(scram_stored_key) = 32);
ALTER TABLE tokens ADD COLUMN scram_server_key BLOB
    CHECK (length(scram_server_key) = 32)
    CHECK ((scram_stored_key IS NULL) = (scram_server_key IS NULL));

-- Upstream databases, which clients name as the database when they connect.
CREATE TABLE targets (
    id                TEXT    PRIMARY KEY,
    name              TEXT    NOT NULL UNIQUE,
    host              TEXT    NOT NULL,
    port              INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    database_name     TEXT    NOT NULL,
    upstream_user     TEXT    NOT NULL,
    -- Password of upstream_user sealed with the master key's target-credentials
    -- sub-key (AES-256-GCM), with the target id as associated data.
    password_sealed   BLOB    NOT NULL,
    tls_mode          TEXT    NOT NULL CHECK (tls_mode IN ('disable', 'require', 'verify-full')),
    ca_file           TEXT,
    idle_timeout_secs INTEGER CHECK (idle_timeout_secs > 0),
    created_at        INTEGER NOT NULL,
    created_by        TEXT    REFERENCES users (id),
    CHECK ((tls_mode = 'verify-full') = (ca_file IS NOT NULL))
) STRICT;
