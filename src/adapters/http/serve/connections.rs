//! The open connections, each with what it is doing: requests in flight, when it last moved a
//! byte, since when it has been idle. They are capped; at the cap a new connection takes the
//! place of the longest-idle one (no request in flight), so idle or slow clients can never lock
//! others out, and only when every connection is busy is a new one turned away.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// One open connection.
#[derive(Debug)]
pub struct Connection {
    epoch: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `epoch` when it last became idle (connected, or finished a response).
    idle_since: AtomicU64,
    /// Milliseconds after `epoch` when it last read or wrote a byte.
    last_io: AtomicU64,
    evict: CancellationToken,
}

impl Connection {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Notes that bytes moved.
    pub fn touch(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
    }

    /// A request was received; the guard ends it when its response has been sent (or dropped).
    #[must_use]
    pub fn request(self: &Arc<Self>) -> RequestGuard {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        RequestGuard(self.clone())
    }

    fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0 && !self.evict.is_cancelled()
    }

    /// Resolves once the connection has moved no byte for `limit`.
    pub async fn silent_for(&self, limit: Duration) {
        let limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
        loop {
            let due = self.last_io.load(Ordering::Relaxed).saturating_add(limit_ms);
            let now = self.now();
            if now >= due {
                return;
            }
            tokio::time::sleep(Duration::from_millis(due - now)).await;
        }
    }

    /// Resolves when the connection must make room for a new one.
    pub async fn evicted(&self) {
        self.evict.cancelled().await;
    }
}

/// Counts a request in flight on its connection until dropped.
#[derive(Debug)]
pub struct RequestGuard(Arc<Connection>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let connection = &self.0;
        if connection.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            connection.idle_since.store(connection.now(), Ordering::Relaxed);
        }
    }
}

/// The registry of open connections.
#[derive(Debug)]
pub struct Connections {
    max: usize,
    epoch: Instant,
    next: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Connection>>>,
}

/// A connection's place in the registry, given back when dropped.
#[derive(Debug)]
pub struct Slot {
    id: u64,
    connection: Arc<Connection>,
    registry: Arc<Connections>,
}

impl Slot {
    #[must_use]
    pub fn connection(&self) -> &Arc<Connection> {
        &self.connection
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

impl Connections {
    /// A registry holding at most `max` connections (at least one).
    #[must_use]
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self { max: max.max(1), epoch: Instant::now(), next: AtomicU64::new(0), open: Mutex::default() })
    }

    /// A place for a new connection, made by evicting the longest-idle one when the registry is
    /// full; `None` when it is full of busy connections.
    #[must_use]
    pub fn admit(self: &Arc<Self>) -> Option<Slot> {
        let mut open = self.lock();
        let live = open.values().filter(|c| !c.evict.is_cancelled()).count();
        if live >= self.max && !Self::evict_longest_idle(&open) {
            return None;
        }
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let connection = Arc::new(Connection {
            epoch: self.epoch,
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(now),
            last_io: AtomicU64::new(now),
            evict: CancellationToken::new(),
        });
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        open.insert(id, connection.clone());
        Some(Slot { id, connection, registry: self.clone() })
    }

    /// Closes the longest-idle connection to free its file (when the process ran out of them);
    /// `false` when every connection is busy.
    pub fn evict_one(&self) -> bool {
        Self::evict_longest_idle(&self.lock())
    }

    fn evict_longest_idle(open: &HashMap<u64, Arc<Connection>>) -> bool {
        let longest = open.values().filter(|c| c.is_idle()).min_by_key(|c| c.idle_since.load(Ordering::Relaxed));
        longest.is_some_and(|c| {
            c.evict.cancel();
            true
        })
    }

    /// Connections open now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Connection>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_the_longest_idle_connection_makes_room() {
        let registry = Connections::new(2);
        let first = registry.admit().unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let second = registry.admit().unwrap();
        let third = registry.admit().expect("room made");
        assert!(first.connection().evict.is_cancelled(), "the longest idle goes");
        assert!(!second.connection().evict.is_cancelled());
        drop(first);
        assert_eq!(registry.len(), 2);
        drop((second, third));
        assert_eq!(registry.len(), 0);
    }

    #[test]
    fn busy_connections_are_never_evicted_and_a_full_registry_of_them_refuses() {
        let registry = Connections::new(1);
        let busy = registry.admit().unwrap();
        let request = busy.connection().request();
        assert!(registry.admit().is_none());
        assert!(!registry.evict_one());
        drop(request);
        assert!(registry.admit().is_some(), "idle once its response is sent");
        assert!(busy.connection().evict.is_cancelled());
    }

    #[tokio::test]
    async fn silence_is_measured_from_the_last_byte() {
        let registry = Connections::new(1);
        let slot = registry.admit().unwrap();
        let connection = slot.connection().clone();
        let started = Instant::now();
        tokio::time::sleep(Duration::from_millis(30)).await;
        connection.touch();
        connection.silent_for(Duration::from_millis(50)).await;
        assert!(started.elapsed() >= Duration::from_millis(80));
    }
}
