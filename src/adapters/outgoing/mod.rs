//! Outgoing HTTP: the clients every call to another server goes through, the SSRF guard on the
//! addresses a workflow author can choose, and the classification of upstream failures.

mod allow_list;
mod client;
pub mod failure;
mod forbidden;
mod guard;
mod resolver;
mod webhook;

pub use allow_list::{ALLOW_FORM, AllowList};
pub use client::{client, guarded_client, redirect_target, same_origin_guarded};
pub use forbidden::forbidden;
pub use guard::{AddressGuard, Refused, refusal};
pub use resolver::GuardedResolver;
pub use webhook::HttpWebhookSender;
