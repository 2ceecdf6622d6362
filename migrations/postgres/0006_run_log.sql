-- Runs as typed event logs that can wait: children and their parents, reruns, the workflow's
-- output, a wake-up time for parked runs, and each node's usage beside its output.
-- The same columns as migrations/sqlite/0006_run_log.sql, in native types.
ALTER TABLE executions
    ADD COLUMN parent_execution_id UUID,
    ADD COLUMN parent_node_id TEXT,
    ADD COLUMN parent_item INTEGER,
    ADD COLUMN depth INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN rerun_of UUID,
    ADD COLUMN output TEXT,
    ADD COLUMN wake_at TIMESTAMPTZ;
ALTER TABLE node_results ADD COLUMN usage TEXT;

CREATE INDEX executions_children ON executions (parent_execution_id, created_at DESC, id DESC)
    WHERE parent_execution_id IS NOT NULL;
-- Parked runs whose timer is due, or that a signal woke.
CREATE INDEX executions_wake ON executions (wake_at) WHERE state = 'Paused' AND wake_at IS NOT NULL;

-- Earlier versions kept a model call's usage only inside the LLM node's output. (An output with
-- an escaped NUL cannot become jsonb; such rows keep no separate usage.)
UPDATE node_results SET usage = ((output::jsonb) -> 'usage')::text
WHERE kind = 'LLM' AND output IS NOT NULL AND strpos(output, '\u0000') = 0
  AND jsonb_typeof((output::jsonb) -> 'usage') = 'object';
