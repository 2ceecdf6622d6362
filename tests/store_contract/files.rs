//! Uploaded files: kept with their bytes exactly, listed newest first, per workspace (another
//! workspace's file does not exist for it, and its id stays taken).

use super::backends::reopen;
use super::{Stores, WS, at};
use oxify_api::domain::access::Scope;
use oxify_api::domain::files::FileInfo;
use oxify_api::domain::ids::WorkspaceId;
use oxify_api::ports::StoreError;

fn info(seconds: i64, name: &str, size: usize) -> FileInfo {
    FileInfo {
        id: uuid::Uuid::now_v7(),
        name: name.into(),
        content_type: "image/png".into(),
        size: size as u64,
        created_at: at(seconds),
    }
}

pub async fn files_are_kept_exactly_and_per_workspace(s: Stores) {
    let b = Scope::new(WorkspaceId::generate());
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let old = info(1, "old.png", bytes.len());
    let new = info(2, "naïve 日本.png", 3);
    s.files.put_file(WS, &old, &bytes).await.unwrap();
    s.files.put_file(WS, &new, b"\0\x01\xff").await.unwrap();
    let taken = s.files.put_file(b, &old, b"other").await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "an id stays its workspace's: {taken:?}");
    let s = reopen(s).await;
    let (got, got_bytes) = s.files.file(WS, old.id).await.unwrap().unwrap();
    assert_eq!((got, got_bytes), (old.clone(), bytes));
    assert_eq!(s.files.file(WS, new.id).await.unwrap().unwrap().1, b"\0\x01\xff");
    let listed: Vec<String> = s.files.files(WS).await.unwrap().into_iter().map(|f| f.name).collect();
    assert_eq!(listed, ["naïve 日本.png", "old.png"], "newest first");
    assert!(s.files.file(b, old.id).await.unwrap().is_none(), "B does not see A's file");
    assert!(s.files.files(b).await.unwrap().is_empty());
    assert!(matches!(s.files.delete_file(b, old.id).await, Err(StoreError::NotFound { .. })));
    s.files.delete_file(WS, old.id).await.unwrap();
    assert!(s.files.file(WS, old.id).await.unwrap().is_none());
    assert!(matches!(s.files.delete_file(WS, old.id).await, Err(StoreError::NotFound { .. })));
}
