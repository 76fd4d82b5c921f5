//! Values submitted to a call, and how they reach variables.
//!
//! A submission is a list of `(address, {index: value})` entries. Each address is resolved on
//! the location and a value lands exactly in the variables its address selects, never in a
//! variable that merely has the same name elsewhere. Index `i` is the i-th value set of the
//! require (nargs); an index at or above the require's maximum is an error.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::{ProvideDef, RequireDef};
use crate::value::Value;

/// Values for one address: value set index → value.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueEntry {
    /// Address of one or more variables (`//conf/port`, `WebServer/Configured/enter/conf/port`).
    pub xpath: String,
    /// Value per set index.
    pub values: BTreeMap<usize, Value>,
}

impl Serialize for ValueEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.xpath, &self.values).serialize(s)
    }
}

impl<'de> Deserialize<'de> for ValueEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Indexed(BTreeMap<IndexKey, Value>),
            Single(Value),
        }
        let (xpath, either): (String, Either) = Deserialize::deserialize(d)?;
        if xpath.is_empty() {
            return Err(D::Error::custom("value address is empty"));
        }
        let values = match either {
            Either::Indexed(m) => m.into_iter().map(|(k, v)| (k.0, v)).collect(),
            // A map whose keys are not all indexes is a mistyped index (`"0 "`), not a value:
            // no variable takes a map, and taking it as set 0 would hide the mistake.
            Either::Single(Value::Map(m)) => {
                let bad = m.keys().find(|k| parse_index(k).is_none());
                return Err(D::Error::custom(format!(
                    "'{}' is not a value set index (a number such as 0)",
                    bad.map_or("", String::as_str)
                )));
            }
            Either::Single(v) => BTreeMap::from([(0, v)]),
        };
        Ok(ValueEntry { xpath, values })
    }
}

/// A set index written as a number (`0`) or as a string of digits (`"0"`, from JSON).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct IndexKey(usize);

impl<'de> Deserialize<'de> for IndexKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = IndexKey;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a value set index")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<IndexKey, E> {
                usize::try_from(v).map(IndexKey).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<IndexKey, E> {
                usize::try_from(v).map(IndexKey).map_err(E::custom)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IndexKey, E> {
                parse_index(v).map(IndexKey).ok_or_else(|| {
                    E::custom(format!(
                        "'{v}' is not a value set index (a number such as 0)"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// Digits only: `usize::from_str` would also take `+1`, and nothing here trims spaces.
fn parse_index(text: &str) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The values submitted to a call. Serialized as `[["xpath", {"0": value}], …]`; on input a
/// bare value stands for index 0 (`[["//conf/port", 8080]]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Values(pub Vec<ValueEntry>);

impl Values {
    /// No value.
    pub fn new() -> Values {
        Values::default()
    }

    /// Adds a value at index 0.
    pub fn set(self, xpath: impl Into<String>, value: impl Into<Value>) -> Values {
        self.set_at(xpath, 0, value)
    }

    /// Adds a value at `index` (merging with an earlier entry for the same address).
    pub fn set_at(
        mut self,
        xpath: impl Into<String>,
        index: usize,
        value: impl Into<Value>,
    ) -> Values {
        let xpath = xpath.into();
        match self.0.iter_mut().find(|e| e.xpath == xpath) {
            Some(e) => {
                e.values.insert(index, value.into());
            }
            None => self.0.push(ValueEntry {
                xpath,
                values: BTreeMap::from([(index, value.into())]),
            }),
        }
        self
    }

    /// True when nothing is submitted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The values of one provide, by require then set then variable. This is what actions see,
/// and what is kept for each entered state.
pub type ProvideValues = IndexMap<String, Vec<IndexMap<String, Value>>>;

/// The raw (unchecked) value sets of one require.
#[derive(Debug, Clone)]
pub(crate) struct RequireSets {
    pub sets: Vec<Vec<Value>>,
}

impl RequireSets {
    /// The sets a require starts with: N sets of defaults for nargs N, none for `?` and `*`.
    pub fn new(def: &RequireDef) -> RequireSets {
        let n = match def.nargs {
            crate::model::Nargs::Exactly(n) => n as usize,
            _ => 0,
        };
        RequireSets {
            sets: (0..n).map(|_| defaults(def)).collect(),
        }
    }

    /// Puts `value` in variable `var` of set `index`, creating sets up to it. Returns false,
    /// changing nothing, when the index is out of the require's range.
    pub fn put(&mut self, def: &RequireDef, var: usize, index: usize, value: Value) -> bool {
        if index >= def.nargs.max() as usize {
            return false;
        }
        while self.sets.len() <= index {
            self.sets.push(defaults(def));
        }
        self.sets[index][var] = value;
        true
    }
}

fn defaults(def: &RequireDef) -> Vec<Value> {
    def.variables
        .iter()
        .map(|v| v.default.clone().unwrap_or(Value::Null))
        .collect()
}

/// Unchecked values for every require of a provide.
#[derive(Debug, Clone)]
pub(crate) struct Filled {
    pub requires: Vec<RequireSets>,
}

impl Filled {
    pub fn new(def: &ProvideDef) -> Filled {
        Filled {
            requires: def.requires.iter().map(RequireSets::new).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_accept_indexed_and_bare_values() {
        let v: Values =
            serde_json::from_str(r#"[["//conf/port", {"0": 80, "1": 81}], ["//x/y", "z"]]"#)
                .unwrap();
        assert_eq!(v.0[0].values.get(&1), Some(&Value::Int(81)));
        assert_eq!(v.0[1].values.get(&0), Some(&Value::from("z")));
        let back = serde_json::to_string(&v).unwrap();
        assert_eq!(
            back,
            r#"[["//conf/port",{"0":80,"1":81}],["//x/y",{"0":"z"}]]"#
        );
    }

    #[test]
    fn set_at_merges_indexes_of_one_address() {
        let v = Values::new()
            .set_at("//a/b", 0, "x")
            .set_at("//a/b", 1, "y");
        assert_eq!(v.0.len(), 1);
        assert_eq!(v.0[0].values.len(), 2);
    }
}
