-- Who did what and when, per workspace, append only.
CREATE TABLE audit_log (
    id           UUID PRIMARY KEY,
    workspace_id UUID NOT NULL,
    at           TIMESTAMPTZ NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    target       TEXT,
    details      TEXT NOT NULL
);
CREATE INDEX audit_log_by_workspace ON audit_log (workspace_id, at DESC, id DESC);
CREATE INDEX audit_log_by_action ON audit_log (workspace_id, action, at DESC, id DESC);
