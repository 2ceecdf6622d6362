-- Every backend returns exactly the text it was given, NUL (U+0000) included.
--
-- JSONB cannot hold "\u0000", so the JSON columns become TEXT holding serde_json's text (which
-- writes NUL as that escape and never as a raw byte). No query reads inside these columns.
ALTER TABLE workflow_versions
    ALTER COLUMN metadata TYPE TEXT USING metadata::text,
    ALTER COLUMN definition TYPE TEXT USING definition::text;
ALTER TABLE executions
    ALTER COLUMN variables TYPE TEXT USING variables::text,
    ALTER COLUMN options DROP DEFAULT,
    ALTER COLUMN options TYPE TEXT USING options::text,
    ALTER COLUMN options SET DEFAULT '{}';
ALTER TABLE node_results ALTER COLUMN output TYPE TEXT USING output::text;

-- TEXT cannot hold NUL either: free-text columns now store NUL as DLE '0' and DLE (U+0010) as
-- DLE DLE (src/adapters/store/postgres/nul.rs). Doubling the DLEs already stored makes older rows
-- read back unchanged. (Rows written before this release with U+FFFD for NUL stay as they are.)
-- Event data needs no pass: it has always been serde_json's text, which writes DLE as "\u0010";
-- nor do node ids (validated slugs and UUIDs) and node kinds (fixed names).
UPDATE executions SET error = replace(error, chr(16), chr(16) || chr(16)) WHERE strpos(error, chr(16)) > 0;
UPDATE node_results
SET error = replace(error, chr(16), chr(16) || chr(16)),
    node_name = replace(node_name, chr(16), chr(16) || chr(16))
WHERE strpos(error, chr(16)) > 0 OR strpos(node_name, chr(16)) > 0;
