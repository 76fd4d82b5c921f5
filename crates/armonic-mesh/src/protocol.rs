//! What agents say to each other: protocol names, the messages of each, gossip topics.

use armonic_proto::Catalogue;
use serde::{Deserialize, Serialize};

/// Calls and journal reads: one stream each, carrying the frames of the control socket
/// (`armonic-proto`'s `ClientMessage`s and `ServerMessage`s, after a `Hello`).
pub const CALLS: &str = "/armonic/call/2";
/// A peer's catalogue, and the peers it knows.
pub const CATALOGUE: &str = "/armonic/catalogue/2";
/// Liveness: probes between watchers and the peers they watch, and word of a peer gone silent.
pub const PROBE: &str = "/armonic/probe/1";
/// Gossip topic of catalogue digests.
pub const DIGESTS: &str = "armonic/1/catalogue";

/// What an agent says on the digest topic: its catalogue's digest, and where it listens (so
/// that peers who heard of it through others can dial it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Announce {
    /// The digest.
    pub digest: armonic_proto::Digest,
    /// Its listen addresses.
    pub addrs: Vec<String>,
}

/// Asks a peer for its catalogue, saying where the asker listens: an agent that was dialed
/// learns there how to dial back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogueRequest {
    /// The asker's listen addresses (multiaddresses, binary).
    #[serde(default)]
    pub addrs: Vec<serde_bytes::ByteBuf>,
    /// Whether the answer is to list the peers the agent knows (asked once per connection:
    /// the catalogue is asked again on every change, the peers need not be).
    #[serde(default)]
    pub peers: bool,
}

/// How long an agent waits for a catalogue.
pub const CATALOGUE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Largest catalogue question: a few addresses.
pub const MAX_CATALOGUE_REQUEST: u64 = 4096;

/// Most peers a [`CatalogueReply`] lists; a receiver reads no further.
pub const MAX_KNOWN_PEERS: usize = 1024;

/// The answer to a [`CatalogueRequest`]: the catalogue, and the live peers the answering agent
/// is connected to, so that an agent meets the whole mesh through the first peer it reaches
/// instead of waiting to hear of each one's digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogueReply {
    /// The answering agent's catalogue.
    pub catalogue: Catalogue,
    /// Live peers it knows (never the asker), at most [`MAX_KNOWN_PEERS`]; only when asked.
    #[serde(default)]
    pub peers: Vec<KnownPeer>,
}

/// A peer and where it was seen, in the binary forms of peer ids and multiaddresses (cheaper
/// to make and read than their text, which counts when every agent meets every other).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnownPeer {
    /// Its peer id.
    #[serde(with = "serde_bytes")]
    pub id: Vec<u8>,
    /// Its addresses (multiaddresses).
    pub addrs: Vec<serde_bytes::ByteBuf>,
}

/// What an agent says on [`PROBE`]; the answer is an [`Ack`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Probe {
    /// Are you there? (Sent by a watcher, or to confirm another's word.)
    Ping,
    /// The sender watched this peer (its peer id, binary) and heard nothing for too long: it
    /// cut it. The receiver confirms before it does the same.
    Silent(#[serde(with = "serde_bytes")] Vec<u8>),
}

/// The answer to a [`Probe`]: here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {}

/// Largest probe: a peer id.
pub const MAX_PROBE: u64 = 256;
