-- Vector collections per workspace, and their chunks (a document's text pieces) with vectors
-- stored as little-endian f32 bytes. Times are Unix microseconds.
CREATE TABLE vector_collections (
    workspace_id       TEXT NOT NULL,
    name               TEXT NOT NULL,
    description        TEXT,
    dimension          INTEGER NOT NULL,
    embedding_provider TEXT,
    embedding_model    TEXT,
    chunk_size         INTEGER NOT NULL,
    chunk_overlap      INTEGER NOT NULL,
    revision           INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, name)
);
CREATE TABLE vector_chunks (
    workspace_id TEXT NOT NULL,
    collection   TEXT NOT NULL,
    document_id  TEXT NOT NULL,
    chunk_index  INTEGER NOT NULL,
    text         TEXT NOT NULL,
    metadata     TEXT NOT NULL,
    vector       BLOB NOT NULL,
    PRIMARY KEY (workspace_id, collection, document_id, chunk_index)
);
