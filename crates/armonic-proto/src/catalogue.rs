//! What an agent tells the mesh about itself: its catalogue (lifecycles, their states and
//! provides, where each stands); and what a node knows of each peer.

use std::sync::Arc;

use armonic_lifecycle::info::Info;
use armonic_lifecycle::{Address, Kind};
use serde::{Deserialize, Serialize};

/// One lifecycle of a catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleEntry {
    /// Name.
    pub name: String,
    /// Its states, by name.
    pub states: Vec<String>,
    /// Its custom provides, as `State/provide`.
    pub provides: Vec<String>,
    /// The current state.
    pub current: Option<String>,
}

/// An agent's catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalogue {
    /// The agent's location.
    pub info: Info,
    /// Grows with every change of the catalogue or of a current state.
    pub version: u64,
    /// The lifecycles (shared: agents running the same lifecycles in the same states hold
    /// one copy of them for all).
    pub lifecycles: Arc<Vec<LifecycleEntry>>,
}

impl Catalogue {
    /// Whether `xpath` matches one of its lifecycles, states or provides.
    pub fn offers(&self, xpath: &Address) -> bool {
        self.matches(xpath, None)
    }

    /// Whether `xpath` matches one of its provides.
    pub fn offers_provide(&self, xpath: &Address) -> bool {
        self.matches(xpath, Some(Kind::Provide))
    }

    fn matches(&self, xpath: &Address, only: Option<Kind>) -> bool {
        let loc = self.info.name.as_str();
        self.lifecycles.iter().any(|lf| {
            let want = |k: Kind| only.is_none_or(|o| o == k);
            (want(Kind::Lifecycle) && xpath.matches(&[loc, &lf.name]))
                || (want(Kind::State)
                    && lf
                        .states
                        .iter()
                        .any(|s| xpath.matches(&[loc, lf.name.as_str(), s])))
                || (want(Kind::Provide)
                    && lf.provides.iter().any(|p| {
                        let (s, p) = p.split_once('/').unwrap_or((p, ""));
                        xpath.matches(&[loc, lf.name.as_str(), s, p])
                    }))
        })
    }
}

/// What a node knows of one peer of the mesh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// Its location name, once its catalogue is known.
    pub name: Option<String>,
    /// Its peer id.
    pub peer_id: String,
    /// Addresses it was seen at.
    pub addresses: Vec<String>,
    /// Its catalogue, once fetched.
    pub catalogue: Option<Catalogue>,
    /// Seconds since it was last heard from.
    pub last_seen_secs: u64,
    /// Whether it is connected and answering.
    pub live: bool,
    /// Whether it is the node answering (its own row).
    #[serde(default)]
    pub local: bool,
}

/// The catalogue of `location` as it stands, as version `version`.
pub fn catalogue_of(location: &armonic_lifecycle::Location, version: u64) -> Catalogue {
    let lifecycles = location
        .lifecycle_names()
        .into_iter()
        .filter_map(|name| {
            let def = location.definition(name)?;
            Some(LifecycleEntry {
                name: name.to_owned(),
                states: def.states.iter().map(|s| s.name.clone()).collect(),
                provides: def
                    .states
                    .iter()
                    .flat_map(|s| {
                        s.provides
                            .iter()
                            .map(move |p| format!("{}/{}", s.name, p.name))
                    })
                    .collect(),
                current: location
                    .stack(name)
                    .and_then(|s| s.last().map(|c| (*c).to_owned())),
            })
        })
        .collect();
    Catalogue {
        info: location.info(),
        version,
        lifecycles: Arc::new(lifecycles),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        Catalogue {
            info: Info {
                name: "web1".into(),
                os_type: "debian".into(),
                os_release: Some("12".into()),
                version: "0.1.0".into(),
                public_ip: "10.0.0.1".into(),
            },
            version: 3,
            lifecycles: Arc::new(vec![LifecycleEntry {
                name: "WebServer".into(),
                states: vec!["NotInstalled".into(), "Active".into()],
                provides: vec!["Active/start".into()],
                current: Some("NotInstalled".into()),
            }]),
        }
    }

    #[test]
    fn a_catalogue_says_which_addresses_it_offers() {
        let c = catalogue();
        let a = |s: &str| s.parse::<Address>().unwrap();
        assert!(c.offers_provide(&a("//WebServer//start")));
        assert!(c.offers_provide(&a("/web1/WebServer/Active/start")));
        assert!(!c.offers_provide(&a("/web2/WebServer/Active/start")));
        assert!(!c.offers_provide(&a("//WebSite//start")));
        assert!(c.offers(&a("//WebServer/Active")));
        assert!(!c.offers_provide(&a("//WebServer/Active")));
    }
}
