//! `state_goto_path`: how to reach states.

use armonic_lifecycle::{Address, Location};
use serde::{Deserialize, Serialize};

use super::{Context, Method, Route, example_address};
use crate::error::ApiError;

/// The paths from the current state to each state `xpath` matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateGotoPath {
    /// The address.
    pub xpath: Address,
}

impl Method for StateGotoPath {
    type Answer = Vec<armonic_lifecycle::info::Paths>;
    const CHANGES_STATE: bool = false;

    fn route(&self) -> Route<'_> {
        Route::Listing(&self.xpath)
    }

    fn apply(self, location: &Location, _: &Context) -> Result<Self::Answer, ApiError> {
        Ok(location.state_goto_path(&self.xpath)?)
    }

    fn example() -> Self {
        StateGotoPath {
            xpath: example_address("//WebServer/Active"),
        }
    }
}
