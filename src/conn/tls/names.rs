//! `sslmode=verify-full`'s host name check, as libpq does it (fe-secure-common.c
//! `pq_verify_peer_name_matches_certificate*`, fe-secure-openssl.c `..._guts`), not as
//! browsers do: the host string given by the user (never `hostaddr`) is compared with the
//! certificate's dNSName and iPAddress subject alternative names in order, and with the
//! first common name only when no SAN of the host's own kind (DNS name or IP address) exists.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::x509::{CertInfo, San};

/// `Ok` when `host` matches `cert`; otherwise libpq's message.
pub(crate) fn check_host(host: &str, cert: &CertInfo) -> Result<(), String> {
    if host.is_empty() {
        return Err("host name must be specified for a verified SSL connection".into());
    }
    let host_is_ip = inet_aton(host).is_some() || host.parse::<Ipv6Addr>().is_ok();
    let mut examined = 0usize;
    let mut first_name: Option<String> = None;
    let mut check_cn = true;
    let mut matched = false;
    for san in &cert.sans {
        if matches!(san, San::Ip(_)) == host_is_ip {
            // A SAN of the host's own kind rules out the common name.
            check_cn = false;
        }
        examined += 1;
        let (is_match, shown) = match san {
            San::Dns(name) => (name_matches(name, host)?, String::from_utf8_lossy(name).into_owned()),
            San::Ip(addr) => ip_matches(addr, host)?,
        };
        first_name.get_or_insert(shown);
        if is_match {
            matched = true;
            check_cn = false;
            break;
        }
    }
    if check_cn && let Some(cn) = &cert.common_name {
        examined += 1;
        matched = name_matches(cn, host)?;
        first_name.get_or_insert_with(|| String::from_utf8_lossy(cn).into_owned());
    }
    if matched {
        return Ok(());
    }
    let first = first_name.unwrap_or_default();
    Err(match examined {
        0 => "could not get server's host name from server certificate".to_string(),
        1 => format!("server certificate for \"{first}\" does not match host name \"{host}\""),
        2 => format!("server certificate for \"{first}\" (and 1 other name) does not match host name \"{host}\""),
        n => format!(
            "server certificate for \"{first}\" (and {} other names) does not match host name \"{host}\"",
            n - 1
        ),
    })
}

/// Exact (case-insensitive) or single-label wildcard match; names with embedded NULs are
/// refused outright (CVE-2009-4034).
fn name_matches(name: &[u8], host: &str) -> Result<bool, String> {
    if name.contains(&0) {
        return Err("SSL certificate's name contains embedded null".into());
    }
    Ok(name.eq_ignore_ascii_case(host.as_bytes()) || wildcard_matches(name, host.as_bytes()))
}

/// `*.rest` matches `label.rest` where `label` is non-empty and has no dot; the `*` must be
/// the whole first label (libpq `wildcard_certificate_match`).
fn wildcard_matches(pattern: &[u8], host: &[u8]) -> bool {
    let Some(suffix) = pattern.strip_prefix(b"*") else {
        return false;
    };
    if !suffix.starts_with(b".") || pattern.len() < 3 || pattern.len() > host.len() {
        return false;
    }
    let split = host.len() - suffix.len();
    host[split..].eq_ignore_ascii_case(suffix) && !host[..split].contains(&b'.')
}

/// Compares an iPAddress SAN with the host, when the host is an address of the same family;
/// also returns the SAN in text for the message.
fn ip_matches(addr: &[u8], host: &str) -> Result<(bool, String), String> {
    match addr.len() {
        4 => {
            let cert = Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]);
            Ok((inet_aton(host) == Some(cert), cert.to_string()))
        }
        16 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(addr);
            let cert = Ipv6Addr::from(octets);
            Ok((
                host.parse::<Ipv6Addr>().ok() == Some(cert),
                IpAddr::V6(cert).to_string(),
            ))
        }
        n => Err(format!("certificate contains IP address with invalid length {n}")),
    }
}

/// IPv4 as the C library's `inet_aton` reads it: one to four parts, each decimal, octal
/// (leading 0) or hexadecimal (0x), the last part filling the remaining bytes. libpq uses it
/// on purpose, so `127.1` names 127.0.0.1.
pub(crate) fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for p in &parts {
        let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            (h, 16)
        } else if p.len() > 1 && p.starts_with('0') {
            (&p[1..], 8)
        } else {
            (*p, 10)
        };
        if (digits.is_empty() && radix != 16) || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        let v = if digits.is_empty() {
            0
        } else {
            u32::from_str_radix(digits, radix).ok()?
        };
        values.push(v);
    }
    let (last, init) = values.split_last()?;
    if init.iter().any(|v| *v > 0xff) {
        return None;
    }
    let last_bytes = 4 - init.len();
    if last_bytes < 4 && u64::from(*last) >= 1u64 << (8 * last_bytes) {
        return None;
    }
    let mut n: u32 = 0;
    for (i, v) in init.iter().enumerate() {
        n |= v << (8 * (3 - i));
    }
    Some(Ipv4Addr::from(n | last))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(sans: Vec<San>, cn: Option<&str>) -> CertInfo {
        CertInfo {
            sans,
            common_name: cn.map(|c| c.as_bytes().to_vec()),
            end_point_hash: None,
            not_before: 0,
            not_after: 0,
        }
    }

    fn dns(n: &str) -> San {
        San::Dns(n.as_bytes().to_vec())
    }

    fn ip(a: &str) -> San {
        match a.parse::<IpAddr>().unwrap() {
            IpAddr::V4(v) => San::Ip(v.octets().to_vec()),
            IpAddr::V6(v) => San::Ip(v.octets().to_vec()),
        }
    }

    #[test]
    fn dns_names_and_wildcards() {
        let c = info(vec![dns("db.example"), dns("*.pool.example")], None);
        assert!(check_host("db.example", &c).is_ok());
        assert!(check_host("DB.Example", &c).is_ok(), "case-insensitive");
        assert!(check_host("a.pool.example", &c).is_ok());
        assert_eq!(
            check_host("a.b.pool.example", &c).unwrap_err(),
            "server certificate for \"db.example\" (and 1 other name) does not match host name \"a.b.pool.example\""
        );
        assert!(check_host("pool.example", &c).is_err(), "* needs a label");
        assert!(check_host(".pool.example", &c).is_err());
        assert!(!wildcard_matches(b"a*.example", b"ab.example"));
        assert!(!wildcard_matches(b"*", b"x"));
    }

    #[test]
    fn common_name_only_without_san_of_the_same_kind() {
        // A dNSName SAN hides the CN from a DNS host.
        let c = info(vec![dns("other.example")], Some("db.example"));
        assert_eq!(
            check_host("db.example", &c).unwrap_err(),
            "server certificate for \"other.example\" does not match host name \"db.example\""
        );
        // No SAN: the CN is used.
        let c = info(vec![], Some("db.example"));
        assert!(check_host("db.example", &c).is_ok());
        // For an IP host, a dNSName SAN does not hide the CN (libpq's deliberate NSS-like rule).
        let c = info(vec![dns("db.example")], Some("10.0.0.5"));
        assert!(check_host("10.0.0.5", &c).is_ok());
        // ... but an iPAddress SAN does.
        let c = info(vec![ip("10.0.0.6")], Some("10.0.0.5"));
        assert_eq!(
            check_host("10.0.0.5", &c).unwrap_err(),
            "server certificate for \"10.0.0.6\" does not match host name \"10.0.0.5\""
        );
        // An iPAddress SAN does not hide the CN from a DNS host.
        let c = info(vec![ip("10.0.0.6")], Some("db.example"));
        assert!(check_host("db.example", &c).is_ok());
    }

    #[test]
    fn ip_addresses() {
        let c = info(vec![ip("127.0.0.1"), ip("::1")], None);
        assert!(check_host("127.0.0.1", &c).is_ok());
        assert!(check_host("127.1", &c).is_ok(), "inet_aton forms, as libpq");
        assert!(check_host("::1", &c).is_ok());
        assert!(check_host("0:0:0:0:0:0:0:1", &c).is_ok());
        assert_eq!(
            check_host("localhost", &c).unwrap_err(),
            "server certificate for \"127.0.0.1\" (and 1 other name) does not match host name \"localhost\""
        );
        // A dNSName equal to the address text matches too.
        assert!(check_host("10.1.1.1", &info(vec![dns("10.1.1.1")], None)).is_ok());
        assert_eq!(
            check_host("10.1.1.1", &info(vec![San::Ip(vec![1, 2, 3])], None)).unwrap_err(),
            "certificate contains IP address with invalid length 3"
        );
    }

    #[test]
    fn counts_and_errors() {
        let c = info(vec![dns("a"), dns("b"), ip("1.2.3.4")], None);
        assert_eq!(
            check_host("z", &c).unwrap_err(),
            "server certificate for \"a\" (and 2 other names) does not match host name \"z\""
        );
        assert_eq!(
            check_host("z", &info(vec![], None)).unwrap_err(),
            "could not get server's host name from server certificate"
        );
        assert_eq!(
            check_host("z", &info(vec![San::Dns(b"z\0.evil".to_vec())], None)).unwrap_err(),
            "SSL certificate's name contains embedded null"
        );
        assert_eq!(
            check_host("", &info(vec![], Some("x"))).unwrap_err(),
            "host name must be specified for a verified SSL connection"
        );
    }

    #[test]
    fn inet_aton_forms() {
        let a = |s: &str| inet_aton(s).map(|a| a.to_string());
        assert_eq!(a("127.0.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(a("127.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(a("10.1.258").as_deref(), Some("10.1.1.2"));
        assert_eq!(a("0x7f.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(a("017.0.0.1").as_deref(), Some("15.0.0.1"));
        assert_eq!(a("2130706433").as_deref(), Some("127.0.0.1"));
        for bad in [
            "",
            "a.b",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3.256",
            "08.1.1.1",
            "localhost",
            "1..2",
        ] {
            assert_eq!(inet_aton(bad), None, "{bad}");
        }
    }
}
