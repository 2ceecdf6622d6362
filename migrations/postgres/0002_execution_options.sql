-- Per-execution options from the execute request, as JSON: {"budget": {"max_tokens", "max_cost_usd"}}.
ALTER TABLE executions ADD COLUMN options JSONB NOT NULL DEFAULT '{}'::jsonb;
