-- Postgres moved its JSON columns to TEXT and escapes NUL in free text so that it returns exactly
-- what it was given; SQLite has always stored text and JSON text byte for byte. This migration
-- keeps the two histories in step.
SELECT 1;
