//! Errors of the engine's API.

use std::path::PathBuf;

use thiserror::Error;

use crate::action::ActionError;
use crate::address::{AddressError, Kind};
use crate::info::VariableError;
use crate::model::Nargs;

/// Why a call on a location failed.
#[derive(Debug, Error)]
pub enum Error {
    /// The address is malformed.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// The address matches no resource.
    #[error("{xpath} matches nothing")]
    NoMatch {
        /// The address.
        xpath: String,
    },
    /// An address that must name one resource (a URI) names several.
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
    /// `enter` is called through state changes, not directly.
    #[error("{xpath} is an enter provide: go to its state with state-goto instead")]
    EnterNotCallable {
        /// The address.
        xpath: String,
    },
    /// No path leads to the state.
    #[error("no path to go to state {state} of {lifecycle} from {from}")]
    NoPath {
        /// The lifecycle.
        lifecycle: String,
        /// The current state.
        from: String,
        /// The state asked for.
        state: String,
    },
    /// `path_idx` is past the last path.
    #[error(
        "path {index} does not exist to go to state {state} of {lifecycle} (there are {count})"
    )]
    PathIndex {
        /// The lifecycle.
        lifecycle: String,
        /// The state.
        state: String,
        /// The index asked for.
        index: usize,
        /// How many paths there are.
        count: usize,
    },
    /// A submitted value's address matches no variable of the location.
    #[error("value address {xpath} matches no variable")]
    UnknownValue {
        /// The address.
        xpath: String,
    },
    /// A submitted value names a value set the require cannot have; nothing was changed.
    #[error(
        "value {xpath} has set index {index}, but require {require} takes nargs {nargs} (indexes 0 to {})",
        .nargs.max() - 1
    )]
    ValueIndex {
        /// The address the value was given for.
        xpath: String,
        /// The set index given.
        index: usize,
        /// Absolute address of the require.
        require: String,
        /// How many sets the require takes.
        nargs: Nargs,
    },
    /// Submitted values do not validate; nothing was changed.
    #[error("provided values do not meet the requires: {}", list_errors(.0))]
    Validation(Vec<VariableError>),
    /// Entering a state failed: the states before it stay entered.
    #[error("entering state {state} of {lifecycle} failed: {source}")]
    Enter {
        /// The lifecycle.
        lifecycle: String,
        /// The state that failed.
        state: String,
        /// The cause.
        source: ActionError,
    },
    /// Leaving a state failed: it stays entered.
    #[error("leaving state {state} of {lifecycle} failed: {source}")]
    Leave {
        /// The lifecycle.
        lifecycle: String,
        /// The state that failed.
        state: String,
        /// The cause.
        source: ActionError,
    },
    /// The provide's action failed.
    #[error("provide {xpath} failed: {source}")]
    Provide {
        /// The provide.
        xpath: String,
        /// The cause.
        source: ActionError,
    },
    /// A cross action failed after the provide ran.
    #[error("cross action of state {state} of {lifecycle} failed: {source}")]
    Cross {
        /// The lifecycle.
        lifecycle: String,
        /// The state.
        state: String,
        /// The cause.
        source: ActionError,
    },
    /// A step was stopped (or never started) because an interrupt was requested.
    #[error("{lifecycle} was interrupted {}{step}{}", if *.started { "while " } else { "before " }, if *.started { "; the step may have partly run" } else { "; nothing of that step ran" })]
    Interrupted {
        /// The lifecycle.
        lifecycle: String,
        /// The step (`entering Configured`, `calling start of Active`…).
        step: String,
        /// Whether the step had started.
        started: bool,
    },
    /// A step a previous process left running still runs: state changes wait for its end.
    #[error("{message}")]
    StepStillRunning {
        /// What runs, where, and how to stop it.
        message: String,
    },
    /// A location (or lifecycle) name that cannot be used.
    #[error("{what} name {message}")]
    InvalidName {
        /// `location` or `lifecycle`.
        what: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The state directory cannot be used (in use by another process, not writable…).
    #[error(transparent)]
    StateDir(#[from] crate::persist::OpenError),
    /// The state of a lifecycle could not be saved.
    #[error("cannot save the state of {lifecycle} in {}: {source}", .path.display())]
    Persist {
        /// The lifecycle.
        lifecycle: String,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Variable errors on one line, as messages show them: `ADDRESS: message; ADDRESS[1]: …`.
pub fn list_errors(errors: &[VariableError]) -> String {
    errors
        .iter()
        .map(|e| {
            if e.index == 0 {
                format!("{}: {}", e.xpath, e.message)
            } else {
                format!("{}[{}]: {}", e.xpath, e.index, e.message)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// A short, stable name of the kind of error, for scripts (`no_match`, `validation`…).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Address(_) => "invalid_address",
            Error::NoMatch { .. } => "no_match",
            Error::MultipleMatch { .. } => "multiple_match",
            Error::WrongKind { .. } => "wrong_kind",
            Error::EnterNotCallable { .. } => "enter_not_callable",
            Error::NoPath { .. } => "no_path",
            Error::PathIndex { .. } => "no_path",
            Error::UnknownValue { .. } => "unknown_value",
            Error::ValueIndex { .. } => "invalid_value_index",
            Error::Validation(_) => "validation",
            Error::Enter { .. }
            | Error::Leave { .. }
            | Error::Provide { .. }
            | Error::Cross { .. } => "action_failed",
            Error::Interrupted { .. } => "interrupted",
            Error::StepStillRunning { .. } => "busy",
            Error::InvalidName { .. } => "invalid_name",
            Error::StateDir(crate::persist::OpenError::Locked { .. })
            | Error::StateDir(crate::persist::OpenError::GaveUp { .. }) => "busy",
            Error::StateDir(_) | Error::Persist { .. } => "state_directory",
        }
    }
}
