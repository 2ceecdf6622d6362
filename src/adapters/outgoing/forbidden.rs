//! The addresses a workflow author may not make the server reach unless the operator allows them:
//! every range that is not the public internet (loopback, private, link-local, shared/CGNAT,
//! cloud metadata, unique-local, multicast, reserved, documentation), including IPv6 forms that
//! carry an IPv4 address (mapped, compatible, translated, NAT64, 6to4), judged by the address
//! they carry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 ranges refused: (network, prefix length, what it is).
const V4: &[([u8; 4], u8, &str)] = &[
    ([0, 0, 0, 0], 8, "the unspecified \"this network\" range (0.0.0.0/8)"),
    ([10, 0, 0, 0], 8, "a private address (10.0.0.0/8)"),
    ([100, 64, 0, 0], 10, "a shared (CGNAT) address (100.64.0.0/10)"),
    ([127, 0, 0, 0], 8, "a loopback address (127.0.0.0/8)"),
    ([169, 254, 0, 0], 16, "a link-local address (169.254.0.0/16, where cloud metadata services answer)"),
    ([172, 16, 0, 0], 12, "a private address (172.16.0.0/12)"),
    ([192, 0, 0, 0], 24, "an IETF protocol address (192.0.0.0/24)"),
    ([192, 0, 2, 0], 24, "a documentation address (192.0.2.0/24)"),
    ([192, 88, 99, 0], 24, "a 6to4 relay address (192.88.99.0/24)"),
    ([192, 168, 0, 0], 16, "a private address (192.168.0.0/16)"),
    ([198, 18, 0, 0], 15, "a benchmarking address (198.18.0.0/15)"),
    ([198, 51, 100, 0], 24, "a documentation address (198.51.100.0/24)"),
    ([203, 0, 113, 0], 24, "a documentation address (203.0.113.0/24)"),
    ([224, 0, 0, 0], 4, "a multicast address (224.0.0.0/4)"),
    ([240, 0, 0, 0], 4, "a reserved or broadcast address (240.0.0.0/4)"),
    // Public by its range, but Azure's platform metadata and DNS service.
    ([168, 63, 129, 16], 32, "the Azure platform metadata address (168.63.129.16)"),
];

/// IPv6 ranges refused outright: (network, prefix length, what it is).
const V6: &[(u128, u8, &str)] = &[
    (0x0064_ff9b_0001_0000_0000_0000_0000_0000, 48, "a local-use NAT64 address (64:ff9b:1::/48)"),
    (0x0100_0000_0000_0000_0000_0000_0000_0000, 64, "a discard-only address (100::/64)"),
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32, "a documentation address (2001:db8::/32)"),
    (0x2001_0000_0000_0000_0000_0000_0000_0000, 23, "an IETF special-purpose address such as Teredo (2001::/23)"),
    (0x3fff_0000_0000_0000_0000_0000_0000_0000, 20, "a documentation address (3fff::/20)"),
    (0x5f00_0000_0000_0000_0000_0000_0000_0000, 16, "a segment-routing address (5f00::/16)"),
    (
        0xfc00_0000_0000_0000_0000_0000_0000_0000,
        7,
        "a unique-local address (fc00::/7, where AWS's IPv6 metadata answers)",
    ),
    (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10, "a link-local address (fe80::/10)"),
    (0xfec0_0000_0000_0000_0000_0000_0000_0000, 10, "a site-local address (fec0::/10)"),
    (0xff00_0000_0000_0000_0000_0000_0000_0000, 8, "a multicast address (ff00::/8)"),
];

/// IPv6 ranges whose last 32 bits are an IPv4 address reached through them:
/// (network, prefix length, form name).
const V6_CARRYING_V4: &[(u128, u8, &str)] = &[
    (0x0000_0000_0000_0000_0000_ffff_0000_0000, 96, "IPv4-mapped"),
    (0x0000_0000_0000_0000_ffff_0000_0000_0000, 96, "IPv4-translated"),
    (0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96, "NAT64"),
    // Last, as it also holds :: and ::1 (handled before).
    (0x0000_0000_0000_0000_0000_0000_0000_0000, 96, "IPv4-compatible"),
];

/// Why `ip` may not be reached by default; `None` for a public address.
#[must_use]
pub fn forbidden(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4).map(str::to_owned),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let bits = u32::from(ip);
    V4.iter()
        .find(|(net, prefix, _)| same_prefix(u128::from(bits), u128::from(u32::from_be_bytes(*net)), *prefix, 32))
        .map(|(_, _, what)| *what)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<String> {
    let bits = u128::from(ip);
    if ip.is_unspecified() {
        return Some("the unspecified address (::)".into());
    }
    if ip.is_loopback() {
        return Some("the IPv6 loopback address (::1)".into());
    }
    if let Some((_, _, form)) = V6_CARRYING_V4.iter().find(|(net, prefix, _)| same_prefix(bits, *net, *prefix, 128)) {
        // The low 32 bits, by construction of the ranges above.
        let carried = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
        return forbidden_v4(carried).map(|what| format!("an {form} form of {carried}, {what}"));
    }
    if bits >> 112 == 0x2002 {
        // 6to4: the IPv4 address of the relay-reached host sits in bits 16..48.
        let carried = Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32);
        return forbidden_v4(carried).map(|what| format!("a 6to4 form of {carried}, {what}"));
    }
    if let Some((_, _, what)) = V6.iter().find(|(net, prefix, _)| same_prefix(bits, *net, *prefix, 128)) {
        return Some((*what).to_owned());
    }
    // Everything outside global unicast is reserved.
    (bits >> 125 != 0b001).then(|| "a reserved address (outside the global unicast range 2000::/3)".to_owned())
}

/// Whether the first `prefix` bits of two `width`-bit numbers agree.
fn same_prefix(a: u128, b: u128, prefix: u8, width: u32) -> bool {
    let shift = width - u32::from(prefix);
    // A shift of 128 would overflow; a zero-length prefix matches everything.
    shift >= 128 || a >> shift == b >> shift
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> bool {
        forbidden(text.parse().unwrap()).is_some()
    }

    #[test]
    fn every_non_public_ipv4_range_is_refused_at_both_ends() {
        for (net, prefix, _) in V4 {
            let first = u32::from_be_bytes(*net);
            let last = first | (u32::MAX.checked_shr(u32::from(*prefix)).unwrap_or(0));
            for bits in [first, last] {
                let ip = Ipv4Addr::from(bits);
                assert!(forbidden(IpAddr::V4(ip)).is_some(), "{ip} in {net:?}/{prefix}");
            }
        }
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.0.192",
            "168.63.129.16",
        ] {
            assert!(refused(ip), "{ip}");
        }
    }

    #[test]
    fn public_ipv4_addresses_pass_including_the_neighbours_of_refused_ranges() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "172.15.255.255",
            "100.63.255.255",
            "100.128.0.0",
            "169.253.255.255",
            "11.0.0.1",
            "9.255.255.255",
            "168.63.129.17",
            "223.255.255.255",
        ] {
            assert!(!refused(ip), "{ip}: {:?}", forbidden(ip.parse().unwrap()));
        }
    }

    #[test]
    fn ipv6_special_ranges_are_refused() {
        for ip in [
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd00:ec2::254",
            "fec0::1",
            "ff02::1",
            "100::1",
            "2001:db8::1",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "3fff::1",
            "64:ff9b:1::1",
            "4000::1",
            "::2",
        ] {
            assert!(refused(ip), "{ip}");
        }
    }

    #[test]
    fn ipv6_forms_carrying_ipv4_are_judged_by_the_ipv4_address() {
        for ip in [
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::ffff:0:127.0.0.1",
            "64:ff9b::10.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "::ffff:0.0.0.0",
        ] {
            let why = forbidden(ip.parse().unwrap());
            assert!(why.is_some(), "{ip}");
        }
        assert!(
            forbidden("::ffff:127.0.0.1".parse().unwrap())
                .unwrap()
                .contains("IPv4-mapped form of 127.0.0.1, a loopback")
        );
        for ip in [
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
        ] {
            assert!(!refused(ip), "{ip}: {:?}", forbidden(ip.parse().unwrap()));
        }
    }
}
