-- Runs as typed event logs that can wait: children and their parents, reruns, the workflow's
-- output, a wake-up time for parked runs, and each node's usage beside its output.
ALTER TABLE executions ADD COLUMN parent_execution_id TEXT;
ALTER TABLE executions ADD COLUMN parent_node_id TEXT;
ALTER TABLE executions ADD COLUMN parent_item INTEGER;
ALTER TABLE executions ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN rerun_of TEXT;
ALTER TABLE executions ADD COLUMN output TEXT;
ALTER TABLE executions ADD COLUMN wake_at INTEGER;
ALTER TABLE node_results ADD COLUMN usage TEXT;

CREATE INDEX executions_children ON executions (parent_execution_id, created_at DESC, id DESC)
    WHERE parent_execution_id IS NOT NULL;
-- Parked runs whose timer is due, or that a signal woke.
CREATE INDEX executions_wake ON executions (wake_at) WHERE state = 'Paused' AND wake_at IS NOT NULL;

-- Earlier versions kept a model call's usage only inside the LLM node's output.
UPDATE node_results SET usage = json_extract(output, '$.usage')
WHERE kind = 'LLM' AND output IS NOT NULL AND json_valid(output) AND json_type(output, '$.usage') = 'object';
