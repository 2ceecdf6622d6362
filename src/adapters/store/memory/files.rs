//! Uploaded files in memory.

use super::InMemoryStore;
use crate::domain::access::Scope;
use crate::domain::files::FileInfo;
use crate::domain::ids::WorkspaceId;
use crate::ports::{FileStore, StoreError};
use std::collections::HashMap;
use std::sync::Arc;

/// Files by id, with their workspace and bytes.
pub(super) type Files = HashMap<uuid::Uuid, (WorkspaceId, FileInfo, Arc<Vec<u8>>)>;

#[async_trait::async_trait]
impl FileStore for InMemoryStore {
    async fn put_file(&self, scope: Scope, info: &FileInfo, bytes: &[u8]) -> Result<(), StoreError> {
        let mut inner = self.write();
        if inner.files.contains_key(&info.id) {
            return Err(StoreError::Conflict(format!("file {} already exists", info.id)));
        }
        inner.files.insert(info.id, (scope.workspace(), info.clone(), Arc::new(bytes.to_vec())));
        Ok(())
    }

    async fn file(&self, scope: Scope, id: uuid::Uuid) -> Result<Option<(FileInfo, Vec<u8>)>, StoreError> {
        let inner = self.read();
        Ok(inner
            .files
            .get(&id)
            .filter(|(ws, _, _)| *ws == scope.workspace())
            .map(|(_, info, bytes)| (info.clone(), bytes.as_ref().clone())))
    }

    async fn files(&self, scope: Scope) -> Result<Vec<FileInfo>, StoreError> {
        let inner = self.read();
        let mut all: Vec<FileInfo> = inner
            .files
            .values()
            .filter(|(ws, _, _)| *ws == scope.workspace())
            .map(|(_, info, _)| info.clone())
            .collect();
        all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(all)
    }

    async fn delete_file(&self, scope: Scope, id: uuid::Uuid) -> Result<(), StoreError> {
        let mut inner = self.write();
        match inner.files.get(&id) {
            Some((ws, _, _)) if *ws == scope.workspace() => {
                inner.files.remove(&id);
                Ok(())
            }
            _ => Err(StoreError::not_found("file", id)),
        }
    }
}
