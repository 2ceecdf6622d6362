//! When the runs this process parked on a timer are due, so that its maintenance loop wakes each
//! when it is due rather than at its next periodic look (up to a second later). Runs parked by
//! other processes are still found by that periodic look.

use chrono::{DateTime, Utc};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Mutex, PoisonError};
use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct Timers {
    /// Due times, earliest first; an entry is dropped once due (its run may have been woken
    /// earlier by a signal: then the look it causes finds nothing, which is harmless).
    due: Mutex<BinaryHeap<Reverse<DateTime<Utc>>>>,
    /// Fires when a new earliest due time arrives.
    changed: Notify,
}

impl Timers {
    pub fn add(&self, at: DateTime<Utc>) {
        let mut due = self.lock();
        let earliest = due.peek().is_none_or(|Reverse(first)| at < *first);
        due.push(Reverse(at));
        drop(due);
        if earliest {
            self.changed.notify_one();
        }
    }

    pub fn next(&self) -> Option<DateTime<Utc>> {
        self.lock().peek().map(|Reverse(at)| *at)
    }

    /// Forgets the timers due at `now` or before.
    pub fn forget_until(&self, now: DateTime<Utc>) {
        let mut due = self.lock();
        while due.peek().is_some_and(|Reverse(at)| *at <= now) {
            due.pop();
        }
    }

    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BinaryHeap<Reverse<DateTime<Utc>>>> {
        self.due.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_come_earliest_first_and_are_forgotten_once_due() {
        let timers = Timers::default();
        let t0 = Utc::now();
        timers.add(t0 + chrono::Duration::seconds(5));
        timers.add(t0 + chrono::Duration::seconds(1));
        timers.add(t0 + chrono::Duration::seconds(3));
        assert_eq!(timers.next(), Some(t0 + chrono::Duration::seconds(1)));
        timers.forget_until(t0 + chrono::Duration::seconds(3));
        assert_eq!(timers.next(), Some(t0 + chrono::Duration::seconds(5)));
        timers.forget_until(t0 + chrono::Duration::seconds(9));
        assert_eq!(timers.next(), None);
    }
}
