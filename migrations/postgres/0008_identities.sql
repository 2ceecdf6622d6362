-- Identities: workspaces (the tenants), users and the single sign-on identities linked to them,
-- memberships with a role per workspace, API keys (only their SHA-256 is kept), and settings the
-- server generates for itself (the JWT signing secret). The same tables as
-- migrations/sqlite/0008_identities.sql, in native types. Names and emails are checked by the
-- server to hold no control character, so none holds a NUL.

CREATE TABLE workspaces (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
INSERT INTO workspaces (id, name, created_at)
VALUES ('00000000-0000-0000-0000-000000000001', 'default', date_trunc('second', now()));

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    email         TEXT UNIQUE,
    name          TEXT,
    password_hash TEXT,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE external_identities (
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (issuer, subject)
);

CREATE TABLE memberships (
    workspace_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('Read', 'Write', 'Admin')),
    since        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_of_user ON memberships (user_id, since, workspace_id);

CREATE TABLE api_keys (
    id           UUID PRIMARY KEY,
    workspace_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    prefix       TEXT NOT NULL UNIQUE,
    hash         BYTEA NOT NULL,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('Read', 'Write', 'Admin')),
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX api_keys_of_workspace ON api_keys (workspace_id, created_at DESC, id DESC);

CREATE TABLE server_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
