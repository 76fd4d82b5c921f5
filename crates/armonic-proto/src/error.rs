//! The errors of the agent API, typed, on the wire and in the CLI alike.

use armonic_lifecycle::{Kind, VariableError, list_errors};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a request failed. `Display` is what the command line prints after `error: `.
///
/// An agent that cannot be reached is [`ApiError::Unreachable`] or [`ApiError::Timeout`],
/// never an empty answer: a deployment must not take a dead agent for one that does not
/// offer a provide.
#[derive(Debug, Clone, PartialEq, Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ApiError {
    /// The address is malformed.
    #[error("{message}")]
    InvalidAddress {
        /// What is wrong, with the address.
        message: String,
    },
    /// The address matches no resource.
    #[error("{xpath} matches nothing")]
    NoMatch {
        /// The address.
        xpath: String,
    },
    /// An address that must name one resource names several.
    #[error("{xpath} matches several resources: {}", .matches.join(", "))]
    MultipleMatch {
        /// The address.
        xpath: String,
        /// What it matched.
        matches: Vec<String>,
    },
    /// The address names a resource of another kind.
    #[error("{xpath} is a {found}, not a {expected}")]
    WrongKind {
        /// The address.
        xpath: String,
        /// The kind needed.
        expected: Kind,
        /// The kind found.
        found: Kind,
    },
    /// No path leads where the call needs to go (or the path asked for does not exist).
    #[error("{message}")]
    NoPath {
        /// Which lifecycle, from where, to where.
        message: String,
    },
    /// Submitted values do not validate: every error, nothing was changed.
    #[error("provided values do not meet the requires: {}", list_errors(.errors))]
    Validation {
        /// Every variable in error.
        errors: Vec<VariableError>,
    },
    /// Values or arguments the agent cannot use (a value for no variable, an index beyond
    /// a require's `nargs`…).
    #[error("{message}")]
    InvalidRequest {
        /// What is wrong.
        message: String,
    },
    /// An action failed; the states entered before it stay entered.
    #[error("{message}")]
    ActionFailed {
        /// What failed and why.
        message: String,
        /// The last lines its command wrote on standard error, if one failed.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        output_tail: Vec<String>,
    },
    /// The call was interrupted (Ctrl-C, SIGTERM, the agent shutting down).
    #[error("{message}")]
    Interrupted {
        /// What was interrupted, and whether it may have partly run.
        message: String,
    },
    /// The agent cannot take the call now (a step a dead process left still runs, the state
    /// directory is in use…).
    #[error("{message}")]
    Busy {
        /// Why, and what to do.
        message: String,
    },
    /// The caller may not make this call.
    #[error("unauthorized: {message}")]
    Unauthorized {
        /// Why.
        message: String,
    },
    /// The agent of a location cannot be reached.
    #[error("location {location} is unreachable: {message}")]
    Unreachable {
        /// The location.
        location: String,
        /// Why.
        message: String,
    },
    /// The call was made but its outcome could not be learned: the agent running it went
    /// away during the step (it may have partly run). Its journal settles it later.
    #[error("the outcome on {location} is unknown: {message}")]
    Unknown {
        /// The location.
        location: String,
        /// What happened.
        message: String,
    },
    /// The agent did not answer in time.
    #[error("location {location} did not answer within {seconds} s")]
    Timeout {
        /// The location.
        location: String,
        /// The time allowed.
        seconds: u64,
    },
    /// The two ends do not speak the same protocol version.
    #[error("protocol version mismatch: this end speaks {ours}, the other {theirs}")]
    VersionMismatch {
        /// This end's version.
        ours: u32,
        /// The other end's.
        theirs: u32,
    },
    /// A message that could not be decoded, or that came out of turn.
    #[error("protocol error: {message}")]
    Protocol {
        /// What was wrong.
        message: String,
    },
    /// A message larger than allowed; it was not read.
    #[error("message too large: {size} bytes (at most {max})")]
    TooLarge {
        /// Its announced size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The agent could not keep or use its state (a disk error…).
    #[error("{message}")]
    Agent {
        /// What failed.
        message: String,
    },
}

impl ApiError {
    /// A short, stable name of the kind of error, for scripts (`no_match`, `validation`…).
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::InvalidAddress { .. } => "invalid_address",
            ApiError::NoMatch { .. } => "no_match",
            ApiError::MultipleMatch { .. } => "multiple_match",
            ApiError::WrongKind { .. } => "wrong_kind",
            ApiError::NoPath { .. } => "no_path",
            ApiError::Validation { .. } => "validation",
            ApiError::InvalidRequest { .. } => "invalid_request",
            ApiError::ActionFailed { .. } => "action_failed",
            ApiError::Interrupted { .. } => "interrupted",
            ApiError::Busy { .. } => "busy",
            ApiError::Unauthorized { .. } => "unauthorized",
            ApiError::Unreachable { .. } => "unreachable",
            ApiError::Timeout { .. } => "timeout",
            ApiError::Unknown { .. } => "unknown",
            ApiError::VersionMismatch { .. } => "version_mismatch",
            ApiError::Protocol { .. } => "protocol",
            ApiError::TooLarge { .. } => "too_large",
            ApiError::Agent { .. } => "agent",
        }
    }

    /// Whether the agent could not be reached at all (as opposed to an answer from it).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            ApiError::Unreachable { .. } | ApiError::Timeout { .. }
        )
    }
}

impl From<armonic_lifecycle::Error> for ApiError {
    fn from(e: armonic_lifecycle::Error) -> ApiError {
        use armonic_lifecycle::Error as E;
        let message = e.to_string();
        match e {
            E::Address(_) => ApiError::InvalidAddress { message },
            E::NoMatch { xpath } => ApiError::NoMatch { xpath },
            E::MultipleMatch { xpath, matches } => ApiError::MultipleMatch { xpath, matches },
            E::WrongKind {
                xpath,
                expected,
                found,
            } => ApiError::WrongKind {
                xpath,
                expected,
                found,
            },
            E::NoPath { .. } | E::PathIndex { .. } => ApiError::NoPath { message },
            E::Validation(errors) => ApiError::Validation { errors },
            E::EnterNotCallable { .. }
            | E::UnknownValue { .. }
            | E::ValueIndex { .. }
            | E::InvalidName { .. } => ApiError::InvalidRequest { message },
            E::Enter { source, .. }
            | E::Leave { source, .. }
            | E::Provide { source, .. }
            | E::Cross { source, .. } => ApiError::ActionFailed {
                output_tail: source.output_tail().to_vec(),
                message,
            },
            E::Interrupted { .. } => ApiError::Interrupted { message },
            E::StepStillRunning { .. } => ApiError::Busy { message },
            E::StateDir(armonic_lifecycle::OpenError::Locked { .. })
            | E::StateDir(armonic_lifecycle::OpenError::GaveUp { .. }) => {
                ApiError::Busy { message }
            }
            E::StateDir(_) | E::Persist { .. } => ApiError::Agent { message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_keep_their_message_and_get_a_kind() {
        let e = ApiError::from(armonic_lifecycle::Error::NoMatch {
            xpath: "//X".into(),
        });
        assert_eq!(e.to_string(), "//X matches nothing");
        assert_eq!(e.kind(), "no_match");
        assert!(!e.is_unreachable());
        let dead = ApiError::Unreachable {
            location: "web1".into(),
            message: "connection refused".into(),
        };
        assert!(dead.is_unreachable());
        assert_eq!(dead.kind(), "unreachable");
    }
}
