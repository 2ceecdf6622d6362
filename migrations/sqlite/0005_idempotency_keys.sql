-- Idempotency keys of execute requests: the request a key named (its fingerprint) and the answer
-- it got, until the key expires. A row is written in the same transaction as the execution it
-- started, so a key never points at nothing. `scope` is the namespace keys are unique in (empty
-- for the whole server; the workspace once there are workspaces). Times are Unix microseconds.
CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    workflow_id  TEXT NOT NULL,
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    response     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
-- The purge deletes the oldest expired keys first.
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
