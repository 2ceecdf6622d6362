-- Workflows, their immutable versions, executions with node results, event logs and counters.
-- Ids are UUID text; times are Unix microseconds (UTC), so they sort as numbers.

CREATE TABLE workflows (
    id             TEXT PRIMARY KEY NOT NULL,
    latest_version INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    deleted_at     INTEGER
);
CREATE INDEX workflows_live ON workflows (created_at DESC, id DESC) WHERE deleted_at IS NULL;

CREATE TABLE workflow_versions (
    workflow_id TEXT NOT NULL REFERENCES workflows (id),
    version     INTEGER NOT NULL,
    metadata    TEXT NOT NULL,
    definition  TEXT NOT NULL,
    node_count  INTEGER NOT NULL,
    edge_count  INTEGER NOT NULL,
    saved_at    INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, version)
);

CREATE TABLE executions (
    id               TEXT PRIMARY KEY NOT NULL,
    workflow_id      TEXT NOT NULL,
    workflow_version INTEGER NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('Pending', 'Running', 'Paused', 'Completed', 'Failed', 'Cancelled')),
    error            TEXT,
    variables        TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    completed_at     INTEGER,
    last_seq         INTEGER NOT NULL DEFAULT 0,
    results_count    INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    FOREIGN KEY (workflow_id, workflow_version) REFERENCES workflow_versions (workflow_id, version)
);
CREATE INDEX executions_all ON executions (created_at DESC, id DESC);
CREATE INDEX executions_by_workflow ON executions (workflow_id, created_at DESC, id DESC);
CREATE INDEX executions_by_state ON executions (state, created_at DESC, id DESC);
CREATE INDEX executions_by_workflow_state ON executions (workflow_id, state, created_at DESC, id DESC);
CREATE INDEX executions_unfinished ON executions (created_at) WHERE state IN ('Pending', 'Running', 'Paused');

-- Executions per (workflow, state), kept in step by every write, so list totals cost no scan.
CREATE TABLE execution_counts (
    workflow_id TEXT NOT NULL,
    state       TEXT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, state)
);
CREATE INDEX execution_counts_by_state ON execution_counts (state);

CREATE TABLE node_results (
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    node_id      TEXT NOT NULL,
    position     INTEGER NOT NULL,
    node_name    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    status       TEXT NOT NULL,
    output       TEXT,
    error        TEXT,
    attempts     INTEGER NOT NULL,
    started_at   INTEGER,
    completed_at INTEGER,
    PRIMARY KEY (execution_id, node_id)
);

CREATE TABLE execution_events (
    execution_id       TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    seq                INTEGER NOT NULL,
    kind               TEXT NOT NULL,
    node_id            TEXT,
    data               TEXT NOT NULL,
    state              TEXT NOT NULL,
    node_results_count INTEGER NOT NULL,
    at                 INTEGER NOT NULL,
    PRIMARY KEY (execution_id, seq)
);
