//! `info`: facts about the location.

use armonic_lifecycle::Location;
use serde::{Deserialize, Serialize};

use super::{Context, Method, Route};
use crate::error::ApiError;

/// Facts about the location: name, OS, version, public address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Info {}

impl Method for Info {
    type Answer = armonic_lifecycle::info::Info;
    const CHANGES_STATE: bool = false;

    fn route(&self) -> Route<'_> {
        Route::Here
    }

    fn apply(self, location: &Location, _: &Context) -> Result<Self::Answer, ApiError> {
        Ok(location.info())
    }

    fn example() -> Self {
        Info {}
    }
}
