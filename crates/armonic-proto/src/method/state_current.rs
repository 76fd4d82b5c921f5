//! `state_current`: where lifecycles stand.

use armonic_lifecycle::{Address, Location};
use serde::{Deserialize, Serialize};

use super::{Context, Method, Route, example_address};
use crate::error::ApiError;

/// The current state of each lifecycle enclosing what `xpath` matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateCurrent {
    /// The address.
    pub xpath: Address,
}

impl Method for StateCurrent {
    type Answer = Vec<armonic_lifecycle::info::CurrentState>;
    const CHANGES_STATE: bool = false;

    fn route(&self) -> Route<'_> {
        Route::Listing(&self.xpath)
    }

    fn apply(self, location: &Location, _: &Context) -> Result<Self::Answer, ApiError> {
        Ok(location.state_current(&self.xpath)?)
    }

    fn example() -> Self {
        StateCurrent {
            xpath: example_address("//WebServer"),
        }
    }
}
