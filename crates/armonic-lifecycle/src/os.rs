//! Operating system types: which states apply on which systems.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An operating system, as detected on a location or required by a state.
///
/// A state supports an OS when one of its entries has the same name (`all` matches every OS)
/// and either side has no release or the releases are equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsType {
    /// Distribution identifier, lower case (`debian`, `ubuntu`, `fedora`), or `all`.
    pub name: String,
    /// Release (`12`), if it matters.
    pub release: Option<String>,
}

impl OsType {
    /// The OS type matching every system.
    pub fn all() -> OsType {
        OsType {
            name: "all".into(),
            release: None,
        }
    }

    /// Parses `name` or `name:release`.
    ///
    /// The original's short names are understood: `any` is `all`, `mbs` is Mandriva Business
    /// Server.
    pub fn parse(s: &str) -> OsType {
        let (name, release) = match s.split_once(':') {
            Some((n, r)) => (n, Some(r.trim().to_owned())),
            None => (s, None),
        };
        let name = match name.trim().to_lowercase().as_str() {
            "any" => "all".to_owned(),
            "mbs" => "mandriva business server".to_owned(),
            other => other.to_owned(),
        };
        OsType { name, release }
    }

    /// Whether a state constrained to `self` may be used on `system`.
    pub fn supports(&self, system: &OsType) -> bool {
        if self.name == "all" || system.name == "all" {
            return true;
        }
        self.name == system.name
            && match (&self.release, &system.release) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }

    /// Reads `/etc/os-release` (`ID`, `VERSION_ID`); `unknown` when it cannot be read.
    pub fn detect() -> OsType {
        let text = std::fs::read_to_string("/etc/os-release")
            .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
            .unwrap_or_default();
        Self::from_os_release(&text)
    }

    /// Parses the content of an `os-release` file.
    pub fn from_os_release(text: &str) -> OsType {
        let field = |key: &str| {
            text.lines()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        };
        OsType {
            name: field("ID")
                .map(|s| s.to_lowercase())
                .unwrap_or_else(|| "unknown".into()),
            release: field("VERSION_ID"),
        }
    }
}

impl fmt::Display for OsType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.release {
            Some(r) => write!(f, "{}:{}", self.name, r),
            None => f.write_str(&self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_supports_everything_and_release_is_optional() {
        let debian12 = OsType::parse("debian:12");
        assert!(OsType::all().supports(&debian12));
        assert!(OsType::parse("debian").supports(&debian12));
        assert!(!OsType::parse("debian:11").supports(&debian12));
        assert!(!OsType::parse("fedora").supports(&debian12));
    }

    #[test]
    fn the_original_short_names_are_understood() {
        assert_eq!(OsType::parse("any"), OsType::all());
        let mbs = OsType::parse("mbs");
        assert!(OsType::parse("Mandriva Business Server").supports(&mbs));
        assert!(!mbs.supports(&OsType::parse("debian")));
    }

    #[test]
    fn os_release_is_parsed() {
        let os =
            OsType::from_os_release("NAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID=\"12\"\n");
        assert_eq!(os, OsType::parse("debian:12"));
        assert_eq!(OsType::from_os_release("").name, "unknown");
    }
}
