//! The journal as it travels: what a reader of an agent's journal receives ([`Entry`]) and
//! what it asks for ([`Query`]). How the journal is kept is `armonic-journal`'s business.

use armonic_lifecycle::LogRecord;
use serde::{Deserialize, Serialize};

use crate::call::{CallId, Caller, DeploymentId};
use crate::error::ApiError;
use crate::method::{Request, Response};

/// One entry of an agent's journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Its position in the journal: numbers grow by one per entry, for the agent's life and
    /// across its restarts.
    pub n: u64,
    /// When, in milliseconds since the Unix epoch (the agent's clock).
    pub time_ms: u64,
    /// What happened.
    pub what: What,
}

/// What a journal entry says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum What {
    /// A call that changes states began.
    Call {
        /// Its id.
        id: CallId,
        /// Who asked.
        caller: Option<Caller>,
        /// Whom the caller said it acted for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on_behalf_of: Option<String>,
        /// The deployment.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deployment: Option<DeploymentId>,
        /// The lifecycle it calls, when the agent could tell from its address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lifecycle: Option<String>,
        /// The request.
        request: Request,
        /// The step of its deployment it is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        /// Its deployment whole, kept with the first call of the deployment this agent ran.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plan: Option<std::sync::Arc<crate::call::DeploymentDoc>>,
    },
    /// A log line of a call.
    Line {
        /// The call.
        id: CallId,
        /// Its number among the call's lines, from 0.
        seq: u64,
        /// The line.
        record: LogRecord,
    },
    /// A call ended.
    End {
        /// The call.
        id: CallId,
        /// How many lines it wrote.
        lines: u64,
        /// How long it ran, in milliseconds.
        millis: u64,
        /// Its answer.
        result: Result<Response, ApiError>,
    },
    /// A read was answered (listings, paths, validations…): who asked what, and whether it
    /// failed.
    Read {
        /// Who asked.
        caller: Option<Caller>,
        /// Whom the caller said it acted for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on_behalf_of: Option<String>,
        /// The method.
        method: String,
        /// The address it named.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
        /// The kind of error, when it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Something of the agent itself: it started, stopped, found a call its last run left
    /// unfinished.
    Agent {
        /// What.
        message: String,
    },
}

impl Entry {
    /// The call the entry is about, if any.
    pub fn call(&self) -> Option<&CallId> {
        match &self.what {
            What::Call { id, .. } | What::Line { id, .. } | What::End { id, .. } => Some(id),
            What::Read { .. } | What::Agent { .. } => None,
        }
    }
}

/// Which entries of a journal a reader wants. Every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Query {
    /// Only the calls of this deployment (their start, lines and end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentId>,
    /// Only this call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<CallId>,
    /// Only calls on this lifecycle (their request names it, or their lines come from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<String>,
    /// Only calls and reads whose caller (or whom it acted for) contains this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// Only entries at or after this time (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<u64>,
    /// Only entries before this time (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<u64>,
    /// Leave out log lines.
    #[serde(default)]
    pub no_lines: bool,
    /// Leave out reads.
    #[serde(default)]
    pub no_reads: bool,
    /// After what is there, new entries as they come, until the reader stops.
    #[serde(default)]
    pub follow: bool,
}
