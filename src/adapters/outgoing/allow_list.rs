//! `OXIFY_HTTP_ALLOW`: the hosts and ranges an operator opens to workflow authors although they
//! are not on the public internet (an internal API, a model server on the LAN, loopback in tests).

use ipnet::IpNet;
use std::net::IpAddr;

/// What `OXIFY_HTTP_ALLOW` entries look like, for error messages.
pub const ALLOW_FORM: &str = "comma-separated host names (api.internal, *.corp.example), IP addresses (10.0.0.5, ::1) or CIDR ranges (10.0.0.0/8, fd00::/8), without scheme or port";

/// Hosts and address ranges reachable although not public.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowList {
    /// Lower case, without a trailing dot; `*.example.com` allows every name below example.com.
    hosts: Vec<String>,
    nets: Vec<IpNet>,
}

impl AllowList {
    /// Parses `OXIFY_HTTP_ALLOW`: entries separated by commas (blanks ignored).
    ///
    /// # Errors
    /// The first entry that is not a host name, an IP address or a CIDR range, named.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut list = Self::default();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = |why: &str| format!("'{entry}' {why}; expected {ALLOW_FORM}");
            if entry.contains("://") {
                return Err(bad("has a scheme or port"));
            }
            if entry.contains('/') {
                list.nets.push(canonical(entry.parse::<IpNet>().map_err(|_| bad("is not a CIDR range"))?));
                continue;
            }
            let bare = entry.strip_prefix('[').and_then(|e| e.strip_suffix(']')).unwrap_or(entry);
            if let Ok(ip) = bare.parse::<IpAddr>() {
                list.nets.push(canonical(IpNet::from(ip)));
                continue;
            }
            if entry.contains(':') {
                return Err(bad("has a scheme or port"));
            }
            let name = entry.trim_end_matches('.').to_ascii_lowercase();
            let labels = name.strip_prefix("*.").unwrap_or(&name);
            let valid = !labels.is_empty()
                && labels.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                });
            if !valid {
                return Err(bad("is not a host name"));
            }
            list.hosts.push(name);
        }
        Ok(list)
    }

    /// Opens `net` too (tests and embedders).
    #[must_use]
    pub fn with_net(mut self, net: IpNet) -> Self {
        self.nets.push(net);
        self
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty() && self.nets.is_empty()
    }

    /// Whether this host name was opened (whatever addresses it resolves to).
    #[must_use]
    pub fn permits_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.iter().any(|allowed| match allowed.strip_prefix("*.") {
            Some(parent) => {
                host.len() > parent.len() + 1
                    && host.ends_with(parent)
                    && host[..host.len() - parent.len()].ends_with('.')
            }
            None => *allowed == host,
        })
    }

    /// Whether this address lies in an opened range; an IPv4-mapped IPv6 address counts as the
    /// IPv4 address it carries.
    #[must_use]
    pub fn permits_ip(&self, ip: IpAddr) -> bool {
        let canonical = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip) || net.contains(&canonical))
    }
}

/// A range of IPv4-mapped IPv6 addresses as the IPv4 range it is, so it matches however the
/// address is written; other ranges as they are, host bits cleared.
fn canonical(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net
        && v6.prefix_len() >= 96
        && let Some(v4) = v6.network().to_ipv4_mapped()
        && let Ok(mapped) = ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(mapped.trunc());
    }
    net.trunc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_addresses_and_ranges_are_read() {
        let list =
            AllowList::parse(" api.internal , *.corp.example,10.0.0.0/8, ::1, [fd00::5], 192.168.1.7 ,").unwrap();
        assert!(list.permits_host("API.internal."));
        assert!(list.permits_host("a.b.corp.example"));
        assert!(!list.permits_host("corp.example"));
        assert!(!list.permits_host("evilcorp.example"));
        assert!(!list.permits_host("api.internal.evil.com"));
        assert!(list.permits_ip("10.200.0.1".parse().unwrap()));
        assert!(list.permits_ip("::ffff:10.0.0.1".parse().unwrap()), "a mapped address is its IPv4 address");
        let mapped = AllowList::parse("::ffff:127.0.0.1, ::ffff:192.168.0.0/112").unwrap();
        assert!(mapped.permits_ip("127.0.0.1".parse().unwrap()), "an entry written mapped is its IPv4 address");
        assert!(mapped.permits_ip("192.168.3.4".parse().unwrap()));
        assert!(!mapped.permits_ip("192.169.0.1".parse().unwrap()));
        assert!(list.permits_ip("::1".parse().unwrap()));
        assert!(list.permits_ip("fd00::5".parse().unwrap()));
        assert!(list.permits_ip("192.168.1.7".parse().unwrap()));
        assert!(!list.permits_ip("192.168.1.8".parse().unwrap()));
        assert!(!list.permits_ip("127.0.0.1".parse().unwrap()));
        assert!(AllowList::parse("").unwrap().is_empty());
    }

    #[test]
    fn malformed_entries_are_named() {
        for (entry, why) in [
            ("10.0.0.0/33", "is not a CIDR range"),
            ("http://api.internal", "has a scheme or port"),
            ("api.internal:8080", "has a scheme or port"),
            ("bad host", "is not a host name"),
            ("*.", "is not a host name"),
        ] {
            let e = AllowList::parse(&format!("ok.example,{entry}")).unwrap_err();
            assert!(e.starts_with(&format!("'{entry}' {why}")), "{e}");
        }
    }
}
