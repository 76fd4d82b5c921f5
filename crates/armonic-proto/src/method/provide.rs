//! `provide`: the provides an address names.

use armonic_lifecycle::{Address, Location};
use serde::{Deserialize, Serialize};

use super::{Context, Method, Route, example_address};
use crate::error::ApiError;

/// The provides `xpath` names whose state is entered or reachable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provide {
    /// The address.
    pub xpath: Address,
}

impl Method for Provide {
    type Answer = Vec<armonic_lifecycle::info::ProvideInfo>;
    const CHANGES_STATE: bool = false;

    fn route(&self) -> Route<'_> {
        Route::Listing(&self.xpath)
    }

    fn apply(self, location: &Location, _: &Context) -> Result<Self::Answer, ApiError> {
        Ok(location.provide(&self.xpath)?)
    }

    fn example() -> Self {
        Provide {
            xpath: example_address("//start"),
        }
    }
}
