-- Vector collections per workspace, and their chunks (a document's text pieces) with vectors
-- stored as little-endian f32 bytes (searched in process; pgvector is not required).
CREATE TABLE vector_collections (
    workspace_id       UUID NOT NULL,
    name               TEXT NOT NULL,
    description        TEXT,
    dimension          INTEGER NOT NULL,
    embedding_provider TEXT,
    embedding_model    TEXT,
    chunk_size         INTEGER NOT NULL,
    chunk_overlap      INTEGER NOT NULL,
    revision           BIGINT NOT NULL DEFAULT 0,
    created_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, name)
);
CREATE TABLE vector_chunks (
    workspace_id UUID NOT NULL,
    collection   TEXT NOT NULL,
    document_id  TEXT NOT NULL,
    chunk_index  INTEGER NOT NULL,
    text         TEXT NOT NULL,
    metadata     TEXT NOT NULL,
    vector       BYTEA NOT NULL,
    PRIMARY KEY (workspace_id, collection, document_id, chunk_index),
    FOREIGN KEY (workspace_id, collection) REFERENCES vector_collections (workspace_id, name) ON DELETE CASCADE
);
