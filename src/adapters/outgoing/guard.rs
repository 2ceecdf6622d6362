//! The SSRF guard: whether a workflow author may make the server reach an address. Every address
//! that is not public ([`super::forbidden`]) is refused unless the operator's allow list opens it.
//! The check is made on the address actually connected to: IP literals in a URL here, names in
//! [`super::GuardedResolver`] as they resolve (so a name cannot resolve to one address when
//! checked and another when connected to), and again for every redirect.

use super::allow_list::AllowList;
use super::forbidden::forbidden;
use reqwest::Url;
use std::net::IpAddr;

/// A refused destination: the error a guarded request fails with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{target} is {reason}; a workflow may not reach it (an operator can open it with OXIFY_HTTP_ALLOW)")]
pub struct Refused {
    /// The host (and the address it resolved to, when it is a name).
    pub target: String,
    pub reason: String,
}

/// Decides which destinations workflow authors may reach.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressGuard {
    allow: AllowList,
}

impl AddressGuard {
    #[must_use]
    pub fn new(allow: AllowList) -> Self {
        Self { allow }
    }

    #[must_use]
    pub fn allow_list(&self) -> &AllowList {
        &self.allow
    }

    /// Whether `ip`, reached as `host`, may be connected to.
    ///
    /// # Errors
    /// [`Refused`] for an address that is not public and not opened.
    pub fn check_ip(&self, ip: IpAddr, host: &str) -> Result<(), Refused> {
        if self.allow.permits_ip(ip) {
            return Ok(());
        }
        match forbidden(ip) {
            None => Ok(()),
            Some(reason) => {
                let bare = host.trim_start_matches('[').trim_end_matches(']');
                let target = if bare.parse::<IpAddr>().is_ok() { ip.to_string() } else { format!("{host} ({ip})") };
                Err(Refused { target, reason })
            }
        }
    }

    /// Whether a request to `url` may be sent: an http or https URL whose host, when an IP
    /// address, may be reached. A host name is checked as it resolves, by the guarded resolver.
    ///
    /// # Errors
    /// [`Refused`] for another scheme or an address that is not public and not opened.
    pub fn check_url(&self, url: &Url) -> Result<(), Refused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused { target: url.scheme().to_owned() + " URL", reason: "not http or https".into() });
        }
        let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
            return Err(Refused { target: url.to_string(), reason: "a URL without a host".into() });
        };
        // The URL parser has already turned every numeric spelling of an IPv4 address
        // (2130706433, 0x7f.1, 127.1) into dotted form; IPv6 hosts come in brackets.
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        match bare.parse::<IpAddr>() {
            Ok(ip) => self.check_ip(ip, host),
            Err(_) => Ok(()),
        }
    }

    /// Whether a host name is opened whatever it resolves to.
    #[must_use]
    pub fn permits_host(&self, host: &str) -> bool {
        self.allow.permits_host(host)
    }
}

/// The refusal behind a failed request, if the guard refused it.
#[must_use]
pub fn refusal(error: &reqwest::Error) -> Option<&Refused> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused);
        }
        source = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_are_checked_in_every_spelling_the_url_parser_accepts() {
        let guard = AddressGuard::default();
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "https://169.254.169.254/latest/meta-data/",
            "http://0.0.0.0:8080/",
            "http://[::]/",
            "http://[fd00:ec2::254]/",
        ] {
            let refused = guard.check_url(&Url::parse(url).unwrap());
            assert!(refused.is_err(), "{url}");
        }
        assert!(guard.check_url(&Url::parse("https://93.184.216.34/x").unwrap()).is_ok());
        assert!(
            guard.check_url(&Url::parse("https://example.com/").unwrap()).is_ok(),
            "names are checked as they resolve"
        );
        let scheme = guard.check_url(&Url::parse("file:///etc/passwd").unwrap()).unwrap_err();
        assert_eq!(scheme.to_string().split(';').next(), Some("file URL is not http or https"));
    }

    #[test]
    fn the_allow_list_opens_addresses_and_says_how_in_refusals() {
        let guard = AddressGuard::new(AllowList::parse("127.0.0.0/8").unwrap());
        assert!(guard.check_url(&Url::parse("http://127.0.0.1:9000/").unwrap()).is_ok());
        assert!(guard.check_url(&Url::parse("http://[::ffff:127.0.0.1]/").unwrap()).is_ok());
        let e = guard.check_url(&Url::parse("http://10.0.0.1/").unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "10.0.0.1 is a private address (10.0.0.0/8); a workflow may not reach it (an operator can open it with OXIFY_HTTP_ALLOW)"
        );
        let named = guard.check_ip("10.0.0.1".parse().unwrap(), "db.internal").unwrap_err();
        assert_eq!(named.target, "db.internal (10.0.0.1)");
    }
}
