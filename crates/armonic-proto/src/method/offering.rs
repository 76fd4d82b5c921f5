//! `offering`: the locations whose catalogue offers a provide.

use armonic_lifecycle::{Address, Location};
use serde::{Deserialize, Serialize};

use super::{Context, Method, Route, example_address};
use crate::error::ApiError;

/// The live locations whose catalogue offers a provide `xpath` matches, by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offering {
    /// The address.
    pub xpath: Address,
}

impl Method for Offering {
    type Answer = Vec<String>;
    const CHANGES_STATE: bool = false;

    fn route(&self) -> Route<'_> {
        Route::Everywhere
    }

    fn apply(self, location: &Location, _: &Context) -> Result<Self::Answer, ApiError> {
        let offers = match location.provide(&self.xpath) {
            Ok(p) => !p.is_empty(),
            Err(armonic_lifecycle::Error::NoMatch { .. }) => false,
            Err(e) => return Err(e.into()),
        };
        Ok(if offers {
            vec![location.config().name.clone()]
        } else {
            Vec::new()
        })
    }

    fn example() -> Self {
        Offering {
            xpath: example_address("//WebServer//start"),
        }
    }
}
