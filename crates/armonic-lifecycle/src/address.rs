//! Addresses of resources: the XPath-like subset armonic speaks.
//!
//! The resource tree is `location / lifecycle / state / provide / require / variable`.
//! Supported syntax (see `docs/addresses.md`):
//!
//! - absolute: `/web1/WebServer/Active/start`, `/*/WebServer/Active/start`
//! - descendant: `//WebServer//start`, `//start`, `//WebServer//port`
//! - relative to the location: `WebServer/Active/start`, `WebServer//port`
//! - `*` for any name, and a predicate on the resource kind:
//!   `//*[@ressource='provide']` (the original spelling) or `//*[@resource="provide"]`.
//!
//! ```
//! use armonic_lifecycle::Address;
//! let a = Address::parse("//WebServer//start").unwrap();
//! assert!(a.matches(&["web1", "WebServer", "Active", "start"]));
//! assert!(!a.matches(&["web1", "WebSite", "Active", "start"]));
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The kind of a resource, given by its depth in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An agent (depth 0).
    Location,
    /// A lifecycle.
    Lifecycle,
    /// A state.
    State,
    /// A provide (`enter` or custom).
    Provide,
    /// A require.
    Require,
    /// A variable.
    Variable,
}

impl Kind {
    /// The kind of resources at `depth` (0 = location).
    pub fn from_depth(depth: usize) -> Option<Kind> {
        [
            Kind::Location,
            Kind::Lifecycle,
            Kind::State,
            Kind::Provide,
            Kind::Require,
            Kind::Variable,
        ]
        .get(depth)
        .copied()
    }

    /// Depth in the tree.
    pub fn depth(self) -> usize {
        self as usize
    }

    /// Parses `location`, `lifecycle`, `state`, `provide`, `require` or `variable`.
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "location" => Kind::Location,
            "lifecycle" => Kind::Lifecycle,
            "state" => Kind::State,
            "provide" => Kind::Provide,
            "require" => Kind::Require,
            "variable" => Kind::Variable,
            _ => return None,
        })
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Location => "location",
            Kind::Lifecycle => "lifecycle",
            Kind::State => "state",
            Kind::Provide => "provide",
            Kind::Require => "require",
            Kind::Variable => "variable",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an address could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("address '{address}' is not valid: {reason}")]
pub struct AddressError {
    /// The address as given.
    pub address: String,
    /// What is wrong.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    descendant: bool,
    name: Option<String>,
    kind: Option<Kind>,
}

/// A parsed address, matching zero, one or many resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    text: String,
    absolute: bool,
    steps: Vec<Step>,
}

impl Address {
    /// Parses an address.
    pub fn parse(text: &str) -> Result<Address, AddressError> {
        let err = |reason: &str| AddressError {
            address: text.to_owned(),
            reason: reason.to_owned(),
        };
        // Spaces around an address are a typo (`"//conf/port "`): trimming them would let two
        // spellings of one address pass as different keys of the same submission.
        let s = text;
        if s.trim().is_empty() {
            return Err(err("it is empty"));
        }
        if s.trim() != s {
            return Err(err("it has spaces around it"));
        }
        let bytes = s.as_bytes();
        let absolute = bytes[0] == b'/';
        let mut steps = Vec::new();
        let mut i = 0;
        let mut first = true;
        while i < bytes.len() {
            let mut slashes = 0;
            while i < bytes.len() && bytes[i] == b'/' {
                slashes += 1;
                i += 1;
            }
            if slashes > 2 {
                return Err(err("three slashes in a row"));
            }
            if !first && slashes == 0 {
                return Err(err("steps must be separated by '/'"));
            }
            if i >= bytes.len() {
                return Err(err(if steps.is_empty() {
                    "it has no step"
                } else {
                    "it ends with '/'"
                }));
            }
            let start = i;
            let mut depth = 0;
            while i < bytes.len() && (depth > 0 || bytes[i] != b'/') {
                match bytes[i] {
                    b'[' => depth += 1,
                    b']' => depth -= 1,
                    _ => {}
                }
                i += 1;
            }
            steps.push(parse_step(&s[start..i], slashes == 2).map_err(|r| err(&r))?);
            first = false;
        }
        Ok(Address {
            text: s.to_owned(),
            absolute,
            steps,
        })
    }

    /// The address as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the resource whose names from the location down are `path` is selected.
    pub fn matches<S: AsRef<str>>(&self, path: &[S]) -> bool {
        if path.is_empty() || path.len() > 6 {
            return false;
        }
        let start: isize = if self.absolute { -1 } else { 0 };
        self.match_from(0, start, path)
    }

    fn match_from<S: AsRef<str>>(&self, si: usize, ctx: isize, path: &[S]) -> bool {
        let last = path.len() as isize - 1;
        let Some(step) = self.steps.get(si) else {
            return ctx == last;
        };
        let candidates = if step.descendant {
            (ctx + 1)..=last
        } else {
            (ctx + 1)..=(ctx + 1).min(last)
        };
        candidates.into_iter().any(|k| {
            let k_us = k as usize;
            let name_ok = step
                .name
                .as_deref()
                .is_none_or(|n| n == path[k_us].as_ref());
            let kind_ok = step.kind.is_none_or(|kind| kind.depth() == k_us);
            name_ok && kind_ok && self.match_from(si + 1, k, path)
        })
    }

    /// The names the address spells out (not `*`): every resource it matches has each of
    /// them on its path, which lets callers skip whole subtrees.
    pub fn literals(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().filter_map(|s| s.name.as_deref())
    }

    /// The location an absolute address names by its first step (`/web1/…`), if it names
    /// one (`/*/…` and `//…` do not).
    pub fn location(&self) -> Option<&str> {
        let first = self.steps.first()?;
        if !self.absolute || first.descendant {
            return None;
        }
        first.name.as_deref()
    }

    /// True for `/…` addresses, which name the location first.
    pub fn is_absolute(&self) -> bool {
        self.absolute
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Something that names resources: an address's text, parsed when used, or an [`Address`]
/// already parsed (which is then used as it is).
pub trait ToAddress {
    /// The address.
    fn to_address(&self) -> Result<std::borrow::Cow<'_, Address>, AddressError>;
}

impl ToAddress for Address {
    fn to_address(&self) -> Result<std::borrow::Cow<'_, Address>, AddressError> {
        Ok(std::borrow::Cow::Borrowed(self))
    }
}

impl ToAddress for str {
    fn to_address(&self) -> Result<std::borrow::Cow<'_, Address>, AddressError> {
        Address::parse(self).map(std::borrow::Cow::Owned)
    }
}

impl ToAddress for String {
    fn to_address(&self) -> Result<std::borrow::Cow<'_, Address>, AddressError> {
        self.as_str().to_address()
    }
}

impl std::str::FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Address, AddressError> {
        Address::parse(s)
    }
}

/// On the wire an address is its text; it is parsed when read, so a malformed one never
/// gets past decoding.
impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        let text = String::deserialize(d)?;
        Address::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn parse_step(text: &str, descendant: bool) -> Result<Step, String> {
    let (name, predicate) = match text.find('[') {
        Some(p) => {
            if !text.ends_with(']') {
                return Err(format!("predicate of step '{text}' is not closed"));
            }
            (&text[..p], Some(&text[p + 1..text.len() - 1]))
        }
        None => (text, None),
    };
    let name = match name {
        "*" => None,
        "" => return Err(format!("step '{text}' has no name")),
        n if n.chars().all(|c| c.is_alphanumeric() || "_-.".contains(c)) => Some(n.to_owned()),
        n => {
            return Err(format!(
                "'{n}' is not a resource name (letters, digits, '_', '-', '.')"
            ));
        }
    };
    let kind = match predicate {
        None => None,
        Some(p) => {
            let (key, value) = p.split_once('=').ok_or_else(|| {
                format!("unsupported predicate [{p}]: use [@ressource='provide']")
            })?;
            let key = key.trim();
            if !matches!(key, "@ressource" | "@resource" | "@kind") {
                return Err(format!(
                    "unsupported predicate [{p}]: only @ressource is known"
                ));
            }
            let value = value.trim().trim_matches(|c| c == '\'' || c == '"');
            Some(Kind::parse(value).ok_or_else(|| format!("unknown resource kind '{value}'"))?)
        }
    };
    Ok(Step {
        descendant,
        name,
        kind,
    })
}

/// Joins names into an absolute address: `/web1/WebServer/Active/start`.
pub fn absolute<S: AsRef<str>>(path: &[S]) -> String {
    let mut out = String::new();
    for p in path {
        out.push('/');
        out.push_str(p.as_ref());
    }
    out
}

/// Strips the location from an absolute address: `WebServer/Active/start`.
pub fn relative(address: &str) -> &str {
    address
        .trim_start_matches('/')
        .split_once('/')
        .map_or("", |(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(addr: &str, path: &[&str]) -> bool {
        Address::parse(addr).unwrap().matches(path)
    }

    #[test]
    fn an_absolute_address_names_its_location() {
        let loc = |a: &str| Address::parse(a).unwrap().location().map(str::to_owned);
        assert_eq!(loc("/web1/WebServer//start").as_deref(), Some("web1"));
        assert_eq!(loc("/*/WebServer"), None);
        assert_eq!(loc("//WebServer"), None);
        assert_eq!(loc("WebServer/Active"), None);
    }

    #[test]
    fn absolute_addresses_start_at_the_location() {
        assert!(m(
            "/vm/WebServer/Active/start",
            &["vm", "WebServer", "Active", "start"]
        ));
        assert!(m(
            "/*/WebServer/Active/start",
            &["vm", "WebServer", "Active", "start"]
        ));
        assert!(!m(
            "/other/WebServer/Active/start",
            &["vm", "WebServer", "Active", "start"]
        ));
        assert!(m("/vm", &["vm"]));
    }

    #[test]
    fn relative_addresses_start_below_the_location() {
        assert!(m(
            "WebServer/Active/start",
            &["vm", "WebServer", "Active", "start"]
        ));
        assert!(m(
            "WebServer//port",
            &["vm", "WebServer", "Configured", "enter", "conf", "port"]
        ));
        assert!(!m("Active/start", &["vm", "WebServer", "Active", "start"]));
    }

    #[test]
    fn descendant_steps_skip_any_depth() {
        let port = ["vm", "WebServer", "Configured", "enter", "conf", "port"];
        assert!(m("//WebServer//port", &port));
        assert!(m("//port", &port));
        assert!(m("//conf/port", &port));
        assert!(!m("//conf", &port));
        assert!(m("//vm", &["vm"]));
    }

    #[test]
    fn kind_predicates_filter_by_depth() {
        assert!(m(
            "//*[@ressource='provide']",
            &["vm", "WebServer", "Active", "start"]
        ));
        assert!(m(
            "//*[@resource=\"state\"]",
            &["vm", "WebServer", "Active"]
        ));
        assert!(!m(
            "//*[@ressource='provide']",
            &["vm", "WebServer", "Active"]
        ));
        assert!(m("//WebServer/*", &["vm", "WebServer", "Active"]));
    }

    #[test]
    fn names_may_contain_dots_for_state_implementations() {
        assert!(m(
            "//L/StateE.StateD/enter/foo/bar",
            &["vm", "L", "StateE.StateD", "enter", "foo", "bar"]
        ));
    }

    #[test]
    fn malformed_addresses_are_rejected_with_a_reason() {
        for bad in [
            "",
            "//",
            "/",
            "a///b",
            "a/",
            "a[@x='y']",
            "a[@ressource='thing']",
            "a b",
            "a[@ressource='state'",
            " //a",
            "//a ",
        ] {
            let e = Address::parse(bad).unwrap_err();
            assert!(!e.reason.is_empty(), "{bad}");
        }
    }

    #[test]
    fn relative_strips_the_location() {
        assert_eq!(
            relative("/vm/WebServer/Active/start"),
            "WebServer/Active/start"
        );
        assert_eq!(relative("/vm"), "");
        assert_eq!(absolute(&["vm", "WebServer"]), "/vm/WebServer");
    }
}
