//! Deployment records: every answer of a deployment, to save and replay (`docs/deployment-record.md`).
//!
//! The format is the original armonic's: sections of `[key, value]` pairs whose key is a node
//! id, a `/`, and an address (`node_0_1///WebServer//start`, `node_0/Proxy/Configured/enter/websites`).
//! Records written by the original replay here; ours add a `call` section and a header.

use std::collections::{BTreeMap, HashMap, HashSet};

use armonic_lifecycle::Value;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Current version of the record format.
pub const FORMAT: u32 = 1;

/// What a record's entry is about: a node of the deployment tree and an address
/// (`node_0_1` and `//WebServer//start`). Written as in the original, `node_0_1///WebServer//start`:
/// the node id, a `/`, the address; read once into its parts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// Node id.
    pub node: String,
    /// Address (generic, relative or of a require or variable).
    pub xpath: String,
}

impl Key {
    /// The key of `xpath` for node `node`.
    pub fn new(node: impl Into<String>, xpath: impl Into<String>) -> Key {
        Key {
            node: node.into(),
            xpath: xpath.into(),
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.node, self.xpath)
    }
}

impl Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        let text = String::deserialize(d)?;
        match text.split_once('/') {
            Some((node, xpath)) if !node.is_empty() => Ok(Key::new(node, xpath)),
            _ => Err(serde::de::Error::custom(format!(
                "record key '{text}' is not NODE/ADDRESS"
            ))),
        }
    }
}

/// The answers of a deployment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Format version ([`FORMAT`]); absent in the original's files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub armonic_deployment: Option<u32>,
    /// The generic address deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// Manage answers: `node/generic` → bool.
    #[serde(default)]
    pub manage: Vec<(Key, bool)>,
    /// Locations: `node/generic` → location.
    #[serde(default)]
    pub lfm: Vec<(Key, String)>,
    /// Chosen provides: `node/generic` → `node/xpath`.
    #[serde(default)]
    pub specialize: Vec<(Key, Key)>,
    /// Instances: `node/require` → a count, or the list of locations of external instances.
    #[serde(default)]
    pub multiplicity: Vec<(Key, serde_json::Value)>,
    /// Values: `node/variable` → `{set index: value}`.
    #[serde(default)]
    pub variables: Vec<(Key, BTreeMap<String, Value>)>,
    /// Call answers: `node/generic` → bool.
    #[serde(default)]
    pub call: Vec<(Key, bool)>,
    /// For reading only: returned values and where they came from.
    #[serde(default)]
    pub provide_ret: Vec<(Key, String)>,
    /// For reading only: host values filled by the engine.
    #[serde(default)]
    pub variables_host: Vec<(Key, BTreeMap<String, Value>)>,
    /// For reading only: node ids of the replayed record → node ids of this deployment.
    #[serde(default)]
    pub mapping: Vec<(String, String)>,
    /// The values that are secrets (`node/variable`): a record saved without them lists
    /// them here with no value, and a replay asks for them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Key>,
}

impl Record {
    /// An empty record of the current format for `root`.
    pub fn new(root: &str) -> Record {
        Record {
            armonic_deployment: Some(FORMAT),
            root: Some(root.to_owned()),
            ..Record::default()
        }
    }

    /// The record without the values of its secrets (which stay listed in `secrets`).
    pub fn without_secrets(&self) -> Record {
        let mut out = self.clone();
        let secret = |k: &Key| self.secrets.contains(k);
        out.variables.retain(|(k, _)| !secret(k));
        out.variables_host.retain(|(k, _)| !secret(k));
        out
    }

    /// Whether no answer is recorded.
    pub fn is_empty(&self) -> bool {
        self.manage.is_empty()
    }

    /// Refuses to replay a record made for another root than `root`, or in a format this
    /// version does not know. Records of the original have neither a root nor a format.
    pub(crate) fn check(&self, root: &str) -> Result<(), Error> {
        if let Some(found) = self.armonic_deployment.filter(|&v| v != FORMAT) {
            return Err(Error::UnknownFormat { found });
        }
        match &self.root {
            Some(recorded) if recorded != root => Err(Error::OtherRoot {
                recorded: recorded.clone(),
                root: root.to_owned(),
            }),
            _ => Ok(()),
        }
    }
}

/// The sections a replay reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Section {
    Manage,
    Lfm,
    Specialize,
    Multiplicity,
    Variables,
    Call,
}

/// Looks answers up in a record while a new deployment is resolved.
///
/// An entry matches a node when its address is the same and its node id is the node's own,
/// or the id this node was mapped to. A node not mapped yet adopts the id of the first
/// unused entry with its address whose id no other node adopted: this lets a record replay
/// on a tree that gained or lost nodes.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    record: Record,
    used: HashSet<(Section, usize)>,
    old_ids: HashMap<String, String>,
    adopted: HashSet<String>,
    pub mapping: Vec<(String, String)>,
}

impl Replay {
    pub fn new(record: Record) -> Replay {
        Replay {
            record,
            ..Replay::default()
        }
    }

    fn keys(&self, section: Section) -> Vec<&Key> {
        let r = &self.record;
        match section {
            Section::Manage => r.manage.iter().map(|(k, _)| k).collect(),
            Section::Lfm => r.lfm.iter().map(|(k, _)| k).collect(),
            Section::Specialize => r.specialize.iter().map(|(k, _)| k).collect(),
            Section::Multiplicity => r.multiplicity.iter().map(|(k, _)| k).collect(),
            Section::Variables => r.variables.iter().map(|(k, _)| k).collect(),
            Section::Call => r.call.iter().map(|(k, _)| k).collect(),
        }
    }

    fn find(&mut self, section: Section, node: &str, xpath: &str) -> Option<usize> {
        let keys = self.keys(section);
        let mapped = self.old_ids.get(node).cloned();
        let mine = mapped.clone().unwrap_or_else(|| node.to_owned());
        let free = |n: &str| mapped.as_deref() == Some(n) || !self.adopted.contains(n);
        let unused = |i: usize| !self.used.contains(&(section, i));
        let exact = keys
            .iter()
            .enumerate()
            .find(|(i, k)| k.xpath == xpath && k.node == mine && unused(*i) && free(&k.node));
        let (index, old) = match exact {
            Some((i, k)) => (i, k.node.clone()),
            None if mapped.is_none() => {
                let (i, k) = keys.iter().enumerate().find(|(i, k)| {
                    k.xpath == xpath && unused(*i) && !self.adopted.contains(&k.node)
                })?;
                (i, k.node.clone())
            }
            None => return None,
        };
        if mapped.is_none() {
            if old != node {
                self.mapping.push((old.clone(), node.to_owned()));
            }
            self.old_ids.insert(node.to_owned(), old.clone());
            self.adopted.insert(old);
        }
        self.used.insert((section, index));
        Some(index)
    }

    pub fn manage(&mut self, node: &str, xpath: &str) -> Option<bool> {
        self.find(Section::Manage, node, xpath)
            .map(|i| self.record.manage[i].1)
    }

    pub fn call(&mut self, node: &str, xpath: &str) -> Option<bool> {
        self.find(Section::Call, node, xpath)
            .map(|i| self.record.call[i].1)
    }

    pub fn location(&mut self, node: &str, xpath: &str) -> Option<String> {
        self.find(Section::Lfm, node, xpath)
            .map(|i| self.record.lfm[i].1.clone())
    }

    pub fn specialize(&mut self, node: &str, xpath: &str) -> Option<String> {
        self.find(Section::Specialize, node, xpath)
            .map(|i| self.record.specialize[i].1.xpath.clone())
    }

    pub fn multiplicity(&mut self, node: &str, require: &str) -> Option<serde_json::Value> {
        self.find(Section::Multiplicity, node, require)
            .map(|i| self.record.multiplicity[i].1.clone())
    }

    /// All recorded sets of a variable of `node`.
    pub fn variable(&mut self, node: &str, xpath: &str) -> Option<BTreeMap<String, Value>> {
        self.find(Section::Variables, node, xpath)
            .map(|i| self.record.variables[i].1.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_found_by_node_and_address_then_adopted_by_address() {
        let record = Record {
            manage: vec![
                (Key::new("node_0", "//A//x"), true),
                (Key::new("node_0_3", "//B//y"), false),
            ],
            ..Record::default()
        };
        let mut r = Replay::new(record);
        assert_eq!(r.manage("node_0", "//A//x"), Some(true));
        assert_eq!(r.manage("node_0", "//A//x"), None, "an entry is used once");
        assert_eq!(r.manage("node_0_1", "//B//y"), Some(false));
        assert_eq!(
            r.mapping,
            vec![("node_0_3".to_owned(), "node_0_1".to_owned())]
        );
    }

    #[test]
    fn the_original_record_format_reads() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/armonic-deployment-website.json"
        ))
        .unwrap();
        let record: Record = serde_json::from_str(&text).unwrap();
        assert_eq!(record.specialize.len(), 3);
        assert_eq!(record.variables[0].1.get("0"), Some(&Value::Int(80)));
        let mut r = Replay::new(record);
        assert_eq!(
            r.specialize("node_0", "//WebSite//start").as_deref(),
            Some("WebSite/Active/start")
        );
    }
}
