-- Every workflow and execution belongs to one workspace. Rows from before workspaces belong to
-- the default workspace (00000000-0000-0000-0000-000000000001). A workflow's counters are its
-- workspace's, so list totals stay exact per workspace. Idempotency keys were unique for the
-- whole server (scope ''); they now are per workspace.
ALTER TABLE workflows ADD COLUMN workspace_id TEXT NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001';
ALTER TABLE executions ADD COLUMN workspace_id TEXT NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001';
ALTER TABLE execution_counts ADD COLUMN workspace_id TEXT NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001';
UPDATE idempotency_keys SET scope = '00000000-0000-0000-0000-000000000001' WHERE scope = '';

DROP INDEX workflows_live;
CREATE INDEX workflows_live ON workflows (workspace_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
DROP INDEX executions_all;
CREATE INDEX executions_all ON executions (workspace_id, created_at DESC, id DESC);
DROP INDEX executions_by_state;
CREATE INDEX executions_by_state ON executions (workspace_id, state, created_at DESC, id DESC);
DROP INDEX execution_counts_by_state;
CREATE INDEX execution_counts_by_workspace ON execution_counts (workspace_id, state);
