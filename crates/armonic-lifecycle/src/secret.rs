//! Secrets: the values of `password` variables and of variables marked `secret = true`.
//!
//! A secret is never written or shown in clear by armonic: not in state files, the journal,
//! logs, error messages or listings. Two tools do it:
//!
//! - [`SecretNames`]: which addresses name a secret variable of a location's lifecycles, so
//!   that a request's values can be hidden before anything records it (structurally: a value
//!   is hidden when its address ends with the require and variable names of a secret, or
//!   with a secret's variable name alone).
//! - [`Secrets`]: the secret values a location was given (in memory only), so that free text
//!   (a command's output, an error) is masked before it leaves the engine: a command that
//!   prints its password shows `********`.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::RwLock;

use crate::model::LifecycleDef;
use crate::value::Value;
use crate::values::Values;

/// What a hidden value is replaced with.
pub const MASK: &str = "********";

/// Values shorter than this are not masked in free text (masking `ab` everywhere would make
/// logs unreadable); they are still never written where armonic writes values.
pub const MIN_MASKED: usize = 3;

/// Secret values remembered for masking, at most.
const MAX_REMEMBERED: usize = 4096;

/// The names of the secret variables of some lifecycles.
#[derive(Debug, Default, Clone)]
pub struct SecretNames {
    /// `(require, variable)` of every secret variable.
    pairs: HashSet<(String, String)>,
    /// The variable names alone.
    names: HashSet<String>,
}

impl SecretNames {
    /// The secret variables of `lifecycles`.
    pub fn of<'a>(lifecycles: impl IntoIterator<Item = &'a LifecycleDef>) -> SecretNames {
        let mut out = SecretNames::default();
        for def in lifecycles {
            for state in &def.states {
                for p in std::iter::once(&state.enter).chain(&state.provides) {
                    for req in &p.requires {
                        for var in req.variables.iter().filter(|v| v.secret) {
                            out.pairs.insert((req.name.clone(), var.name.clone()));
                            out.names.insert(var.name.clone());
                        }
                    }
                }
            }
        }
        out
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Whether the value address `xpath` may name a secret variable.
    pub fn names_secret(&self, xpath: &str) -> bool {
        if self.names.is_empty() {
            return false;
        }
        let mut parts = xpath.rsplit('/').filter(|p| !p.is_empty());
        // An address that may select several variables (`//k/*`, a predicate) is taken as
        // naming a secret: what it selects is only known once routed.
        if xpath.contains(['*', '[']) {
            return true;
        }
        let Some(var) = parts.next() else {
            return false;
        };
        if !self.names.contains(var) {
            return false;
        }
        match parts.next() {
            // `…/require/variable`: when that require has secrets, the pair decides.
            Some(req) if self.pairs.iter().any(|(r, _)| r == req) => {
                self.pairs.contains(&(req.to_owned(), var.to_owned()))
            }
            _ => true,
        }
    }

    /// `values` with every value of a secret variable replaced by [`MASK`].
    pub fn hide(&self, values: &Values) -> Values {
        let mut out = values.clone();
        for entry in &mut out.0 {
            if self.names_secret(&entry.xpath) {
                for v in entry.values.values_mut() {
                    if !v.is_null() {
                        *v = Value::Str(MASK.into());
                    }
                }
            }
        }
        out
    }
}

/// The secret values given to a location, kept in memory for masking free text.
#[derive(Debug, Default)]
pub struct Secrets {
    known: RwLock<Vec<String>>,
}

impl Secrets {
    /// Remembers the strings of `value` (a secret's value).
    pub fn learn(&self, value: &Value) {
        let mut found = Vec::new();
        strings(value, &mut found);
        found.retain(|s| s.len() >= MIN_MASKED);
        if found.is_empty() {
            return;
        }
        let mut known = self.known.write().unwrap_or_else(|e| e.into_inner());
        for s in found {
            if !known.iter().any(|k| k == s) {
                if known.len() >= MAX_REMEMBERED {
                    known.remove(0);
                }
                known.push(s.to_owned());
                // Longest first: a secret containing another is masked whole.
                known.sort_by_key(|k| std::cmp::Reverse(k.len()));
            }
        }
    }

    /// Whether none is known.
    pub fn is_empty(&self) -> bool {
        self.known
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// `text` with every known secret replaced by [`MASK`].
    pub fn mask<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let known = self.known.read().unwrap_or_else(|e| e.into_inner());
        if known.is_empty() || !known.iter().any(|k| text.contains(k.as_str())) {
            return Cow::Borrowed(text);
        }
        let mut out = text.to_owned();
        for k in known.iter() {
            if out.contains(k.as_str()) {
                out = out.replace(k.as_str(), MASK);
            }
        }
        Cow::Owned(out)
    }
}

fn strings<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::Str(s) => out.push(s),
        Value::List(l) => l.iter().for_each(|v| strings(v, out)),
        Value::Map(m) => m.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_secrets_are_masked_in_text_longest_first() {
        let s = Secrets::default();
        s.learn(&Value::from("hunter2"));
        s.learn(&Value::from("hunter2-and-more"));
        s.learn(&Value::from("ab"));
        assert_eq!(
            s.mask("pw=hunter2-and-more or hunter2, ab"),
            "pw=******** or ********, ab"
        );
        assert!(matches!(s.mask("nothing here"), Cow::Borrowed(_)));
    }
}
