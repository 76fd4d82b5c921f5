//! `state_goto_requires`: what going to a state needs.

use armonic_lifecycle::{Address, Location};
use serde::{Deserialize, Serialize};

use super::{Context, Method, Route, example_address};
use crate::error::ApiError;

/// The enter provides with requires along path `path_idx` to state `uri`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateGotoRequires {
    /// The state (one resource).
    pub uri: Address,
    /// Which path.
    #[serde(default)]
    pub path_idx: usize,
}

impl Method for StateGotoRequires {
    type Answer = Vec<armonic_lifecycle::info::ProvideInfo>;
    const CHANGES_STATE: bool = false;

    fn route(&self) -> Route<'_> {
        Route::Resource(&self.uri)
    }

    fn apply(self, location: &Location, _: &Context) -> Result<Self::Answer, ApiError> {
        Ok(location.state_goto_requires(&self.uri, self.path_idx)?)
    }

    fn example() -> Self {
        StateGotoRequires {
            uri: example_address("//WebServer/Active"),
            path_idx: 1,
        }
    }
}
