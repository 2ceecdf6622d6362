//! Identities: users and their email addresses and passwords, workspaces and memberships, API
//! keys. Pure rules only (what a well-formed address, password, name or key is); storing and
//! checking them is for the ports and adapters.

pub mod api_key;
pub mod email;
pub mod names;
pub mod password;
pub mod records;

pub use api_key::{ApiKeySecret, KeyHash};
pub use email::Email;
pub use records::{ApiKeyRecord, KeyRefusal, Member, Membership, User, UserWithPassword, Workspace};

/// Who may create an account (`OXIFY_REGISTRATION`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    /// Anyone who reaches the server: a new user gets a workspace of their own, as its Admin.
    /// Every such user can run workflows on the server's LLM provider keys.
    #[default]
    Open,
    /// Only Admins register users (who then belong to no workspace until an Admin adds them);
    /// single sign-on users are created without a workspace too.
    Closed,
}

/// The name of the workspace a new user gets under open registration.
#[must_use]
pub fn personal_workspace_name(user: &User) -> String {
    let who = user.name.as_deref().or(user.email.as_ref().map(Email::as_str)).unwrap_or("a new user");
    let name = format!("{who}'s workspace");
    name.chars().take(names::MAX_WORKSPACE_NAME).collect()
}
