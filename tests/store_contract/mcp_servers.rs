//! Registered MCP servers: unique by name in their workspace, listed by name, deleted once, their
//! calls and errors counted; another workspace sees none of them.

use super::backends::reopen;
use super::{Stores, WS, at};
use oxify_api::domain::access::Scope;
use oxify_api::domain::ids::WorkspaceId;
use oxify_api::domain::mcp::{McpServer, McpServerStats, McpTransport};
use oxify_api::ports::StoreError;

fn http(name: &str) -> McpServer {
    McpServer {
        name: name.into(),
        transport: McpTransport::StreamableHttp {
            url: "http://127.0.0.1:9/mcp".into(),
            headers: [("Authorization".to_owned(), "Bearer {{ secrets.TOKEN }}".to_owned())].into(),
        },
        created_at: at(1),
        stats: McpServerStats::default(),
    }
}

fn stdio(name: &str) -> McpServer {
    McpServer {
        name: name.into(),
        transport: McpTransport::Stdio {
            command: "/usr/bin/srv".into(),
            args: vec!["--quiet".into(), "é ✓".into()],
            env: [("MODE".to_owned(), "test".to_owned())].into(),
        },
        created_at: at(2),
        stats: McpServerStats::default(),
    }
}

pub async fn mcp_servers_are_unique_per_workspace_and_count_their_calls(s: Stores) {
    let b = Scope::new(WorkspaceId::generate());
    let m = &s.mcp_servers;
    m.insert_mcp_server(WS, &stdio("zeta")).await.unwrap();
    m.insert_mcp_server(WS, &http("alpha")).await.unwrap();
    m.insert_mcp_server(b, &http("zeta")).await.unwrap();
    assert!(matches!(m.insert_mcp_server(WS, &http("zeta")).await, Err(StoreError::Conflict(_))));
    assert_eq!(m.mcp_server(WS, "zeta").await.unwrap(), Some(stdio("zeta")), "the first stays");
    assert_eq!(m.mcp_server(WS, "alpha").await.unwrap(), Some(http("alpha")));
    let names: Vec<String> = m.mcp_servers(WS).await.unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["alpha", "zeta"]);
    assert!(m.mcp_server(b, "alpha").await.unwrap().is_none(), "another workspace sees none of them");

    m.record_mcp_call(WS, "alpha", false, at(10)).await.unwrap();
    m.record_mcp_call(WS, "alpha", true, at(11)).await.unwrap();
    m.record_mcp_call(WS, "alpha", false, at(12)).await.unwrap();
    let stats = m.mcp_server(WS, "alpha").await.unwrap().unwrap().stats;
    assert_eq!(stats, McpServerStats { calls: 3, errors: 1, last_used_at: Some(at(12)) });
    assert_eq!(m.mcp_server(b, "zeta").await.unwrap().unwrap().stats, McpServerStats::default());
    assert!(matches!(m.record_mcp_call(b, "alpha", false, at(13)).await, Err(StoreError::NotFound { .. })));

    m.delete_mcp_server(b, "zeta").await.unwrap();
    assert!(m.mcp_server(WS, "zeta").await.unwrap().is_some(), "B's delete left A's alone");
    assert!(matches!(m.delete_mcp_server(b, "zeta").await, Err(StoreError::NotFound { .. })));
    assert!(matches!(m.delete_mcp_server(b, "alpha").await, Err(StoreError::NotFound { .. })));
    m.delete_mcp_server(WS, "zeta").await.unwrap();
    assert_eq!(m.mcp_servers(WS).await.unwrap().len(), 1);
}

pub async fn mcp_servers_outlive_a_restart(s: Stores) {
    s.mcp_servers.insert_mcp_server(WS, &stdio("calc")).await.unwrap();
    s.mcp_servers.record_mcp_call(WS, "calc", true, at(5)).await.unwrap();
    let s = reopen(s).await;
    let got = s.mcp_servers.mcp_server(WS, "calc").await.unwrap().unwrap();
    assert_eq!((got.transport, got.stats.errors), (stdio("calc").transport, 1));
}
