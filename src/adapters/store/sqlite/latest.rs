//! The latest version of each workflow, cached. Only this process writes the database (the lock
//! file sees to that), so the cache stays exact as long as writes are recorded in commit order.

use crate::domain::ids::WorkflowId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Per workflow: `Some(version)` while live, `None` once deleted.
#[derive(Clone, Default)]
pub(super) struct LatestVersions(Arc<Mutex<HashMap<WorkflowId, Option<u32>>>>);

impl LatestVersions {
    /// What is known of `id`: `None` when nothing is, `Some(None)` when it was deleted.
    pub fn get(&self, id: WorkflowId) -> Option<Option<u32>> {
        self.lock().get(&id).copied()
    }

    /// Records a committed write (`None`: a delete). Called on the writer thread, in commit order.
    pub fn committed(&self, id: WorkflowId, version: Option<u32>) {
        self.lock().insert(id, version);
    }

    /// Records what a read found, unless a write was recorded meanwhile: a read that raced a
    /// commit may have seen the state before it.
    pub fn read(&self, id: WorkflowId, version: u32) {
        self.lock().entry(id).or_insert(Some(version));
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<WorkflowId, Option<u32>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_raced_a_commit_never_overwrites_it() {
        let latest = LatestVersions::default();
        let id = WorkflowId::generate();
        latest.committed(id, Some(3));
        latest.read(id, 2);
        assert_eq!(latest.get(id), Some(Some(3)));
        latest.committed(id, None);
        latest.read(id, 3);
        assert_eq!(latest.get(id), Some(None), "a delete stays recorded");
        let other = WorkflowId::generate();
        latest.read(other, 1);
        assert_eq!(latest.get(other), Some(Some(1)));
    }
}
