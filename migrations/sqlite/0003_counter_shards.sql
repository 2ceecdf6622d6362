-- Postgres splits its counters in shards to spread row locks; SQLite has a single writer, so its
-- counters stay as they are. This migration keeps the two histories in step.
SELECT 1;
