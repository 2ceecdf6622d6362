//! The accept loop and each connection's life: HTTP/1.1 by hyper with a header-read timeout, a
//! deadline for request bodies, an idle timeout (no byte in either direction), the connection
//! cap with eviction of the longest-idle connection, and a graceful stop.

use super::body_deadline::with_deadline;
use super::connections::{Connections, Slot};
use super::tracked_io::TrackedIo;
use axum::Router;
use axum::body::Body;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// How long clients get, and how many connections are held at once.
#[derive(Clone, Copy, Debug)]
pub struct ServeLimits {
    /// To send a request's headers, from connecting or from the previous response.
    pub header_timeout: Duration,
    /// To send a whole request body, from the end of its headers.
    pub body_timeout: Duration,
    /// Without a byte in either direction, before the connection is closed.
    pub idle_timeout: Duration,
    /// Connections held at once.
    pub max_connections: usize,
}

/// What a client turned away at the connection cap reads (when it reads at all): the API's
/// error body, written by hand because no HTTP connection is set up for it.
fn full_response() -> String {
    let body = r#"{"error":"ServiceUnavailable","message":"the server is at its connection limit (OXIFY_MAX_CONNECTIONS); try again"}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\nretry-after: 1\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Clients being turned away at once; beyond that their sockets are simply closed.
const MAX_TURNING_AWAY: usize = 64;

/// Serves `app` on `listener` until `stop` fires, then lets open requests finish.
///
/// # Errors
/// None so far: accept errors are logged and waited out; the type leaves room for fatal ones.
pub async fn serve(listener: TcpListener, app: Router, limits: ServeLimits, stop: CancellationToken) -> io::Result<()> {
    let registry = Connections::new(limits.max_connections);
    let tracker = TaskTracker::new();
    let turning_away = Arc::new(Semaphore::new(MAX_TURNING_AWAY));
    let mut last_warning: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                out_of_files(&e, &registry, &mut last_warning).await;
                continue;
            }
        };
        // Event streams write many small frames: without TCP_NODELAY, Nagle's algorithm and
        // delayed ACKs hold each one back for tens of milliseconds.
        let _ = tcp.set_nodelay(true);
        match registry.admit() {
            Some(slot) => {
                tracker.spawn(connection(tcp, peer, slot, app.clone(), limits, stop.clone()));
            }
            None => {
                if let Ok(permit) = turning_away.clone().try_acquire_owned() {
                    tokio::spawn(async move {
                        turn_away(tcp).await;
                        drop(permit);
                    });
                }
            }
        }
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
    Ok(())
}

/// An accept error: per-connection ones (the client went away) are ignored; running out of
/// files closes the longest-idle connection, or waits for one to close.
async fn out_of_files(e: &io::Error, registry: &Connections, last_warning: &mut Option<Instant>) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::Interrupted
    ) {
        return;
    }
    let evicted = registry.evict_one();
    if last_warning.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
        *last_warning = Some(Instant::now());
        tracing::warn!(error = %e, open = registry.len(), evicted,
            "cannot accept a connection (out of open files?): closing idle connections; raise OXIFY_OPEN_FILES or lower OXIFY_MAX_CONNECTIONS");
    }
    tokio::time::sleep(Duration::from_millis(if evicted { 5 } else { 50 })).await;
}

async fn turn_away(mut tcp: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = tcp.write_all(full_response().as_bytes()).await;
        let _ = tcp.shutdown().await;
    })
    .await;
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    app: Router,
    limits: ServeLimits,
    stop: CancellationToken,
) {
    let conn = slot.connection().clone();
    let tracked = conn.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        // Counted in flight from its head to the end of its response (an event stream's too).
        let guard = tracked.request();
        let mut request = request.map(|body| with_deadline(Body::new(body), limits.body_timeout));
        // The client's socket address, for limits per client (as axum's own server provides it).
        request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await.unwrap_or_else(|never: Infallible| match never {});
            Ok::<_, Infallible>(response.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _in_flight = &guard;
                    frame
                }))
            }))
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let served = http.serve_connection(TokioIo::new(TrackedIo::new(tcp, conn.clone())), service).with_upgrades();
    let mut served = std::pin::pin!(served);
    let mut draining = false;
    loop {
        tokio::select! {
            result = served.as_mut() => {
                if let Err(e) = result {
                    tracing::trace!(error = %e, "connection ended with an error");
                }
                break;
            }
            () = conn.evicted() => break,
            () = conn.silent_for(limits.idle_timeout) => break,
            () = stop.cancelled(), if !draining => {
                served.as_mut().graceful_shutdown();
                draining = true;
            }
        }
    }
    drop(slot);
}
