//! `to_dot`: a lifecycle as a Graphviz digraph.

use armonic_lifecycle::Location;
use serde::{Deserialize, Serialize};

use super::{Context, Method, Route};
use crate::error::ApiError;

/// A lifecycle's state machine as a Graphviz digraph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToDot {
    /// The lifecycle (`Name` or `/location/Name`).
    pub lifecycle: String,
    /// Only the states reachable from the current one.
    #[serde(default)]
    pub reachable: bool,
}

impl Method for ToDot {
    type Answer = String;
    const CHANGES_STATE: bool = false;

    fn route(&self) -> Route<'_> {
        Route::Lifecycle(&self.lifecycle)
    }

    fn apply(self, location: &Location, _: &Context) -> Result<Self::Answer, ApiError> {
        Ok(location.to_dot(&self.lifecycle, self.reachable)?)
    }

    fn example() -> Self {
        ToDot {
            lifecycle: "WebServer".into(),
            reachable: true,
        }
    }
}
