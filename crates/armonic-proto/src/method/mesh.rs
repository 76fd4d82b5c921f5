//! `mesh`: what this end knows of the mesh.

use armonic_lifecycle::Location;
use serde::{Deserialize, Serialize};

use super::{Context, Method, Route};
use crate::error::ApiError;

/// Every member of the mesh this end knows, live or not, itself included (marked).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Mesh {}

impl Method for Mesh {
    type Answer = Vec<crate::PeerInfo>;
    const CHANGES_STATE: bool = false;

    fn route(&self) -> Route<'_> {
        Route::Everywhere
    }

    /// A location on its own knows no peer.
    fn apply(self, _: &Location, _: &Context) -> Result<Self::Answer, ApiError> {
        Ok(Vec::new())
    }

    fn example() -> Self {
        Mesh {}
    }
}
