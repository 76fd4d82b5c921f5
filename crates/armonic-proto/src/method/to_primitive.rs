//! `to_primitive`: a lifecycle whole.

use armonic_lifecycle::Location;
use serde::{Deserialize, Serialize};

use super::{Context, Method, Route};
use crate::error::ApiError;

/// A lifecycle with its states, transitions and stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToPrimitive {
    /// The lifecycle (`Name` or `/location/Name`).
    pub lifecycle: String,
}

impl Method for ToPrimitive {
    type Answer = Box<armonic_lifecycle::info::LifecycleDetail>;
    const CHANGES_STATE: bool = false;

    fn route(&self) -> Route<'_> {
        Route::Lifecycle(&self.lifecycle)
    }

    fn apply(self, location: &Location, _: &Context) -> Result<Self::Answer, ApiError> {
        Ok(Box::new(location.to_primitive(&self.lifecycle)?))
    }

    fn example() -> Self {
        ToPrimitive {
            lifecycle: "/vm/WebServer".into(),
        }
    }
}
