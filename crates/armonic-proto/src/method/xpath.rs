//! `xpath`: what an address matches.

use armonic_lifecycle::{Address, Location};
use serde::{Deserialize, Serialize};

use super::{Context, Method, Route, example_address};
use crate::error::ApiError;

/// Every resource `xpath` matches, with its kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Xpath {
    /// The address.
    pub xpath: Address,
}

impl Method for Xpath {
    type Answer = Vec<armonic_lifecycle::info::Match>;
    const CHANGES_STATE: bool = false;

    fn route(&self) -> Route<'_> {
        Route::Listing(&self.xpath)
    }

    fn apply(self, location: &Location, _: &Context) -> Result<Self::Answer, ApiError> {
        Ok(location.xpath(&self.xpath)?)
    }

    fn example() -> Self {
        Xpath {
            xpath: example_address("//port"),
        }
    }
}
