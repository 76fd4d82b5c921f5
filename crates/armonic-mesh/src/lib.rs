//! # armonic-mesh
//!
//! The network of agents. Agents find each other (mDNS on the LAN with no configuration,
//! bootstrap peers otherwise), keep each other's catalogue (a digest gossiped on every change
//! and now and then, the catalogue itself fetched when the digest is new), notice within
//! seconds when one dies (closed connections; probes by the few agents watching each), and
//! call each other: each call (or journal read) on a stream of its own carrying the control
//! socket's frames, served by `armonic_proto::serve` like the socket, re-attached to when the
//! stream breaks.
//!
//! Only this crate names libp2p types. One event loop owns the swarm ([`start`] spawns it);
//! the rest of the agent holds a [`Handle`].
//!
//! Membership takes the private network's pre-shared key ([`SwarmKey`]): a peer without it
//! fails the first handshake and learns nothing. Every connection is then authenticated and
//! encrypted by Noise with the peer's identity ([`Identity`], kept in the state directory).
//! State-changing calls may be limited to operator peers.
//!
//! ```no_run
//! # async fn demo(service: std::sync::Arc<dyn armonic_proto::serve::Service>) -> Result<(), armonic_mesh::Error> {
//! use armonic_mesh::{Config, Identity, SwarmKey};
//! let dir = std::path::Path::new("/var/lib/armonic");
//! let mut config = Config::new(Identity::load(&dir.join("identity.key"))?, SwarmKey::read(&dir.join("swarm.key"))?);
//! config.peers = vec!["/ip4/10.0.0.2/tcp/7301".into()];
//! // The agent's service answers the calls members make; a node serving nothing (the XMPP
//! // bridge) gives `None`.
//! let handle = armonic_mesh::start(config, Some(service)).await?;
//! println!("peer id {}", handle.peer_id());
//! # Ok(()) }
//! ```

mod book;
mod calls;
mod codec;
mod event_loop;
mod handle;
#[cfg(test)]
mod hostile;
#[cfg(feature = "intruder")]
pub mod intruder;
mod key;
mod links;
mod members;
mod probes;
mod protocol;
mod shapes;
mod swarm;
mod view;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use armonic_proto::serve::Service;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::mpsc;

pub use calls::Limits;
pub use handle::Handle;
pub use key::{IDENTITY, KeyError, SWARM_KEY, generate_swarm_key};

/// The default port agents listen on.
pub const DEFAULT_PORT: u16 = 7301;

/// An agent's identity (an ed25519 key), kept across restarts.
#[derive(Clone)]
pub struct Identity(libp2p::identity::Keypair);

impl Identity {
    /// The identity kept at `path`, made on first use (owner-only).
    pub fn load(path: &Path) -> Result<Identity, KeyError> {
        key::identity(path).map(Identity)
    }

    /// A new identity, kept nowhere (tests, demos).
    pub fn ephemeral() -> Identity {
        Identity(libp2p::identity::Keypair::generate_ed25519())
    }

    /// Its peer id.
    pub fn peer_id(&self) -> String {
        self.0.public().to_peer_id().to_string()
    }
}

/// The mesh's pre-shared key.
#[derive(Clone)]
pub struct SwarmKey(libp2p::pnet::PreSharedKey);

impl SwarmKey {
    /// Reads the key file at `path`.
    pub fn read(path: &Path) -> Result<SwarmKey, KeyError> {
        key::read_swarm_key(path).map(SwarmKey)
    }

    /// Reads the key file at `path`, or makes one there (owner-only) when there is none:
    /// the key, and whether it was made now.
    pub fn read_or_make(path: &Path) -> Result<(SwarmKey, bool), KeyError> {
        match key::read_swarm_key(path) {
            Ok(k) => Ok((SwarmKey(k), false)),
            Err(KeyError::Missing(_)) => match key::generate_swarm_key(path) {
                Ok(k) => Ok((SwarmKey(k), true)),
                // Another process made it meanwhile: that one is the key.
                Err(KeyError::Exists(_)) => key::read_swarm_key(path).map(|k| (SwarmKey(k), false)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// A new random key, kept nowhere (tests, demos).
    pub fn random() -> Result<SwarmKey, KeyError> {
        key::random_key().map(SwarmKey)
    }

    /// Its fingerprint, to compare keys without showing them.
    pub fn fingerprint(&self) -> String {
        self.0.fingerprint().to_string()
    }
}

/// What a node holds of the mesh, and what keeping it cost, counted since the node started
/// ([`Handle::stats`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MeshStats {
    /// Members known: those whose entry this node holds (from the member itself or passed on).
    pub members: usize,
    /// Members live now, with their catalogue: the locations calls may go to.
    pub live: usize,
    /// Peers connected now.
    pub connected: usize,
    /// Connections open now (a pair may briefly hold two).
    pub connections: usize,
    /// Peers heard of, never reached yet.
    pub candidates: usize,
    /// Dials started.
    pub dials: u64,
    /// Connections that came up.
    pub connections_made: u64,
    /// Members this node took for down because they stayed silent too long (it watched
    /// them).
    pub silenced: u64,
    /// Members' entries taken as news.
    pub news: u64,
    /// Membership messages sent: questions, and entries passed on.
    pub asked: u64,
    /// Members' entries received, news or not (`received` / `news` is how many times over
    /// the mesh told this node each thing it learned).
    pub received: u64,
    /// Times the node's own loop ran late, and how late in all.
    pub stalls: u64,
    /// See `stalls`.
    pub stalled: Duration,
}

/// How a node joins the mesh.
#[derive(Clone)]
pub struct Config {
    /// Who this node is.
    pub identity: Identity,
    /// The mesh's key.
    pub swarm_key: SwarmKey,
    /// Addresses to listen on (`/ip4/0.0.0.0/tcp/7301`, or `IP:PORT`).
    pub listen: Vec<String>,
    /// Peers to dial (`/ip4/10.0.0.2/tcp/7301`, or `IP:PORT`), kept dialed.
    pub peers: Vec<String>,
    /// Discover peers on the LAN by mDNS.
    pub mdns: bool,
    /// Peers (by peer id) allowed to change states here; everyone in the mesh when `None`.
    pub operators: Option<Vec<String>>,
    /// Longest a read may take before it fails as `timeout`.
    pub query_timeout: Duration,
    /// How long a caller tries to re-attach to a call whose stream broke before it says the
    /// call's outcome is unknown.
    pub reattach_for: Duration,
    /// Largest catalogue accepted.
    pub max_message: u64,
    /// What calls of other agents may take here.
    pub limits: Limits,
    /// Time a call stopped by its caller gets between SIGTERM and SIGKILL, unless the caller
    /// gives its own.
    pub grace: Duration,
    /// How often a node probes the peers it watches (a dead peer is noticed in about three
    /// times this, and by the whole mesh a little later). Taken as 100 ms if shorter: a node
    /// answers at most one probe per 100 ms on a stream.
    pub ping_every: Duration,
    /// How often a node compares what it holds of the members with one peer's, to find
    /// what it missed (a comparison of equal holdings costs a few hundred bytes).
    pub gossip_every: Duration,
}

impl Config {
    /// Defaults: listen on port 7301 of every interface, mDNS on, no bootstrap peer.
    pub fn new(identity: Identity, swarm_key: SwarmKey) -> Config {
        Config {
            identity,
            swarm_key,
            listen: vec![format!("/ip4/0.0.0.0/tcp/{DEFAULT_PORT}")],
            peers: Vec::new(),
            mdns: true,
            operators: None,
            query_timeout: Duration::from_secs(30),
            reattach_for: Duration::from_secs(60),
            max_message: 8 * 1024 * 1024,
            limits: Limits::default(),
            grace: armonic_lifecycle::interrupt::DEFAULT_GRACE,
            ping_every: Duration::from_secs(1),
            gossip_every: Duration::from_secs(5),
        }
    }
}

/// Why the mesh cannot start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A key cannot be used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// An address or peer id is not valid.
    #[error("{what} '{value}' is not valid: {reason}")]
    Invalid {
        /// What it is (`--peer`, `--listen`, `--operator`).
        what: &'static str,
        /// As given.
        value: String,
        /// Why.
        reason: String,
    },
    /// The swarm could not be built or could not listen.
    #[error("cannot start the mesh: {0}")]
    Start(String),
}

/// `/ip4/…/tcp/…`, or `IP:PORT` (or `[IPv6]:PORT`).
fn address(what: &'static str, text: &str) -> Result<Multiaddr, Error> {
    let invalid = |reason: String| Error::Invalid {
        what,
        value: text.to_owned(),
        reason,
    };
    if text.starts_with('/') {
        return text
            .parse()
            .map_err(|e: libp2p::multiaddr::Error| invalid(e.to_string()));
    }
    let socket: std::net::SocketAddr = text
        .parse()
        .map_err(|_| invalid("use /ip4/IP/tcp/PORT or IP:PORT".into()))?;
    let ip = match socket.ip() {
        std::net::IpAddr::V4(a) => format!("/ip4/{a}"),
        std::net::IpAddr::V6(a) => format!("/ip6/{a}"),
    };
    format!("{ip}/tcp/{}", socket.port())
        .parse()
        .map_err(|e: libp2p::multiaddr::Error| invalid(e.to_string()))
}

/// Starts a node: builds the swarm, listens, dials the bootstrap peers, and spawns the event
/// loop on the current tokio runtime. Calls and journal reads of other agents go to
/// `service`; a node without one serves none (it only calls).
pub async fn start(config: Config, service: Option<Arc<dyn Service>>) -> Result<Handle, Error> {
    let listen = config
        .listen
        .iter()
        .map(|a| address("--listen", a))
        .collect::<Result<Vec<_>, _>>()?;
    let bootstrap = config
        .peers
        .iter()
        .map(|a| address("--peer", a))
        .collect::<Result<Vec<_>, _>>()?;
    let operators = match &config.operators {
        None => None,
        Some(ops) => Some(
            ops.iter()
                .map(|o| {
                    o.parse::<PeerId>().map_err(|e| Error::Invalid {
                        what: "--operator",
                        value: o.clone(),
                        reason: e.to_string(),
                    })
                })
                .collect::<Result<HashSet<_>, _>>()?,
        ),
    };
    let local = config.identity.0.public().to_peer_id();
    let ping_every = config.ping_every.max(probes::ANSWER_EVERY);
    let options = swarm::Options {
        mdns: config.mdns,
        max_message: config.max_message,
        // A peer holding more streams than it may serve gets the rest refused, not queued.
        max_streams: config.limits.per_peer * 2 + 16,
    };
    let view = Arc::new(RwLock::new(view::View::new(
        local,
        members::now_ms(),
        config.max_message,
    )));
    let mut swarm = swarm::build(
        config.identity.0.clone(),
        config.swarm_key.0,
        &options,
        book::Book::new(Arc::clone(&view)),
    )
    .map_err(|e| Error::Start(e.to_string()))?;
    for addr in listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| Error::Start(format!("cannot listen on {addr}: {e}")))?;
    }
    for addr in &bootstrap {
        let _ = swarm.dial(addr.clone());
    }
    let mut control = swarm.behaviour().streams.new_control();
    let (tx, rx) = mpsc::channel(1024);
    let (differ_tx, differ) = mpsc::channel(64);
    let probes = probes::Probes::start(Arc::clone(&view), control.clone(), ping_every, differ_tx)
        .map_err(|e| Error::Start(e.to_string()))?;
    let event_loop = event_loop::EventLoop {
        swarm,
        commands: rx,
        view: Arc::clone(&view),
        bootstrap,
        syncing: HashMap::new(),
        pushing: 0,
        wanting: HashMap::new(),
        asked: HashMap::new(),
        shaping: HashMap::new(),
        comparing: HashMap::new(),
        compared_at: std::time::Instant::now(),
        flush_at: None,
        last_round: std::time::Instant::now(),
        gossip_every: config.gossip_every,
        silence: ping_every * 3,
        pace: event_loop::Pace::new(),
        health: event_loop::Health::default(),
        ping_every,
        watching: HashSet::new(),
        probes,
        differ,
        rng: event_loop::Rng::new(&local),
        chosen: HashMap::new(),
        chosen_at: std::time::Instant::now(),
        sync_soon: false,
    };
    let links = Arc::new(links::Links {
        view,
        local,
        control: control.clone(),
        query_timeout: config.query_timeout,
        reattach_for: config.reattach_for,
        idle: std::sync::Mutex::new(HashMap::new()),
        commands: tx.downgrade(),
    });
    let handle = Handle {
        inner: Arc::new(handle::Inner {
            commands: tx,
            links: Arc::clone(&links),
        }),
    };
    if let Some(service) = service {
        let incoming = control
            .accept(links::PROTOCOL)
            .map_err(|e| Error::Start(e.to_string()))?;
        let serving = Arc::new(calls::Serving {
            service: calls::Here {
                service,
                links: Arc::clone(&links),
            },
            budget: armonic_proto::io::Budget::new(config.limits.budget),
            limits: config.limits.clone(),
            operators,
            grace: config.grace,
            open: std::sync::Mutex::new(HashMap::new()),
        });
        tokio::spawn(calls::serve_incoming(incoming, serving, links));
    }
    tokio::spawn(event_loop.run());
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_given_as_multiaddresses_or_ip_and_port() {
        assert_eq!(
            address("--peer", "127.0.0.1:7301").unwrap().to_string(),
            "/ip4/127.0.0.1/tcp/7301"
        );
        assert_eq!(
            address("--peer", "[::1]:7301").unwrap().to_string(),
            "/ip6/::1/tcp/7301"
        );
        assert!(address("--peer", "/ip4/10.0.0.1/tcp/1").is_ok());
        let bad = address("--peer", "web1").unwrap_err();
        assert!(bad.to_string().contains("IP:PORT"), "{bad}");
    }

    #[test]
    fn random_swarm_keys_differ() {
        let (a, b) = (SwarmKey::random().unwrap(), SwarmKey::random().unwrap());
        assert_ne!(a.fingerprint(), b.fingerprint());
    }
}
