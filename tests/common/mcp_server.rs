//! The MCP test server (`examples/mcp_test_server.rs`: `add`, `fail`, `echo`, `pid`) as the
//! tests start it: a child process on stdio (the server under test starts it) or on streamable
//! HTTP (started here, and restarted on the same port).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The test server's executable, which `cargo test` and `cargo nextest run` build beside the
/// test binaries (`target/<profile>/examples`).
pub fn binary() -> String {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let path: PathBuf = profile.join("examples").join(format!("mcp_test_server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build --example mcp_test_server` (cargo test builds it)",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

/// The test server on streamable HTTP, at `http://<address>/mcp`. Killed when dropped.
pub struct HttpServer {
    child: Child,
    pub address: SocketAddr,
}

impl HttpServer {
    pub async fn start() -> Self {
        Self::start_at("127.0.0.1:0").await
    }

    async fn start_at(address: &str) -> Self {
        // The port of a killed server may take a moment to be free again.
        for _ in 0..50 {
            let mut child = Command::new(binary())
                .args(["http", address])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("the MCP test server starts");
            let mut lines = BufReader::new(child.stdout.take().expect("its stdout")).lines();
            let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await;
            if let Ok(Ok(Some(line))) = line
                && let Some(bound) = line.strip_prefix("listening on ")
            {
                return Self { child, address: bound.parse().expect("an address") };
            }
            let _ = child.kill().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the MCP test server did not start on {address}");
    }

    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.address)
    }

    /// Kills the server (its sessions die with it).
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Kills the server and starts a new one on the same port.
    pub async fn restart(&mut self) {
        self.kill().await;
        let address = self.address.to_string();
        *self = Self::start_at(&address).await;
    }
}
