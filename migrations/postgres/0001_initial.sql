-- Workflows, their immutable versions, executions with node results, event logs and counters.
-- The same tables and meaning as migrations/sqlite/0001_initial.sql, in native types.

CREATE TABLE workflows (
    id             UUID PRIMARY KEY,
    latest_version INTEGER NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    deleted_at     TIMESTAMPTZ
);
CREATE INDEX workflows_live ON workflows (created_at DESC, id DESC) WHERE deleted_at IS NULL;

CREATE TABLE workflow_versions (
    workflow_id UUID NOT NULL REFERENCES workflows (id),
    version     INTEGER NOT NULL,
    metadata    JSONB NOT NULL,
    definition  JSONB NOT NULL,
    node_count  INTEGER NOT NULL,
    edge_count  INTEGER NOT NULL,
    saved_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workflow_id, version)
);

CREATE TABLE executions (
    id               UUID PRIMARY KEY,
    workflow_id      UUID NOT NULL,
    workflow_version INTEGER NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('Pending', 'Running', 'Paused', 'Completed', 'Failed', 'Cancelled')),
    error            TEXT,
    variables        JSONB NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    started_at       TIMESTAMPTZ,
    completed_at     TIMESTAMPTZ,
    last_seq         BIGINT NOT NULL DEFAULT 0,
    results_count    BIGINT NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_expires_at TIMESTAMPTZ,
    FOREIGN KEY (workflow_id, workflow_version) REFERENCES workflow_versions (workflow_id, version)
);
CREATE INDEX executions_all ON executions (created_at DESC, id DESC);
CREATE INDEX executions_by_workflow ON executions (workflow_id, created_at DESC, id DESC);
CREATE INDEX executions_by_state ON executions (state, created_at DESC, id DESC);
CREATE INDEX executions_by_workflow_state ON executions (workflow_id, state, created_at DESC, id DESC);
-- Claiming walks unfinished executions oldest first; finished ones, the vast majority, stay out.
CREATE INDEX executions_unfinished ON executions (created_at, id) WHERE state IN ('Pending', 'Running', 'Paused');

-- Executions per (workflow, state), kept in step by every write, so list totals cost no scan.
CREATE TABLE execution_counts (
    workflow_id UUID NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('Pending', 'Running', 'Paused', 'Completed', 'Failed', 'Cancelled')),
    n           BIGINT NOT NULL,
    PRIMARY KEY (workflow_id, state)
);
CREATE INDEX execution_counts_by_state ON execution_counts (state);

CREATE TABLE node_results (
    execution_id UUID NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    node_id      TEXT NOT NULL,
    position     BIGINT NOT NULL,
    node_name    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    status       TEXT NOT NULL,
    output       JSONB,
    error        TEXT,
    attempts     INTEGER NOT NULL,
    started_at   TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    PRIMARY KEY (execution_id, node_id)
);

-- `data` is TEXT, not JSONB: it is served byte for byte as the SSE `data:` field.
CREATE TABLE execution_events (
    execution_id       UUID NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    seq                BIGINT NOT NULL,
    kind               TEXT NOT NULL,
    node_id            TEXT,
    data               TEXT NOT NULL,
    state              TEXT NOT NULL,
    node_results_count INTEGER NOT NULL,
    at                 TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (execution_id, seq)
);
