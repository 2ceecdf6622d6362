//! Sealed secrets: set, replaced (keeping their creation time), listed by name and deleted, per
//! workspace.

use super::{Stores, WS, at};
use oxify_api::domain::access::Scope;
use oxify_api::domain::ids::WorkspaceId;
use oxify_api::ports::{SealedSecret, StoreError};

fn sealed(name: &str, bytes: &[u8], when: i64) -> SealedSecret {
    SealedSecret {
        name: name.into(),
        description: Some(format!("about {name}")),
        sealed: bytes.to_vec(),
        created_at: at(when),
        updated_at: at(when),
    }
}

pub async fn secrets_are_kept_per_workspace_and_replaced_in_place(s: Stores) {
    let b = Scope::new(WorkspaceId::generate());
    assert!(s.secrets.put_secret(WS, &sealed("TOKEN", &[0, 1, 2, 255], 1)).await.unwrap());
    assert!(s.secrets.put_secret(WS, &sealed("ALPHA", b"x", 2)).await.unwrap());
    assert!(s.secrets.put_secret(b, &sealed("TOKEN", b"other", 3)).await.unwrap(), "B's own, of the same name");
    assert!(!s.secrets.put_secret(WS, &sealed("TOKEN", &[9, 9], 5)).await.unwrap(), "a replacement");
    let got = s.secrets.secret(WS, "TOKEN").await.unwrap().unwrap();
    assert_eq!((got.sealed.as_slice(), got.created_at, got.updated_at), (&[9u8, 9][..], at(1), at(5)));
    assert_eq!(s.secrets.secret(b, "TOKEN").await.unwrap().unwrap().sealed, b"other");
    let names: Vec<String> = s.secrets.secrets(WS).await.unwrap().into_iter().map(|i| i.name).collect();
    assert_eq!(names, ["ALPHA", "TOKEN"]);
    assert_eq!(s.secrets.secrets(b).await.unwrap().len(), 1);
    assert!(s.secrets.secret(WS, "NOPE").await.unwrap().is_none());
    s.secrets.delete_secret(b, "TOKEN").await.unwrap();
    assert!(s.secrets.secret(WS, "TOKEN").await.unwrap().is_some(), "B's delete left A's alone");
    assert!(matches!(s.secrets.delete_secret(b, "TOKEN").await, Err(StoreError::NotFound { .. })));
    assert!(matches!(s.secrets.delete_secret(b, "ALPHA").await, Err(StoreError::NotFound { .. })));
}
