-- Where a collection's chunks live: 'embedded' (vector_chunks), 'pgvector' or 'chroma' (an
-- external store the server talks to; the catalog row stays here).
ALTER TABLE vector_collections ADD COLUMN store TEXT NOT NULL DEFAULT 'embedded';
