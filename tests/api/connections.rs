//! Slow and idle clients cannot lock others out: idle, slow-header and slow-body connections are
//! closed on time, the connection cap makes room by closing idle connections, and more idle
//! connections than the process has files still leave room for real requests.

use crate::support::spawn_server;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_oxify-api");

/// Reads until the server closes the connection (or `limit` passes); returns what it sent and
/// how long it took.
async fn until_closed(tcp: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let read = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 4096];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open for {limit:?}");
    (String::from_utf8_lossy(&received).into_owned(), started.elapsed())
}

#[tokio::test]
async fn idle_slow_header_and_slow_body_connections_are_closed_on_time() {
    let server = spawn_server(|c| {
        c.header_timeout_secs = 1;
        c.body_timeout_secs = 1;
        c.sse_keepalive_secs = 1;
        c.idle_timeout_secs = 2;
    })
    .await;
    let addr = server.addr();
    let mut idle = TcpStream::connect(addr).await.unwrap();
    let mut slow_header = TcpStream::connect(addr).await.unwrap();
    slow_header.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut slow_body = TcpStream::connect(addr).await.unwrap();
    slow_body
        .write_all(b"POST /api/v1/workflows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"wor")
        .await
        .unwrap();
    let mut kept_alive = TcpStream::connect(addr).await.unwrap();
    kept_alive.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();

    let (_, waited) = until_closed(&mut idle, Duration::from_secs(10)).await;
    assert!(waited < Duration::from_secs(5), "idle: {waited:?}");
    let (_, waited) = until_closed(&mut slow_header, Duration::from_secs(10)).await;
    assert!(waited < Duration::from_secs(5), "slow header: {waited:?}");
    let (answer, waited) = until_closed(&mut slow_body, Duration::from_secs(10)).await;
    assert!(waited < Duration::from_secs(5), "slow body: {waited:?}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""error":"RequestTimeout""#), "{answer}");
    let (answer, waited) = until_closed(&mut kept_alive, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(waited < Duration::from_secs(5), "kept alive, then idle: {waited:?}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn at_the_cap_idle_connections_make_room_and_busy_ones_turn_new_ones_away() {
    let server = spawn_server(|c| c.max_connections = Some(2)).await;
    let addr = server.addr();
    // Two idle connections fill the cap; a real request still gets through.
    let _idle = (TcpStream::connect(addr).await.unwrap(), TcpStream::connect(addr).await.unwrap());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let health = reqwest::get(format!("http://{addr}/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    // Two requests in flight (bodies still coming) fill it with busy connections.
    let busy_request =
        b"POST /api/v1/workflows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{";
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(busy_request).await.unwrap();
        busy.push(tcp);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut third = TcpStream::connect(addr).await.unwrap();
    let (answer, _) = until_closed(&mut third, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["error"], "ServiceUnavailable");
    assert!(body["message"].as_str().unwrap().contains("OXIFY_MAX_CONNECTIONS"));
    drop(busy);
    server.stop().await.unwrap();
}

/// Starts the binary with a soft and hard open-files limit of its own.
fn start_with_open_files(soft: u64, hard: u64, args: &[&str]) -> (Child, SocketAddr) {
    let mut command = Command::new(BIN);
    command
        .args(["--host", "127.0.0.1", "--port", "0", "--database-url", "memory://"])
        .args(args)
        .env_remove("RUST_LOG")
        .env("OXIFY_LOG_LEVEL", "warn")
        .env("OXIFY_ALLOW_ANONYMOUS", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(move || rlimit::setrlimit(rlimit::Resource::NOFILE, soft, hard));
    }
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let addr = line.trim().strip_prefix("oxify-api listening on http://").unwrap_or_else(|| panic!("{line}"));
    (child, addr.parse().unwrap())
}

fn stop(mut child: Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    for _ in 0..100 {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn more_idle_connections_than_open_files_still_leave_room_for_requests() {
    // The test holds the idle sockets itself: it needs more files than the server gets.
    let _ = rlimit::increase_nofile_limit(4096);
    // Timeouts far away: only the connection cap can make room here.
    let (child, addr) =
        start_with_open_files(128, 128, &["--header-timeout-secs", "300", "--idle-timeout-secs", "300"]);
    let mut idle = Vec::new();
    for _ in 0..300 {
        if let Ok(Ok(tcp)) = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await {
            idle.push(tcp);
        }
    }
    assert!(idle.len() > 128, "opened {} idle connections", idle.len());
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    for _ in 0..3 {
        let health = client.get(format!("http://{addr}/health")).send().await.expect("answered despite the idle crowd");
        assert_eq!(health.status(), 200);
    }
    drop(idle);
    stop(child);
}

#[cfg(target_os = "linux")]
#[test]
fn the_open_files_limit_is_raised_at_start_as_far_as_allowed() {
    let (child, _) = start_with_open_files(64, 4096, &[]);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap().to_owned();
    stop(child);
    let numbers: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers, ["4096", "4096"], "{line}");
}
