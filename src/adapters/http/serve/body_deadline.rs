//! A request body that must arrive whole within a deadline, so that a client sending its body a
//! byte at a time cannot hold a connection (and a handler) for ever. Reading it after the
//! deadline fails with [`BodyTimeout`], which the extractors answer with 408 RequestTimeout.

use axum::BoxError;
use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

/// The request body did not arrive within the deadline.
#[derive(Debug)]
pub struct BodyTimeout(pub Duration);

impl fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the request body did not arrive within {} s (OXIFY_BODY_TIMEOUT_SECS)", self.0.as_secs())
    }
}

impl std::error::Error for BodyTimeout {}

/// `body`, failing once `limit` has passed (counted from now) before it ended.
pub fn with_deadline(body: Body, limit: Duration) -> Body {
    Body::new(Deadline { inner: body, sleep: Box::pin(tokio::time::sleep(limit)), limit })
}

struct Deadline {
    inner: Body,
    sleep: Pin<Box<Sleep>>,
    limit: Duration,
}

impl http_body::Body for Deadline {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(self.limit)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
