-- Uploaded files (images, documents) per workspace, with their bytes. The id is global (a UUID)
-- so that a workspace cannot learn of another's file by guessing.
CREATE TABLE files (
    id           UUID PRIMARY KEY,
    workspace_id UUID NOT NULL,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,
    bytes        BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX files_by_workspace ON files (workspace_id, created_at);
