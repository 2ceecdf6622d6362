//! Anonymous access to one workspace: for a single-user local setup, and only when configured.

use crate::domain::access::{Principal, Role, Subject};
use crate::domain::ids::WorkspaceId;
use crate::ports::{AuthError, Authenticator, Credentials};

/// Lets every request in as an anonymous admin of one workspace. Credentials are not accepted:
/// a server in this mode has no identities to check them against, and quietly ignoring a token
/// would let a client believe it was checked.
#[derive(Clone, Copy, Debug)]
pub struct OpenAccess {
    workspace: WorkspaceId,
}

impl OpenAccess {
    #[must_use]
    pub const fn new(workspace: WorkspaceId) -> Self {
        Self { workspace }
    }
}

impl Default for OpenAccess {
    fn default() -> Self {
        Self::new(WorkspaceId::DEFAULT)
    }
}

#[async_trait::async_trait]
impl Authenticator for OpenAccess {
    async fn authenticate<'a>(&self, credentials: Credentials<'a>) -> Result<Principal, AuthError> {
        if credentials.workspace.is_some_and(|w| w != self.workspace) {
            return Err(AuthError::NoAccess(
                "this server has one workspace and allows anonymous access to it only".into(),
            ));
        }
        Ok(Principal { subject: Subject::Anonymous, workspace: self.workspace, role: Role::Admin })
    }
}
