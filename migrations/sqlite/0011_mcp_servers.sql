-- MCP servers a workspace registered. `transport` is the JSON of domain::mcp::McpTransport
-- (header values may name secrets as {{ secrets.NAME }}; no secret value is stored here).
-- Times are Unix microseconds.
CREATE TABLE mcp_servers (
    workspace_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    transport    TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    calls        INTEGER NOT NULL DEFAULT 0,
    errors       INTEGER NOT NULL DEFAULT 0,
    last_used_at INTEGER,
    PRIMARY KEY (workspace_id, name)
);
