-- Workspace secrets, sealed (XChaCha20-Poly1305: nonce || ciphertext || tag, bound to workspace
-- and name); the clear value is never stored. Times are Unix microseconds.
CREATE TABLE secrets (
    workspace_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT,
    sealed       BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, name)
);
