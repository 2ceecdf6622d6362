//! A real Chroma server for the tests: `chroma run` from PyPI's `chromadb` (installed here
//! with pip when missing, at the version .ci/run pins), on a free loopback port and a fresh
//! directory, killed when dropped.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The chromadb release the tests and .ci/run install.
pub const CHROMADB: &str = "chromadb==1.5.9";

pub struct ChromaServer {
    child: Child,
    pub url: String,
    dir: tempfile::TempDir,
}

impl Drop for ChromaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn runs() -> bool {
    Command::new("chroma").arg("--help").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn pip(extra: &[&str]) -> bool {
    let mut args = vec!["-m", "pip", "install", "--quiet", "--disable-pip-version-check", CHROMADB];
    args.extend_from_slice(extra);
    Command::new("python3").args(&args).status().is_ok_and(|s| s.success())
}

/// A running server, or why none can be had (chromadb cannot be installed).
pub async fn start() -> Result<ChromaServer, String> {
    if !runs() && !pip(&[]) && !pip(&["--break-system-packages"]) {
        return Err(format!("`pip install {CHROMADB}` failed"));
    }
    if !runs() {
        return Err(format!("{CHROMADB} is installed but `chroma` is not on PATH"));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(dir.path().join("chroma.log")).unwrap();
    let child = Command::new("chroma")
        .args(["run", "--host", "127.0.0.1", "--port", &port.to_string(), "--path"])
        .arg(dir.path().join("data"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("chroma starts");
    let mut server = ChromaServer { child, url: format!("http://127.0.0.1:{port}"), dir };
    let heartbeat = format!("{}/api/v2/heartbeat", server.url);
    let client = reqwest::Client::new();
    // Ready when it answers; a server that exits fails the test with its log.
    loop {
        if client.get(&heartbeat).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(server);
        }
        if let Some(status) = server.child.try_wait().unwrap() {
            let log = std::fs::read_to_string(server.dir.path().join("chroma.log")).unwrap_or_default();
            panic!("chroma exited with {status} before answering:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
