//! The bounds of what a lifecycle file may say (see "Limits and broken files" in
//! `docs/lifecycle-format.md`): every number read from a file is checked here before it
//! becomes a duration, a count, a size or a mode, so that no value can overflow, panic or make
//! the agent allocate without bound later.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use regex::RegexBuilder;

use crate::variable::{MAX_VALUE_BYTES, Pattern};

/// Largest lifecycle file, and largest template file (`source`), read from disk: 4 MiB. A
/// chain of 20 000 states, each logging a line as it is entered, takes 1.7 MB.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Longest timeout of a `run` step: 7 days.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// Shortest timeout of a `run` step: 1 ms.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// Most values one require holds: nargs times its number of variables. A listing shows that
/// many variables for it, a call starts with that many values.
pub const MAX_REQUIRE_VALUES: u64 = 10_000;

/// Largest magnitude of a variable's `min` and `max`: 2^53, the largest range in which every
/// integer is a float, so that bounds compare exactly with the values they bound.
pub const MAX_BOUND: f64 = 9_007_199_254_740_992.0;

/// Largest `min_length` and `max_length`: a longer value is refused whatever its rules say.
pub const MAX_LENGTH: u64 = MAX_VALUE_BYTES as u64;

/// Largest compiled form of one `pattern`, in bytes (the regex crate's default is 10 MiB).
/// Counted repetitions are numbers too: `\w{200}` goes over it.
pub const MAX_PATTERN_BYTES: usize = 256 * 1024;

/// A variable's `pattern`, anchored at the start as [`Pattern::new`] does, and compiled within
/// [`MAX_PATTERN_BYTES`].
pub(crate) fn pattern(source: &str, error: Option<String>) -> Result<Pattern, String> {
    let regex = RegexBuilder::new(&format!("^(?:{source})"))
        .size_limit(MAX_PATTERN_BYTES)
        .build()
        .map_err(|e| format!("pattern is not a valid regular expression: {e}"))?;
    Ok(Pattern {
        regex,
        source: source.to_owned(),
        error,
    })
}

/// Reads a file of at most [`MAX_FILE_BYTES`] as text. Only regular files are read: a FIFO
/// or a device (`/dev/zero`) is refused rather than waited on or read forever.
pub(crate) fn read_text(path: &Path) -> Result<String, String> {
    // Opened without blocking, so that a FIFO does not wait for a writer before it can be
    // told apart from a file.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large(meta.len()));
    }
    let mut text = String::new();
    // The file may grow while it is read: never read more than the cap and one byte.
    Read::take(&file, MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(text.len() as u64));
    }
    Ok(text)
}

fn too_large(size: u64) -> String {
    format!("file is too large: {size} bytes, at most {MAX_FILE_BYTES}")
}

/// The message of a timeout that is not one.
pub(crate) const TIMEOUT_FORMAT: &str =
    "timeout must be a number of seconds or a duration such as \"500ms\", \"90s\", \"5m\", \"1h\"";

/// A step's `timeout`: a number of seconds, or a string `"500ms"`, `"90s"`, `"5m"`, `"1h"`,
/// from [`MIN_TIMEOUT`] to [`MAX_TIMEOUT`].
pub(crate) fn timeout(v: &toml::Value) -> Result<Duration, String> {
    let secs = match v {
        toml::Value::Integer(i) => *i as f64,
        toml::Value::Float(f) => *f,
        toml::Value::String(s) => {
            let s = s.trim();
            let split = s
                .find(|c: char| !c.is_ascii_digit() && c != '.')
                .unwrap_or(s.len());
            let (num, unit) = s.split_at(split);
            let n: f64 = num.parse().map_err(|_| TIMEOUT_FORMAT.to_owned())?;
            match unit.trim() {
                "" | "s" => n,
                "ms" => n / 1000.0,
                "m" => n * 60.0,
                "h" => n * 3600.0,
                _ => return Err(TIMEOUT_FORMAT.into()),
            }
        }
        _ => return Err(TIMEOUT_FORMAT.into()),
    };
    // Compared as seconds before any conversion: `Duration::from_secs_f64` panics on values
    // it cannot hold, and a deadline far in the future overflows `Instant`.
    if !(MIN_TIMEOUT.as_secs_f64()..=MAX_TIMEOUT.as_secs_f64()).contains(&secs) {
        return Err(format!(
            "timeout must be from 1 ms to 7 days ({} seconds)",
            MAX_TIMEOUT.as_secs()
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A file's `mode`: octal digits (`"0644"`, `"0o755"`), at most `7777`.
pub(crate) fn mode(m: &str) -> Result<u32, String> {
    let digits = m.strip_prefix("0o").unwrap_or(m);
    let bad = || format!("mode '{m}' is not an octal permission such as \"0644\"");
    if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(bad());
    }
    // Leading zeros aside, more than four digits is above 7777 (and could overflow).
    let significant = digits.trim_start_matches('0');
    if significant.len() > 4 {
        return Err(bad());
    }
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(bad)
}

/// Refuses numbers that are not finite (`nan`, `inf`) anywhere in `v`: they have no JSON
/// form, compare with nothing, and are never what a file meant.
pub(crate) fn finite(v: &toml::Value) -> Result<(), String> {
    match v {
        toml::Value::Float(f) if !f.is_finite() => {
            Err(format!("{f} is not a number a lifecycle can use"))
        }
        toml::Value::Array(a) => a.iter().try_for_each(finite),
        toml::Value::Table(t) => t.values().try_for_each(finite),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_bounded_before_they_become_durations() {
        let ok = |v: toml::Value| timeout(&v).unwrap();
        assert_eq!(ok(toml::Value::Integer(90)), Duration::from_secs(90));
        assert_eq!(ok(toml::Value::Float(0.5)), Duration::from_millis(500));
        assert_eq!(ok("500ms".into()), Duration::from_millis(500));
        assert_eq!(ok("7 h".into()), Duration::from_secs(7 * 3600));
        assert_eq!(ok("168h".into()), MAX_TIMEOUT);
        for bad in [
            toml::Value::Float(1e300),
            toml::Value::Float(f64::INFINITY),
            toml::Value::Float(f64::NAN),
            toml::Value::Integer(i64::MAX),
            toml::Value::Integer(-1),
            toml::Value::Integer(0),
            toml::Value::Float(1e-9),
            format!("{}s", "9".repeat(400)).into(),
            "169h".into(),
            "0.0001ms".into(),
            "1e3s".into(),
            "s".into(),
            "".into(),
            "-5s".into(),
            toml::Value::Boolean(true),
        ] {
            assert!(timeout(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn modes_are_octal_digits_up_to_7777() {
        assert_eq!(mode("0644"), Ok(0o644));
        assert_eq!(mode("0o755"), Ok(0o755));
        assert_eq!(mode("000000000000000000000644"), Ok(0o644));
        assert_eq!(mode("7777"), Ok(0o7777));
        for bad in [
            "",
            "0o",
            "+644",
            "-644",
            "0o0o644",
            "10000",
            "99999999999999",
            "0x1f",
        ] {
            assert!(mode(bad).is_err(), "{bad}");
        }
    }
}
