-- Uploaded files (images, documents) per workspace, with their bytes. The id is global (a UUID)
-- so that a workspace cannot learn of another's file by guessing. Times are Unix microseconds.
CREATE TABLE files (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    bytes        BLOB NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX files_by_workspace ON files (workspace_id, created_at);
