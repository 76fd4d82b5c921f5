//! What agents say to each other: protocol names and the messages of each.

use serde::{Deserialize, Serialize};

/// Calls and journal reads: one stream each, carrying the frames of the control socket
/// (`armonic-proto`'s `ClientMessage`s and `ServerMessage`s, after a `Hello`).
pub const CALLS: &str = "/armonic/call/2";
/// Liveness: probes between watchers and the peers they watch, on one stream per watched
/// peer, each probe and each answer a frame of eight bytes (the sender's digest of the members
/// it holds, big-endian; see `probes.rs`).
pub const PROBE: &str = "/armonic/probe/3";
/// Membership: who is in the mesh, whether it is alive, where it listens, its catalogue.
pub const MEMBERS: &str = "/armonic/members/2";

/// Which of its lives a member's entry speaks of: `epoch` is when the agent started
/// (milliseconds since 1970), `incarnation` counts its entry's changes since. A greater stamp
/// is newer news.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Stamp {
    /// When the agent started, in milliseconds since 1970.
    pub epoch: u64,
    /// Changes of its entry since.
    pub incarnation: u64,
}

/// What is said of a member. At the same stamp, `Left` outranks `Down`, which outranks
/// `Alive`: only the member itself says it is alive again, with a greater stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Status {
    /// Answering.
    Alive,
    /// Taken for dead by a peer that watched it or lost its connection to it.
    Down,
    /// Said by the member itself as it shut down.
    Left,
}

/// One member, as agents pass it on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Its peer id (binary).
    #[serde(with = "serde_bytes")]
    pub id: Vec<u8>,
    /// Which of its lives, and which change of it.
    pub stamp: Stamp,
    /// What is said of it.
    pub status: Status,
    /// Where it listens (multiaddresses, binary).
    #[serde(default)]
    pub addrs: Vec<serde_bytes::ByteBuf>,
    /// Its catalogue's card (CBOR: its location, the catalogue's version, the current state
    /// of each lifecycle, and the hash of the catalogue's shape), in an entry saying it is
    /// alive; read only when the entry is news.
    #[serde(default)]
    pub card: Option<serde_bytes::ByteBuf>,
}

/// What an agent holds of one member: enough for another to tell which entries are news.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Have {
    /// Its peer id (binary).
    #[serde(with = "serde_bytes")]
    pub id: Vec<u8>,
    /// The stamp held.
    pub stamp: Stamp,
    /// The status held.
    pub status: Status,
}

/// What an agent says on [`MEMBERS`]; the answer is a [`MembersReply`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MembersRequest {
    /// What the asker holds (its own entry included): the answer gives the entries it lacks
    /// or holds older.
    Sync(Vec<Have>),
    /// Entries that are news to the sender, passed on (without their catalogues, but for
    /// the sender's own): the answer is empty.
    Push(Vec<Entry>),
    /// The entries of these members (peer ids, binary), in full: the answer gives those held.
    Want(Vec<serde_bytes::ByteBuf>),
    /// The shapes of these hashes (named by cards the asker was given): the answer gives
    /// those held, encoded.
    Shapes(Vec<serde_bytes::ByteBuf>),
    /// What the asker holds, as a digest per bucket of members (its own entry included; a
    /// member's bucket follows from its peer id): the answer names buckets that differ and
    /// what the answerer holds in them. Two agents that hold the same compare in a few
    /// hundred bytes, however large the mesh.
    Compare(Vec<u64>),
}

/// The answer to a [`MembersRequest`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MembersReply {
    /// Entries the asker lacks or holds older.
    #[serde(default)]
    pub entries: Vec<Entry>,
    /// Shapes asked for.
    #[serde(default)]
    pub shapes: Vec<serde_bytes::ByteBuf>,
    /// Buckets whose digests differ from the asker's (a few, not always all of them).
    #[serde(default)]
    pub buckets: Vec<u32>,
    /// What the answerer holds in those buckets.
    #[serde(default)]
    pub have: Vec<Have>,
}

/// How long an agent waits for an answer on [`MEMBERS`].
pub const MEMBERS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
