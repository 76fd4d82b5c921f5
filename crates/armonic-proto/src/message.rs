//! What goes over a connection to an agent, after the [`Hello`](crate::Hello)s: calls,
//! their log lines and replies, correlated by the id the client chose.
//!
//! A call's log lines come as [`ServerMessage::Log`] frames numbered from 0, in order, all of
//! them before its [`ServerMessage::Reply`]. Watching a deployment streams the log lines of
//! every call of that deployment, from any client, until the client stops watching.

use armonic_lifecycle::LogRecord;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::request::{DeploymentId, Request, Response};

/// From a client to an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "message", rename_all = "snake_case")]
pub enum ClientMessage {
    /// A request; `id` correlates its log lines and reply.
    Call {
        /// Chosen by the client, unique among its pending calls and watches.
        id: u64,
        /// The request.
        request: Request,
        /// The location it is for, when the agent should not route it by its address
        /// (another agent of the mesh, say).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location: Option<String>,
    },
    /// Stream the log lines of every call of `deployment`.
    Watch {
        /// Correlates the lines.
        id: u64,
        /// The deployment.
        deployment: DeploymentId,
    },
    /// Stop the watch `id`.
    Unwatch {
        /// The watch.
        id: u64,
    },
}

/// From an agent to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "message", rename_all = "snake_case")]
pub enum ServerMessage {
    /// A log line of call (or watch) `id`; `seq` counts from 0 without gaps.
    Log {
        /// The call or watch.
        id: u64,
        /// Its position.
        seq: u64,
        /// The line.
        record: LogRecord,
    },
    /// The end of call `id`: after its last log line.
    Reply {
        /// The call.
        id: u64,
        /// What it gave.
        result: Result<Response, ApiError>,
    },
    /// Something the agent could not take (an undecodable frame…); `id` when it is known.
    Refused {
        /// The call it concerns, if known.
        id: Option<u64>,
        /// Why.
        error: ApiError,
    },
}
