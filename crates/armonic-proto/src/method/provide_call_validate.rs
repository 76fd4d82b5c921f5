//! `provide_call_validate`: whether values would do, changing nothing.

use armonic_lifecycle::{Address, Location, Values};
use serde::{Deserialize, Serialize};

use super::{Context, Method, Route, example_address};
use crate::error::ApiError;

/// Validates values for a call of `uri`; changes nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvideCallValidate {
    /// The provide (one resource).
    pub uri: Address,
    /// The values.
    #[serde(default)]
    pub values: Values,
    /// Which path.
    #[serde(default)]
    pub path_idx: usize,
}

impl Method for ProvideCallValidate {
    type Answer = armonic_lifecycle::info::Validation;
    const CHANGES_STATE: bool = false;

    fn route(&self) -> Route<'_> {
        Route::Resource(&self.uri)
    }

    fn apply(self, location: &Location, _: &Context) -> Result<Self::Answer, ApiError> {
        Ok(location.provide_call_validate(&self.uri, &self.values, self.path_idx)?)
    }

    fn example() -> Self {
        ProvideCallValidate {
            uri: example_address("//WebServer//start"),
            values: Values::new().set("//conf/port", 8080),
            path_idx: 0,
        }
    }
}
