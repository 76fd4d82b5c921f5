//! What agents say to each other: protocol names, the messages of each, gossip topics.

use armonic_lifecycle::LogRecord;
use armonic_proto::{ApiError, Request, Response};
use serde::{Deserialize, Serialize};

/// The agent API (one request, one reply).
pub const API: &str = "/armonic/api/1";
/// A peer's catalogue.
pub const CATALOGUE: &str = "/armonic/catalogue/1";
/// Identify's protocol version: peers of other meshes or versions are told apart.
pub const IDENTIFY: &str = "/armonic/1";
/// Gossip topic of catalogue digests.
pub const DIGESTS: &str = "armonic/1/catalogue";

/// Gossip topic of the log lines of deployment `id`.
pub fn log_topic(id: &str) -> String {
    format!("armonic/1/logs/{id}")
}

/// A call of the agent API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiCall {
    /// Chosen by the caller, unique: the log lines of the call carry it.
    pub call: String,
    /// The request.
    pub request: Request,
}

/// The reply to an [`ApiCall`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiReply {
    /// What the call gave.
    pub result: Result<Response, ApiError>,
    /// Every log line of the call, in order (line `i` is the one numbered `i` on the
    /// deployment's topic): a caller that missed one live gets it here, before the result.
    pub logs: Vec<LogRecord>,
    /// Lines left out of `logs` because there were too many.
    #[serde(default)]
    pub dropped: u64,
}

/// A log line of a call, as published on its deployment's topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// The call it belongs to.
    pub call: String,
    /// Its position among the call's lines, from 0.
    pub seq: u64,
    /// The line.
    pub record: LogRecord,
}

/// What an agent says on the digest topic: its catalogue's digest, and where it listens (so
/// that peers who heard of it through others can dial it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Announce {
    /// The digest.
    pub digest: armonic_proto::Digest,
    /// Its listen addresses.
    pub addrs: Vec<String>,
}

/// Asks a peer for its catalogue.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct CatalogueRequest;
