//! `lifecycle`: lifecycles enclosing what an address matches.

use armonic_lifecycle::{Address, Location};
use serde::{Deserialize, Serialize};

use super::{Context, Method, Route, example_address};
use crate::error::ApiError;

/// Lifecycles enclosing what `xpath` matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// The address.
    pub xpath: Address,
}

impl Method for Lifecycle {
    type Answer = Vec<armonic_lifecycle::info::LifecycleInfo>;
    const CHANGES_STATE: bool = false;

    fn route(&self) -> Route<'_> {
        Route::Listing(&self.xpath)
    }

    fn apply(self, location: &Location, _: &Context) -> Result<Self::Answer, ApiError> {
        Ok(location.lifecycle(&self.xpath)?)
    }

    fn example() -> Self {
        Lifecycle {
            xpath: example_address("//*"),
        }
    }
}
