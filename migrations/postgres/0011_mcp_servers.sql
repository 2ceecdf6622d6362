-- MCP servers a workspace registered. `transport` is the JSON of domain::mcp::McpTransport
-- (header values may name secrets as {{ secrets.NAME }}; no secret value is stored here).
CREATE TABLE mcp_servers (
    workspace_id UUID NOT NULL,
    name         TEXT NOT NULL,
    transport    JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    calls        BIGINT NOT NULL DEFAULT 0,
    errors       BIGINT NOT NULL DEFAULT 0,
    last_used_at TIMESTAMPTZ,
    PRIMARY KEY (workspace_id, name)
);
