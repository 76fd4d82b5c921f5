//! Names that become file names or address steps: locations and lifecycles.
//!
//! A name is an identifier: letters, digits, `_`, `.` and `-`, starting with a letter or a
//! digit. So it can never be `.`, `..`, empty, or hold a `/`, and a file named after it stays
//! in its directory.

/// Longest name accepted.
pub const MAX_NAME: usize = 128;

/// Checks that `name` is an identifier; the error says what is wrong.
pub fn check(name: &str) -> Result<(), String> {
    let Some(first) = name.chars().next() else {
        return Err("a name cannot be empty".into());
    };
    if !first.is_ascii_alphanumeric() {
        return Err(format!("'{name}' must start with a letter or a digit"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "'{name}' may only use letters, digits, '_', '.' and '-' (not '{c}')"
        ));
    }
    if name.len() > MAX_NAME {
        return Err(format!("'{name}' is longer than {MAX_NAME} characters"));
    }
    Ok(())
}

/// Checks that `host` is an IP address or a host name (RFC 1123 labels of letters, digits
/// and `-`, dot-separated, 253 characters at most).
pub fn check_host(host: &str) -> Result<(), String> {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let bad = || format!("'{host}' is neither an IP address nor a host name");
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.is_empty() || name.len() > 253 {
        return Err(bad());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if name.split('.').all(label_ok) && !name.chars().all(|c| c.is_ascii_digit() || c == '.') {
        Ok(())
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_cannot_lead_out_of_a_directory() {
        for ok in ["web1", "vm", "a.b-c_d", "1host"] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for bad in [
            "", ".", "..", "a/b", "../x", "-x", "_x", ".hidden", "a b", "é",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts_are_ip_addresses_or_host_names() {
        for ok in [
            "localhost",
            "10.0.0.1",
            "::1",
            "web-1.example.org",
            "example.org.",
        ] {
            assert_eq!(check_host(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "a..b",
            "-a",
            "a_b",
            "http://x",
            "1.2.3.400",
            "x y",
            "a/b",
        ] {
            assert!(check_host(bad).is_err(), "{bad}");
        }
    }
}
