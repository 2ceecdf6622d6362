//! Uploaded files as stored, per workspace.

use super::store_error::StoreError;
use crate::domain::access::Scope;
use crate::domain::files::FileInfo;
use std::sync::{Arc, OnceLock};

/// Files and their bytes, per workspace.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait FileStore: Send + Sync {
    /// # Errors
    /// - MUST return [`StoreError::Conflict`] when the id is taken (in any workspace).
    async fn put_file(&self, scope: Scope, info: &FileInfo, bytes: &[u8]) -> Result<(), StoreError>;

    /// A file with its bytes; `None` when the workspace has no such file.
    ///
    /// # Errors
    /// Storage failures.
    async fn file(&self, scope: Scope, id: uuid::Uuid) -> Result<Option<(FileInfo, Vec<u8>)>, StoreError>;

    /// The workspace's files, newest first, without their bytes.
    ///
    /// # Errors
    /// Storage failures.
    async fn files(&self, scope: Scope) -> Result<Vec<FileInfo>, StoreError>;

    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the workspace has no such file.
    async fn delete_file(&self, scope: Scope, id: uuid::Uuid) -> Result<(), StoreError>;
}

/// The file store, known only once storage is open (after the runners are made): the
/// composition root fills the slot. Until then, files cannot be read.
#[derive(Default)]
pub struct FilesSlot(OnceLock<Arc<dyn FileStore>>);

impl std::fmt::Debug for FilesSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() { "FilesSlot(filled)" } else { "FilesSlot(empty)" })
    }
}

impl FilesSlot {
    /// Fills the slot (once; later calls are ignored).
    pub fn fill(&self, files: Arc<dyn FileStore>) {
        let _ = self.0.set(files);
    }

    /// The store, once filled.
    #[must_use]
    pub fn get(&self) -> Option<&Arc<dyn FileStore>> {
        self.0.get()
    }
}
