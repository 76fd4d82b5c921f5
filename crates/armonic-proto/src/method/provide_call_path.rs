//! `provide_call_path`: how to reach the states of provides.

use armonic_lifecycle::{Address, Location};
use serde::{Deserialize, Serialize};

use super::{Context, Method, Route, example_address};
use crate::error::ApiError;

/// The paths to the state of each provide `xpath` names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvideCallPath {
    /// The address.
    pub xpath: Address,
}

impl Method for ProvideCallPath {
    type Answer = Vec<armonic_lifecycle::info::Paths>;
    const CHANGES_STATE: bool = false;

    fn route(&self) -> Route<'_> {
        Route::Listing(&self.xpath)
    }

    fn apply(self, location: &Location, _: &Context) -> Result<Self::Answer, ApiError> {
        Ok(location.provide_call_path(&self.xpath)?)
    }

    fn example() -> Self {
        ProvideCallPath {
            xpath: example_address("//start"),
        }
    }
}
