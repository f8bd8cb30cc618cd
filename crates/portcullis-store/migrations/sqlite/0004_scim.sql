-- SCIM 2.0 provisioning: the identity provider's names and ids for users, and its
-- groups with their members. Groups map to roles through the configuration.

-- One row per user the identity provider has provisioned or linked.
CREATE TABLE scim_users (
    user_id       TEXT    PRIMARY KEY REFERENCES users (id),
    -- userName as the identity provider sent it (often an email address).
    user_name     TEXT    NOT NULL,
    -- Lowercased user_name: SCIM compares userName case-insensitively.
    user_name_key TEXT    NOT NULL UNIQUE,
    external_id   TEXT,
    -- Set by DELETE: the user stays (disabled) for the audit trail but leaves SCIM.
    deleted_at    INTEGER
) STRICT;

CREATE TABLE scim_groups (
    id           TEXT    PRIMARY KEY,
    display_name TEXT    NOT NULL UNIQUE,
    external_id  TEXT,
    created_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE scim_group_members (
    group_id TEXT NOT NULL REFERENCES scim_groups (id),
    user_id  TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (group_id, user_id)
) STRICT;

CREATE INDEX scim_group_members_user_id ON scim_group_members (user_id);
