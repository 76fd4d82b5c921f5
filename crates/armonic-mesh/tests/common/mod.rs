//! A multi-node harness: agents in this process, on loopback TCP with explicit peers (no
//! mDNS), each serving real locations. Waits are on progress, with deadlines.
#![allow(dead_code)]

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use armonic_journal::Host;
use armonic_lifecycle::{Config as LocationConfig, Location, OsType, load_dirs};
use armonic_mesh::{Config, Handle, Identity, SwarmKey};
use armonic_proto::catalogue_of;
use armonic_proto::serve::Service;

/// One agent of the test mesh.
pub struct Node {
    pub name: String,
    pub handle: Handle,
    pub local: Host,
    pub identity: Identity,
    pub addr: String,
}

/// A location named `name` with the shipped lifecycles.
pub fn location(name: &str) -> Location {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lifecycles");
    let catalog = load_dirs(&[dir]);
    let config = LocationConfig {
        name: name.into(),
        os: OsType::all(),
        public_ip: name.into(),
        ..LocationConfig::default()
    };
    Location::builder(config)
        .sink(Arc::new(armonic_lifecycle::MemorySink::new()))
        .build(catalog.lifecycles)
        .expect("location starts")
}

/// A configuration for a node on loopback, dialing `peers`.
pub fn config(key: &SwarmKey, identity: Identity, peers: &[&Node]) -> Config {
    let mut c = Config::new(identity, key.clone());
    c.listen = vec!["/ip4/127.0.0.1/tcp/0".into()];
    c.peers = peers.iter().map(|n| n.addr.clone()).collect();
    c.mdns = false;
    c.ping_every = Duration::from_millis(500);
    c.gossip_every = Duration::from_secs(1);
    c
}

/// Starts node `name` with `config` (its listen address is read back).
pub async fn start_with(name: &str, config: Config) -> Node {
    let local = Host::open(location(name)).expect("journal in memory");
    let identity = config.identity.clone();
    let handle = armonic_mesh::start(config, Some(Arc::new(local.clone()) as Arc<dyn Service>))
        .await
        .expect("mesh starts");
    let mut addr = String::new();
    eventually("a listen address", || {
        let h = handle.clone();
        async move { !h.listen_addrs().await.is_empty() }
    })
    .await;
    if let Some(a) = handle.listen_addrs().await.into_iter().next() {
        addr = a;
    }
    let node = Node {
        name: name.into(),
        handle,
        local,
        identity,
        addr,
    };
    node.announce().await;
    node
}

/// Starts node `name` in the mesh of `key`, dialing `peers`.
pub async fn start(name: &str, key: &SwarmKey, peers: &[&Node]) -> Node {
    start_with(name, config(key, Identity::ephemeral(), peers)).await
}

impl Node {
    /// Tells the mesh this node's catalogue as it stands.
    pub async fn announce(&self) {
        let loc = self.local.location();
        self.handle
            .set_catalogue(catalogue_of(loc, loc.generation()))
            .await;
    }

    /// Whether this node knows `name` as live, with a catalogue.
    pub fn sees(&self, name: &str) -> bool {
        self.handle.live().iter().any(|i| i.name == name)
    }
}

/// Waits until `f` holds, or fails the test after 10 s.
pub async fn eventually<F, Fut>(what: &str, f: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
