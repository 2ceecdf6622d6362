//! The address a request comes from: the socket's peer, unless that peer is a proxy named in
//! `OXIFY_TRUSTED_PROXIES`; then the right-most `X-Forwarded-For` entry that is not one of the
//! trusted proxies (entries further left were written by the client and may be anything). A
//! client talking to the server directly cannot choose its address by sending the header.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

const FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address; `None` when the request did not come through a socket (tests that call
/// the router directly).
#[must_use]
pub fn client_address(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    // Entries in the order the hops appended them: several headers are one list (RFC 7239 4).
    let entries: Vec<&str> = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut nearest = peer;
    for entry in entries.iter().rev() {
        let Some(ip) = parse(entry) else {
            // Garbage where an address belongs: the hop that wrote it is the last one known.
            return Some(nearest);
        };
        if !is_trusted(&ip) {
            return Some(ip);
        }
        nearest = ip;
    }
    // Every hop is a trusted proxy: the left-most is as close to the client as is known.
    Some(nearest)
}

/// An entry as proxies write them: `203.0.113.7`, `2001:db8::1`, `203.0.113.7:4711` or
/// `[2001:db8::1]:4711`.
fn parse(entry: &str) -> Option<IpAddr> {
    entry.parse::<IpAddr>().ok().or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// `OXIFY_TRUSTED_PROXIES`: addresses and networks, `10.0.0.1, 10.1.0.0/16, ::1`.
///
/// # Errors
/// The entry that is neither, and the form expected.
pub fn trusted_proxies(list: &[String]) -> Result<Vec<IpNet>, String> {
    list.iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>().or_else(|_| s.parse::<IpAddr>().map(IpNet::from)).map_err(|_| {
                format!("OXIFY_TRUSTED_PROXIES (--trusted-proxies): '{s}' is not an IP address or network; expected addresses or CIDR networks such as 10.0.0.1 or 10.1.0.0/16, comma separated")
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(FORWARDED_FOR, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_direct_client_cannot_pick_its_address() {
        let trusted = trusted_proxies(&["10.0.0.0/8".into()]).unwrap();
        let spoofed = headers(&["1.2.3.4"]);
        assert_eq!(client_address(Some(ip("203.0.113.9")), &spoofed, &trusted), Some(ip("203.0.113.9")));
        assert_eq!(client_address(Some(ip("203.0.113.9")), &spoofed, &[]), Some(ip("203.0.113.9")));
        assert_eq!(client_address(None, &spoofed, &trusted), None);
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_entry_is_the_client() {
        let trusted = trusted_proxies(&["10.0.0.0/8".into(), "192.168.1.5".into()]).unwrap();
        let proxy = Some(ip("10.0.0.2"));
        // The client claims 1.2.3.4; the proxy appended the address it saw.
        assert_eq!(client_address(proxy, &headers(&["1.2.3.4, 203.0.113.9"]), &trusted), Some(ip("203.0.113.9")));
        assert_eq!(
            client_address(proxy, &headers(&["1.2.3.4", "203.0.113.9, 192.168.1.5, 10.0.0.7"]), &trusted),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(client_address(proxy, &headers(&["[2001:db8::1]:4711"]), &trusted), Some(ip("2001:db8::1")));
        assert_eq!(client_address(proxy, &headers(&["10.0.0.9"]), &trusted), Some(ip("10.0.0.9")));
        assert_eq!(client_address(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(client_address(proxy, &headers(&["bogus, 10.0.0.9"]), &trusted), Some(ip("10.0.0.9")));
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        assert_eq!(trusted_proxies(&["::1".into(), " ".into()]).unwrap(), vec!["::1/128".parse::<IpNet>().unwrap()]);
        assert!(trusted_proxies(&["proxy.local".into()]).unwrap_err().starts_with("OXIFY_TRUSTED_PROXIES"));
    }
}
