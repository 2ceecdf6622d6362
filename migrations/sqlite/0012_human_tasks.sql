-- Requests to people: one row per approval or form an Approval or Form node waits on. JSON in
-- TEXT columns; times are Unix microseconds. `sealed` holds a form's Password values, sealed by
-- the secrets cipher (never clear text). `revision` guards concurrent answers.
CREATE TABLE human_tasks (
    id              TEXT PRIMARY KEY NOT NULL,
    workspace_id    TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('Approval', 'Form')),
    state           TEXT NOT NULL CHECK (state IN ('Pending', 'Approved', 'Rejected', 'Submitted', 'Expired', 'Cancelled')),
    execution_id    TEXT NOT NULL,
    workflow_id     TEXT NOT NULL,
    node_id         TEXT NOT NULL,
    request         TEXT NOT NULL,
    approvers       TEXT NOT NULL,
    quorum          INTEGER NOT NULL,
    allow_initiator INTEGER NOT NULL,
    started_by      TEXT,
    decisions       TEXT NOT NULL,
    response        TEXT,
    sealed          BLOB,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER,
    decided_at      INTEGER,
    revision        INTEGER NOT NULL,
    -- The node's notification and its delivery log (JSON), and when its next attempt is due
    -- (or, while one process delivers it, until when that process holds it).
    notify          TEXT,
    notify_due      INTEGER
);
CREATE INDEX human_tasks_by_workspace ON human_tasks (workspace_id, kind, created_at DESC, id DESC);
CREATE INDEX human_tasks_by_execution ON human_tasks (execution_id);
CREATE INDEX human_tasks_notify_due ON human_tasks (notify_due) WHERE notify_due IS NOT NULL;
