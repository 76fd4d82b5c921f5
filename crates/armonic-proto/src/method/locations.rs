//! `locations`: every location this end reaches.

use armonic_lifecycle::Location;
use serde::{Deserialize, Serialize};

use super::{Context, Method, Route};
use crate::error::ApiError;

/// Every location this end reaches, with facts about each: one for a location on its own,
/// more through a router or a member of a mesh.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Locations {}

impl Method for Locations {
    type Answer = Vec<armonic_lifecycle::info::Info>;
    const CHANGES_STATE: bool = false;

    fn route(&self) -> Route<'_> {
        Route::Everywhere
    }

    fn apply(self, location: &Location, _: &Context) -> Result<Self::Answer, ApiError> {
        Ok(vec![location.info()])
    }

    fn example() -> Self {
        Locations {}
    }
}
