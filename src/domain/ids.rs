//! Identifier newtypes: workflow and execution ids are UUIDs, node ids are UUIDs or readable slugs.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered (UUIDv7) id, so ids sort by creation time.
            #[must_use]
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// Identifies a workflow across all of its versions.
    WorkflowId
);
uuid_id!(
    /// Identifies one run of a workflow.
    ExecutionId
);
uuid_id!(
    /// Identifies a workspace: the tenant every workflow, execution and secret belongs to.
    WorkspaceId
);
uuid_id!(
    /// Identifies a user (a person who signs in).
    UserId
);
uuid_id!(
    /// Identifies an API key (a program's credential).
    ApiKeyId
);
uuid_id!(
    /// Identifies a request to a person: an approval or a form an Approval or Form node waits on.
    TaskId
);

impl WorkspaceId {
    /// The workspace that data written before workspaces existed belongs to, and that an
    /// anonymous caller acts in when anonymous access is allowed.
    pub const DEFAULT: Self = Self(Uuid::from_u128(1));
}

/// A node id: a UUID (as the seed writes them) or a short readable slug such as `fetch_docs`,
/// so that templates can say `{{ nodes.fetch_docs.output }}`.
///
/// Shared, not copied: cloning one (into every event and result of a run) costs a reference
/// count. Any string deserializes; [`NodeId::problem`] says whether it is well formed, so that
/// validation can report every bad id at once instead of failing on the first.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(
    value_type = String,
    example = "fetch_docs",
    pattern = r"^([A-Za-z_][A-Za-z0-9_-]{0,63}|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|[0-9A-Fa-f]{32})$"
)]
pub struct NodeId(std::sync::Arc<str>);

/// Longest slug a node id may be.
pub const MAX_NODE_ID_LEN: usize = 64;

impl NodeId {
    #[must_use]
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into().into())
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Why this id is not acceptable, or `None` when it is a UUID (hyphenated or 32 hex digits)
    /// or a slug (`[A-Za-z_][A-Za-z0-9_-]*`, at most 64 characters): exactly the pattern the
    /// OpenAPI document gives.
    #[must_use]
    pub fn problem(&self) -> Option<String> {
        let s = &*self.0;
        if matches!(s.len(), 32 | 36) && Uuid::parse_str(s).is_ok() {
            return None;
        }
        if s.is_empty() {
            return Some("node id is empty".into());
        }
        if s.len() > MAX_NODE_ID_LEN {
            return Some(format!("node id is longer than {MAX_NODE_ID_LEN} characters"));
        }
        let mut chars = s.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if first_ok && rest_ok {
            None
        } else {
            Some(format!(
                "node id '{s}' must be a UUID or a slug of letters, digits, '_' and '-' starting with a letter or '_'"
            ))
        }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for NodeId {
    fn from(s: &str) -> Self {
        Self(s.into())
    }
}

impl std::borrow::Borrow<str> for NodeId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_and_slug_node_ids_are_well_formed() {
        assert_eq!(NodeId::from("afcf8148-4155-4e64-9eca-a80e3c0c06c1").problem(), None);
        assert_eq!(NodeId::from("fetch_docs").problem(), None);
        assert_eq!(NodeId::from("_step-2").problem(), None);
    }

    #[test]
    fn empty_spaced_long_or_digit_first_node_ids_are_rejected() {
        assert!(NodeId::from("").problem().is_some());
        assert!(NodeId::from("fetch docs").problem().is_some());
        assert!(NodeId::from("2fast").problem().is_some());
        assert!(NodeId::from("a".repeat(65).as_str()).problem().is_some());
    }

    #[test]
    fn generated_ids_sort_by_creation() {
        let a = ExecutionId::generate();
        let b = ExecutionId::generate();
        assert!(a < b);
    }
}
