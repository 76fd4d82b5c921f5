//! What goes over a connection to an agent (its control socket, or a call stream of the
//! mesh), after the [`Hello`](crate::Hello)s: calls, their log lines and answers, journal
//! reads. Every exchange is named by an `id` the client chose, unique on its connection.
//!
//! A call's lines come numbered ([`ServerMessage::Lines`]), in order, then its
//! [`ServerMessage::Reply`]. A client whose connection broke sends the same call again (same
//! [`CallId`], `again`, `from_seq` = the next line it wants): the agent does not run it
//! twice, it sends the rest and the answer.

use serde::{Deserialize, Serialize};

use crate::call::{CallId, DeploymentId};
use crate::error::ApiError;
use crate::journal::{Entry, Query};
use crate::lines::LogBatch;
use crate::method::{Request, Response};

/// From a client to an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "message", rename_all = "snake_case")]
pub enum ClientMessage {
    /// A call (or a caller re-attaching to one: same `call`, `again`).
    Call {
        /// Names this exchange on the connection.
        id: u64,
        /// The call's own id, across connections.
        call: CallId,
        /// The request.
        request: Request,
        /// The location it is for, when the agent should not route it by its address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location: Option<String>,
        /// The deployment it belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deployment: Option<DeploymentId>,
        /// Lines before this one were received already.
        #[serde(default)]
        from_seq: u64,
        /// Sent before: the agent may have it.
        #[serde(default)]
        again: bool,
        /// Whom the caller acts for (kept beside who the caller is).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on_behalf_of: Option<String>,
        /// The location the call is made for (`caller.*` of its steps).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caller_location: Option<armonic_lifecycle::CallerLocation>,
        /// The step of its deployment it is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        /// Its deployment, whole.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plan: Option<std::sync::Arc<crate::call::DeploymentDoc>>,
    },
    /// Stop call `id`: SIGTERM to its commands, SIGKILL after `grace_ms` (the agent's own
    /// grace when absent); with `kill`, SIGKILL at once.
    Cancel {
        /// The call.
        id: u64,
        /// Kill at once.
        #[serde(default)]
        kill: bool,
        /// Time between SIGTERM and SIGKILL.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grace_ms: Option<u64>,
    },
    /// Read the journal: the entries `query` selects, and with `query.follow` new ones as
    /// they come, until [`ClientMessage::Close`].
    Read {
        /// Names this exchange.
        id: u64,
        /// What to read.
        query: Query,
        /// Of this location only (another agent of the mesh); of every agent of the mesh
        /// when `all`, else of the agent's own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location: Option<String>,
        /// Of every live agent of the mesh.
        #[serde(default)]
        all: bool,
    },
    /// Stop read `id`.
    Close {
        /// The read.
        id: u64,
    },
}

impl ClientMessage {
    /// The exchange it belongs to.
    pub fn id(&self) -> u64 {
        match self {
            ClientMessage::Call { id, .. }
            | ClientMessage::Cancel { id, .. }
            | ClientMessage::Read { id, .. }
            | ClientMessage::Close { id } => *id,
        }
    }

    /// Decodes a frame's payload; when it does not decode, the error comes with the id of
    /// the exchange if that much could be read, so that the client waiting for it hears why.
    /// A call's method must be named, and named as in the list of methods: anything else
    /// is refused, saying which methods there are ([`crate::method::check_name`]).
    pub fn decode(payload: &[u8]) -> Result<ClientMessage, (Option<u64>, ApiError)> {
        let value = crate::frame::decode::<ciborium::Value>(payload).map_err(|e| (None, e))?;
        let field = |map: &ciborium::Value, name: &str| {
            map.as_map()?
                .iter()
                .find(|(k, _)| k.as_text() == Some(name))
                .map(|(_, v)| v.clone())
        };
        let id = field(&value, "id")
            .and_then(|v| v.as_integer())
            .and_then(|i| u64::try_from(i).ok());
        if field(&value, "message")
            .and_then(|m| m.into_text().ok())
            .as_deref()
            == Some("call")
        {
            let method = field(&value, "request").and_then(|r| field(&r, "method"));
            let named = match &method {
                Some(ciborium::Value::Text(name)) => crate::method::check_name(name),
                _ => Err(ApiError::InvalidRequest {
                    message: format!(
                        "a call names its method: one of {}",
                        crate::method::NAMES.join(", ")
                    ),
                }),
            };
            named.map_err(|e| (id, e))?;
        }
        value.deserialized::<ClientMessage>().map_err(|e| {
            (
                id,
                ApiError::Protocol {
                    message: format!("undecodable message: {e}"),
                },
            )
        })
    }
}

/// From an agent to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "message", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Log lines of call `id`, the first numbered `seq` (from 0 without gaps, unless a
    /// [`ServerMessage::Missed`] says otherwise).
    Lines {
        /// The call.
        id: u64,
        /// The number of the first.
        seq: u64,
        /// The lines.
        lines: LogBatch,
    },
    /// The client fell so far behind call `id` that `count` lines were not kept for it.
    Missed {
        /// The call.
        id: u64,
        /// How many.
        count: u64,
    },
    /// The journal of `location` could not be read for read `id`.
    Unread {
        /// The read.
        id: u64,
        /// Whose journal.
        location: String,
        /// Why.
        error: String,
    },
    /// The end of call `id`, after its last line.
    Reply {
        /// The call.
        id: u64,
        /// What it gave.
        result: Result<Response, ApiError>,
    },
    /// Entries of read `id`, from the journal of `location`.
    Entries {
        /// The read.
        id: u64,
        /// Whose journal.
        location: String,
        /// The entries, in the journal's order.
        entries: Vec<Entry>,
    },
    /// Read `id` has sent what the journals held when it began: what follows is new.
    CaughtUp {
        /// The read.
        id: u64,
    },
    /// The end of read `id` (it was closed, or failed).
    Ended {
        /// The read.
        id: u64,
        /// Why it ended, if not because it was closed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ApiError>,
    },
    /// The agent is there: said on a connection with exchanges open when nothing else was
    /// said for a while (a step printing nothing), so that the client can tell a silent step
    /// from an agent gone.
    Alive,
    /// Something the agent could not take (an undecodable frame, too many calls…); `id`
    /// when it is known. A refusal without an id ends every exchange of the connection.
    Refused {
        /// The exchange it concerns, if known.
        id: Option<u64>,
        /// Why.
        error: ApiError,
    },
}

impl ServerMessage {
    /// The exchange it belongs to, if it names one.
    pub fn id(&self) -> Option<u64> {
        match self {
            ServerMessage::Lines { id, .. }
            | ServerMessage::Missed { id, .. }
            | ServerMessage::Unread { id, .. }
            | ServerMessage::Reply { id, .. }
            | ServerMessage::Entries { id, .. }
            | ServerMessage::CaughtUp { id }
            | ServerMessage::Ended { id, .. } => Some(*id),
            ServerMessage::Refused { id, .. } => *id,
            ServerMessage::Alive => None,
        }
    }
}
