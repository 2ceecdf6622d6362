-- Idempotency keys of execute requests: the request a key named (its fingerprint) and the answer
-- it got, until the key expires. A row is written in the same transaction as the execution it
-- started, so a key never points at nothing. `scope` is the namespace keys are unique in (empty
-- for the whole server; the workspace once there are workspaces). Keys are visible ASCII and
-- `response` is serde_json's text, so neither can hold a NUL.
CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    workflow_id  UUID NOT NULL,
    execution_id UUID NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    response     TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);
-- The purge deletes the oldest expired keys first.
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
