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
