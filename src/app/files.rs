//! Uploaded files: stored per workspace under a new id with the type their bytes show, read
//! back by nodes and API callers of the same workspace only.

use super::error::ServiceError;
use crate::domain::access::Scope;
use crate::domain::files::{FileInfo, sniff};
use crate::ports::{Clock, FileStore};
use std::sync::Arc;

/// Longest file name kept (longer ones are cut).
const MAX_NAME: usize = 255;

/// The files use cases.
pub struct FileService {
    store: Arc<dyn FileStore>,
    clock: Arc<dyn Clock>,
}

impl FileService {
    #[must_use]
    pub fn new(store: Arc<dyn FileStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Stores `bytes` as a new file named `name` (for people only).
    ///
    /// # Errors
    /// 400 for an empty file or one that is neither an image, a PDF nor UTF-8 text.
    pub async fn upload(&self, scope: Scope, name: &str, bytes: &[u8]) -> Result<FileInfo, ServiceError> {
        if bytes.is_empty() {
            return Err(ServiceError::BadRequest("the file is empty".into()));
        }
        let content_type = sniff(bytes).ok_or_else(|| {
            ServiceError::BadRequest(
                "the file is neither an image (PNG, JPEG, GIF, WebP, TIFF, BMP), a PDF nor UTF-8 text".into(),
            )
        })?;
        let name: String = name.chars().filter(|c| !c.is_control()).take(MAX_NAME).collect();
        let info = FileInfo {
            id: uuid::Uuid::now_v7(),
            name: if name.trim().is_empty() { "upload".into() } else { name },
            content_type: content_type.to_owned(),
            size: bytes.len() as u64,
            created_at: chrono::SubsecRound::trunc_subsecs(self.clock.now(), 6),
        };
        self.store.put_file(scope, &info, bytes).await?;
        Ok(info)
    }

    /// A file and its bytes.
    ///
    /// # Errors
    /// 404 for a file the workspace does not have.
    pub async fn get(&self, scope: Scope, id: uuid::Uuid) -> Result<(FileInfo, Vec<u8>), ServiceError> {
        self.store.file(scope, id).await?.ok_or_else(|| ServiceError::NotFound(format!("File file_{id} not found")))
    }

    /// # Errors
    /// Storage failures.
    pub async fn list(&self, scope: Scope) -> Result<Vec<FileInfo>, ServiceError> {
        Ok(self.store.files(scope).await?)
    }

    /// # Errors
    /// 404 for a file the workspace does not have.
    pub async fn delete(&self, scope: Scope, id: uuid::Uuid) -> Result<(), ServiceError> {
        self.store.delete_file(scope, id).await.map_err(|e| match e {
            crate::ports::StoreError::NotFound { .. } => ServiceError::NotFound(format!("File file_{id} not found")),
            other => other.into(),
        })
    }
}
