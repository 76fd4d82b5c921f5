//! Errors of a deployment.

use thiserror::Error;

use armonic_proto::ApiError;

/// Why a deployment could not be resolved.
#[derive(Debug, Error)]
pub enum Error {
    /// The frontend gave up (end of input, no answer unattended…). Nothing ran.
    #[error("deployment aborted: {0}")]
    Aborted(String),
    /// The mesh has no location.
    #[error("no location to deploy on")]
    NoLocations,
    /// No provide matches the address on the location, and no other location can be chosen.
    #[error("no provide matches {xpath} on location {location}{}", .required_by.as_ref().map(|r| format!(" (required by {r})")).unwrap_or_default())]
    NotFound {
        /// The generic address.
        xpath: String,
        /// The location.
        location: String,
        /// The provide that requires it.
        required_by: Option<String>,
    },
    /// A provide requires itself, through its dependencies.
    #[error("dependency cycle: {xpath} on {location} requires itself ({chain})")]
    Cycle {
        /// The provide.
        xpath: String,
        /// Its location.
        location: String,
        /// The requirers from the root down.
        chain: String,
    },
    /// The tree grows deeper than [`crate::MAX_DEPTH`]: a cycle through changing locations.
    #[error("the deployment is deeper than {max} levels at {xpath}: do its dependencies loop?")]
    TooDeep {
        /// Where the limit was reached.
        xpath: String,
        /// The limit.
        max: usize,
    },
    /// An agent failed to answer.
    #[error("location {location}: {source}")]
    Agent {
        /// The location.
        location: String,
        /// What it said.
        source: ApiError,
    },
    /// The agent refuses values no question can fix.
    #[error("location {location} refuses the values of {xpath}: {errors}")]
    Refused {
        /// The location.
        location: String,
        /// The provide.
        xpath: String,
        /// The errors.
        errors: String,
    },
    /// The record to replay was made for another root.
    #[error(
        "the record answers {recorded}, not {root}: replay it with that address or add --force"
    )]
    OtherRoot {
        /// The root the record was made for.
        recorded: String,
        /// The root deployed now.
        root: String,
    },
    /// The record to replay has a format version this one does not know.
    #[error(
        "unknown record format version {found} (this armonic reads version {}): add --force to replay it anyway",
        crate::FORMAT
    )]
    UnknownFormat {
        /// The record's version.
        found: u32,
    },
}

impl From<crate::question::Abort> for Error {
    fn from(a: crate::question::Abort) -> Self {
        Error::Aborted(a.0)
    }
}
