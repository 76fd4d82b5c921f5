//! `provide_call`: calls a provide.

use armonic_lifecycle::{Address, Location, Value, Values};
use serde::{Deserialize, Serialize};

use super::{Context, Method, Route, example_address};
use crate::error::ApiError;

/// Calls provide `uri`, entering its state first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvideCall {
    /// The provide (one resource).
    pub uri: Address,
    /// The values.
    #[serde(default)]
    pub values: Values,
    /// Which path.
    #[serde(default)]
    pub path_idx: usize,
}

impl Method for ProvideCall {
    /// What the provide returned.
    type Answer = Option<Value>;
    const CHANGES_STATE: bool = true;

    fn route(&self) -> Route<'_> {
        Route::Resource(&self.uri)
    }

    fn apply(self, location: &Location, cx: &Context) -> Result<Self::Answer, ApiError> {
        Ok(location.provide_call(&self.uri, &self.values, &cx.options(self.path_idx))?)
    }

    fn example() -> Self {
        ProvideCall {
            uri: example_address("//WebServer//start"),
            values: Values::new().set("//conf/port", 8080),
            path_idx: 0,
        }
    }
}
