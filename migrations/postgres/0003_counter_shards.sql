-- Counters split in 16 shards per (workflow, state): executions of one workflow update different
-- rows instead of queueing on one row lock. Totals sum the shards.
ALTER TABLE execution_counts ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE execution_counts DROP CONSTRAINT execution_counts_pkey;
ALTER TABLE execution_counts ADD PRIMARY KEY (workflow_id, state, shard);
