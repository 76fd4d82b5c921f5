//! `fingerprint`: what the location runs, as a hash.

use armonic_lifecycle::Location;
use serde::{Deserialize, Serialize};

use super::{Context, Method, Route};
use crate::error::ApiError;

/// A fingerprint of the location's lifecycles and of the states they stand in (SHA-256,
/// hex): a saved plan is applied only while the fingerprint of each location it runs on is
/// the one it was made against.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {}

impl Method for Fingerprint {
    type Answer = String;
    const CHANGES_STATE: bool = false;

    fn route(&self) -> Route<'_> {
        Route::Here
    }

    fn apply(self, location: &Location, _: &Context) -> Result<Self::Answer, ApiError> {
        Ok(location.fingerprint())
    }

    fn example() -> Self {
        Fingerprint {}
    }
}
