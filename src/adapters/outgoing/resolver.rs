//! Name resolution for guarded clients: a name resolves only to the addresses the guard lets a
//! workflow reach, and those are the addresses the client connects to, so a name that answers a
//! public address to a check and a private one to the connection (DNS rebinding) gains nothing.

use super::guard::{AddressGuard, Refused};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;
use std::sync::Arc;

/// Resolves through the system resolver, keeping only addresses the guard permits.
#[derive(Clone, Debug)]
pub struct GuardedResolver {
    guard: Arc<AddressGuard>,
}

impl GuardedResolver {
    #[must_use]
    pub fn new(guard: Arc<AddressGuard>) -> Self {
        Self { guard }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.guard.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: the client puts the URL's port in.
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(Box::new(permitted(&guard, &host, found)?.into_iter()) as Addrs)
        })
    }
}

/// The addresses of `host` that may be connected to; an error when none may.
fn permitted(guard: &AddressGuard, host: &str, found: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, Refused> {
    if guard.permits_host(host) {
        return Ok(found);
    }
    let mut first_refusal = None;
    let kept: Vec<SocketAddr> = found
        .into_iter()
        .filter(|addr| match guard.check_ip(addr.ip(), host) {
            Ok(()) => true,
            Err(refused) => {
                first_refusal.get_or_insert(refused);
                false
            }
        })
        .collect();
    match first_refusal {
        Some(refused) if kept.is_empty() => Err(refused),
        _ => Ok(kept),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::outgoing::AllowList;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|ip| SocketAddr::new(ip.parse().unwrap(), 0)).collect()
    }

    #[test]
    fn private_answers_are_dropped_and_a_name_with_only_private_answers_is_refused() {
        let guard = AddressGuard::default();
        let mixed = permitted(&guard, "mixed.example", addrs(&["10.0.0.1", "93.184.216.34", "::1"])).unwrap();
        assert_eq!(mixed, addrs(&["93.184.216.34"]));
        let e = permitted(&guard, "rebind.example", addrs(&["127.0.0.1", "::1"])).unwrap_err();
        assert_eq!(e.target, "rebind.example (127.0.0.1)");
    }

    #[test]
    fn an_opened_name_keeps_every_answer() {
        let guard = AddressGuard::new(AllowList::parse("db.internal").unwrap());
        assert_eq!(permitted(&guard, "DB.internal", addrs(&["10.0.0.1"])).unwrap(), addrs(&["10.0.0.1"]));
    }

    #[tokio::test]
    async fn localhost_resolves_to_nothing_a_workflow_may_reach() {
        let resolver = GuardedResolver::new(Arc::new(AddressGuard::default()));
        let error = match resolver.resolve("localhost".parse().unwrap()).await {
            Ok(addrs) => panic!("localhost resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        let refused = error.downcast_ref::<Refused>().expect("a refusal");
        assert!(refused.target.starts_with("localhost ("), "{refused}");
    }
}
