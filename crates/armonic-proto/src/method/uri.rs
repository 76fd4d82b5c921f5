//! `uri`: the addresses of what an address matches.

use armonic_lifecycle::{Address, Kind, Location};
use serde::{Deserialize, Serialize};

use super::{Context, Method, Route, example_address};
use crate::error::ApiError;

/// The addresses of what `xpath` matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Uri {
    /// The address.
    pub xpath: Address,
    /// Without the location.
    #[serde(default)]
    pub relative: bool,
    /// Only resources of this kind.
    #[serde(default)]
    pub kind: Option<Kind>,
}

impl Method for Uri {
    type Answer = Vec<String>;
    const CHANGES_STATE: bool = false;

    fn route(&self) -> Route<'_> {
        Route::Listing(&self.xpath)
    }

    fn apply(self, location: &Location, _: &Context) -> Result<Self::Answer, ApiError> {
        Ok(location.uri(&self.xpath, self.relative, self.kind)?)
    }

    fn example() -> Self {
        Uri {
            xpath: example_address("//*"),
            relative: true,
            kind: Some(Kind::Provide),
        }
    }
}
