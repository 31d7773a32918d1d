//! Address rules shared by validation (IP literals in agent.yaml) and the function's
//! SSRF guard (every resolved address of every request and redirect).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address must not be reached by an `http` tool, or `None` when it may be.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            forbidden_v6(v6)
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if o == [169, 254, 169, 254] {
        Some("the instance metadata service")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if ip.is_unspecified() || o[0] == 0 {
        Some("an unspecified address")
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some("a carrier-grade NAT address")
    } else if ip.is_broadcast() || ip.is_multicast() || o[0] >= 240 {
        Some("a broadcast, multicast or reserved address")
    } else if o[0] == 198 && (o[1] == 18 || o[1] == 19) {
        Some("a benchmarking address")
    } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
        Some("an IETF protocol address")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let seg = ip.segments();
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        Some("the instance metadata service")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() {
        Some("an unspecified address")
    } else if (seg[0] & 0xfe00) == 0xfc00 {
        Some("a private (unique local) address")
    } else if (seg[0] & 0xffc0) == 0xfe80 {
        Some("a link-local address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if seg[0] == 0x64 && seg[1] == 0xff9b {
        // NAT64 can reach any IPv4 address, private ones included.
        Some("a NAT64 address")
    } else if ip.to_ipv4().is_some() {
        Some("an IPv4-compatible address")
    } else {
        None
    }
}

/// The host part of an `https://` URL (brackets removed from IPv6), or `None`.
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split_once(']').map(|(h, _)| h);
    }
    Some(host_port.split(':').next().unwrap_or(host_port))
}

/// Parses a host that is an IP literal, including the forms browsers and resolvers
/// also accept for IPv4 (decimal `2130706433`, hex `0x7f000001`, short `127.1`).
pub fn parse_ip_literal(host: &str) -> Option<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(ip);
    }
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let nums: Option<Vec<u64>> = parts.iter().map(|p| parse_num(p)).collect();
    let nums = nums?;
    let (last, init) = nums.split_last()?;
    let mut value: u64 = 0;
    for (i, n) in init.iter().enumerate() {
        if *n > 255 {
            return None;
        }
        value |= n << (24 - 8 * i);
    }
    let room = 32 - 8 * init.len() as u32;
    if room < 64 && *last >= (1u64 << room) {
        return None;
    }
    value |= last;
    u32::try_from(value)
        .ok()
        .map(|v| IpAddr::V4(Ipv4Addr::from(v)))
}

fn parse_num(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()
    } else if s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_addresses() {
        for bad in [
            "169.254.169.254",
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "fc00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(
                forbidden_reason(bad.parse().unwrap()).is_some(),
                "{bad} should be forbidden"
            );
        }
        for ok in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert_eq!(forbidden_reason(ok.parse().unwrap()), None, "{ok}");
        }
    }

    #[test]
    fn finds_hosts() {
        assert_eq!(
            url_host("https://crm.example.com/v2/x"),
            Some("crm.example.com")
        );
        assert_eq!(url_host("https://u:p@10.0.0.1:8443/x"), Some("10.0.0.1"));
        assert_eq!(url_host("https://[::1]:443/"), Some("::1"));
        assert_eq!(url_host("https://h?x=1"), Some("h"));
    }

    #[test]
    fn parses_odd_ipv4_forms() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(parse_ip_literal("2130706433"), Some(lo));
        assert_eq!(parse_ip_literal("0x7f000001"), Some(lo));
        assert_eq!(parse_ip_literal("127.1"), Some(lo));
        assert_eq!(parse_ip_literal("0177.0.0.1"), Some(lo));
        assert_eq!(parse_ip_literal("crm.example.com"), None);
        assert_eq!(parse_ip_literal("1.2.3.4.5"), None);
    }
}
