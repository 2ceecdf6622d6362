-- Workspace secrets, sealed (XChaCha20-Poly1305: nonce || ciphertext || tag, bound to workspace
-- and name); the clear value is never stored.
CREATE TABLE secrets (
    workspace_id UUID NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT,
    sealed       BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, name)
);
