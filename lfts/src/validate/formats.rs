//! The string formats behind `REFINE_EMAIL`, `REFINE_URL` and `REFINE_UUID`.
//!
//! Each is a small hand-written scanner: they run on every validated value, so they allocate
//! nothing and look at each byte once.

/// Whether `s` is an email address by the HTML living standard's "valid email address" rule
/// (what browsers check for `<input type=email>`): `local@domain`, where the local part is one
/// or more of `A-Za-z0-9.!#$%&'*+/=?^_`{|}~-` and the domain is one or more labels of
/// alphanumerics and inner hyphens (at most 63 bytes each), separated by dots.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&b))
        && is_hostname(domain)
}

/// Dot-separated labels of ASCII alphanumerics and inner hyphens, 1 to 63 bytes each.
fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

/// Whether `s` is an absolute `http` or `https` URL with a host: `scheme://host[:port][/…]`,
/// with no whitespace or control characters anywhere.
pub fn is_url(s: &str) -> bool {
    let rest = if let Some(r) = strip_prefix_ignore_case(s, "https://") {
        r
    } else if let Some(r) = strip_prefix_ignore_case(s, "http://") {
        r
    } else {
        return false;
    };
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    // Drop userinfo.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        match v6.split_once(']') {
            Some((addr, after)) => {
                if addr.is_empty()
                    || !addr
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
                {
                    return false;
                }
                (None, after.strip_prefix(':'))
            }
            None => return false,
        }
    } else {
        match host_port.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(host_port), None),
        }
    };
    if host.is_some_and(|h| !is_hostname(h)) {
        return false;
    }
    match port {
        None => true,
        Some(p) => {
            !p.is_empty()
                && p.len() <= 5
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u32>().is_ok_and(|n| n <= 65535)
        }
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Whether `s` is a UUID in the hyphenated form `8-4-4-4-12` hex digits (any version, either
/// case).
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b", "ada.lovelace+x@example.co.uk", "x_y@a-b.c"] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "", "@b", "a@", "a@b@c", "a b@c", "a@-b.c", "a@b-.c", "a@b..c", "ä@b.c",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn urls() {
        for ok in [
            "http://a",
            "https://example.com/x?y#z",
            "HTTP://a.b:8080",
            "https://u:p@h.io",
            "http://[::1]:80/",
        ] {
            assert!(is_url(ok), "{ok}");
        }
        for bad in [
            "",
            "ftp://a",
            "http://",
            "http:// a",
            "http://a:99999",
            "http://a:x",
            "http://[::1",
            "example.com",
        ] {
            assert!(!is_url(bad), "{bad}");
        }
    }

    #[test]
    fn uuids() {
        assert!(is_uuid("123e4567-e89b-12d3-a456-426614174000"));
        assert!(is_uuid("123E4567-E89B-12D3-A456-426614174000"));
        assert!(!is_uuid("123e4567e89b12d3a456426614174000"));
        assert!(!is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
    }
}
