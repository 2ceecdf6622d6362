//! One request per key at a time in this process: a retry that arrives while the first request
//! with its key is still starting waits for it, then answers from the stored key, instead of
//! starting a run that the store would refuse. (Across processes sharing a database the store's
//! unique key settles the race; see `IdempotencyService::start`.)

use crate::domain::idempotency::{IdempotencyKey, KeyScope};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::OwnedMutexGuard;

type Slot = (KeyScope, IdempotencyKey);

struct Entry {
    lock: Arc<tokio::sync::Mutex<()>>,
    /// Requests holding or waiting for the lock: the entry goes when the last one leaves.
    users: usize,
}

/// The keys requests are working on.
#[derive(Default)]
pub(super) struct InFlight {
    slots: Mutex<HashMap<Slot, Entry>>,
}

/// A request's turn with its key; the next waiting request's turn begins when it drops.
pub(super) struct Turn<'a> {
    owner: &'a InFlight,
    slot: Slot,
    guard: Option<OwnedMutexGuard<()>>,
}

impl InFlight {
    /// Waits up to `wait` for the key's turn; `None` when another request still holds it then.
    pub(super) async fn take_turn(&self, slot: Slot, wait: Duration) -> Option<Turn<'_>> {
        let lock = {
            let mut slots = self.lock();
            let entry = slots.entry(slot.clone()).or_insert_with(|| Entry { lock: Arc::default(), users: 0 });
            entry.users += 1;
            entry.lock.clone()
        };
        // Counted from here: however this ends (turn, timeout, the request dropped), the turn's
        // drop leaves the entry.
        let mut turn = Turn { owner: self, slot, guard: None };
        turn.guard = Some(tokio::time::timeout(wait, lock.lock_owned()).await.ok()?);
        Some(turn)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Slot, Entry>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut slots = self.owner.lock();
        if let Some(entry) = slots.get_mut(&self.slot) {
            entry.users -= 1;
            if entry.users == 0 {
                slots.remove(&self.slot);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(key: &str) -> Slot {
        (KeyScope::of(crate::domain::ids::WorkspaceId::DEFAULT), IdempotencyKey::parse(key.as_bytes()).unwrap())
    }

    #[tokio::test]
    async fn a_second_request_with_the_key_waits_for_the_first_and_others_do_not() {
        let in_flight = InFlight::default();
        let first = in_flight.take_turn(slot("a"), Duration::from_secs(5)).await.unwrap();
        assert!(in_flight.take_turn(slot("b"), Duration::from_millis(10)).await.is_some(), "other keys are free");
        assert!(in_flight.take_turn(slot("a"), Duration::from_millis(20)).await.is_none(), "held");
        drop(first);
        assert!(in_flight.take_turn(slot("a"), Duration::from_millis(20)).await.is_some());
        assert_eq!(in_flight.len(), 0, "no entry outlives its requests");
    }

    #[tokio::test]
    async fn a_waiter_gets_its_turn_when_the_holder_leaves_and_a_dropped_waiter_leaves_nothing() {
        let in_flight = Arc::new(InFlight::default());
        let first = in_flight.take_turn(slot("k"), Duration::from_secs(5)).await.unwrap();
        let abandoned =
            tokio::time::timeout(Duration::from_millis(10), in_flight.take_turn(slot("k"), Duration::from_secs(3600)));
        assert!(abandoned.await.is_err(), "a waiter given up by its request");
        let waiter = {
            let in_flight = in_flight.clone();
            tokio::spawn(async move { in_flight.take_turn(slot("k"), Duration::from_secs(5)).await.is_some() })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(first);
        assert!(waiter.await.unwrap());
        assert_eq!(in_flight.len(), 0);
    }
}
