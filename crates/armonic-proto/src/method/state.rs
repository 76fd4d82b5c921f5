//! `state`: states enclosing what an address matches.

use armonic_lifecycle::{Address, Location};
use serde::{Deserialize, Serialize};

use super::{Context, Method, Route, example_address};
use crate::error::ApiError;

/// States enclosing what `xpath` matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The address.
    pub xpath: Address,
}

impl Method for State {
    type Answer = Vec<armonic_lifecycle::info::StateInfo>;
    const CHANGES_STATE: bool = false;

    fn route(&self) -> Route<'_> {
        Route::Listing(&self.xpath)
    }

    fn apply(self, location: &Location, _: &Context) -> Result<Self::Answer, ApiError> {
        Ok(location.state(&self.xpath)?)
    }

    fn example() -> Self {
        State {
            xpath: example_address("//WebServer"),
        }
    }
}
