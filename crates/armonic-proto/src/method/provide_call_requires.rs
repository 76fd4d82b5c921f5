//! `provide_call_requires`: what calling a provide needs.

use armonic_lifecycle::{Address, Location};
use serde::{Deserialize, Serialize};

use super::{Context, Method, Route, example_address};
use crate::error::ApiError;

/// What calling provide `uri` along path `path_idx` needs: the enter provides with requires
/// along the path, then the provide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvideCallRequires {
    /// The provide (one resource).
    pub uri: Address,
    /// Which path.
    #[serde(default)]
    pub path_idx: usize,
}

impl Method for ProvideCallRequires {
    type Answer = Vec<armonic_lifecycle::info::ProvideInfo>;
    const CHANGES_STATE: bool = false;

    fn route(&self) -> Route<'_> {
        Route::Resource(&self.uri)
    }

    fn apply(self, location: &Location, _: &Context) -> Result<Self::Answer, ApiError> {
        Ok(location.provide_call_requires(&self.uri, self.path_idx)?)
    }

    fn example() -> Self {
        ProvideCallRequires {
            uri: example_address("//WebServer//start"),
            path_idx: 0,
        }
    }
}
