-- Identities: workspaces (the tenants), users and the single sign-on identities linked to them,
-- memberships with a role per workspace, API keys (only their SHA-256 is kept), and settings the
-- server generates for itself (the JWT signing secret). Ids are UUID text; times are Unix
-- microseconds (UTC). Migration 0007 gave workflows and executions their workspace_id; the
-- workspace that data written before workspaces belongs to is created here.

CREATE TABLE workspaces (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO workspaces (id, name, created_at)
VALUES ('00000000-0000-0000-0000-000000000001', 'default', CAST(strftime('%s', 'now') AS INTEGER) * 1000000);

-- `email` is normalised (trimmed, lower case) by the server; NULL for a single sign-on user whose
-- issuer gave none. `password_hash` is a PHC string (Argon2id); NULL for single sign-on users.
CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    email         TEXT UNIQUE,
    name          TEXT,
    password_hash TEXT,
    created_at    INTEGER NOT NULL
);

-- A token's `iss` and `sub` at an OpenID Connect issuer, and the user they sign in as.
CREATE TABLE external_identities (
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (issuer, subject)
);

CREATE TABLE memberships (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('Read', 'Write', 'Admin')),
    since        INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
-- A user's workspaces, the first joined first.
CREATE INDEX memberships_of_user ON memberships (user_id, since, workspace_id);

-- `prefix` finds a key; `hash` is the SHA-256 of the whole key, compared in constant time.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    prefix       TEXT NOT NULL UNIQUE,
    hash         BLOB NOT NULL,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('Read', 'Write', 'Admin')),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_keys_of_workspace ON api_keys (workspace_id, created_at DESC, id DESC);

CREATE TABLE server_settings (
    name  TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
