//! `state_goto`: goes to a state.

use armonic_lifecycle::{Address, Location, Values};
use serde::{Deserialize, Serialize};

use super::{Context, Method, Route, example_address};
use crate::error::ApiError;

/// Goes to state `uri`, entering and leaving the states along the path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateGoto {
    /// The state (one resource).
    pub uri: Address,
    /// Values of the enter provides along the path.
    #[serde(default)]
    pub values: Values,
    /// Which path.
    #[serde(default)]
    pub path_idx: usize,
}

impl Method for StateGoto {
    /// Where each lifecycle now is.
    type Answer = Vec<armonic_lifecycle::info::CurrentState>;
    const CHANGES_STATE: bool = true;

    fn route(&self) -> Route<'_> {
        Route::Resource(&self.uri)
    }

    fn apply(self, location: &Location, cx: &Context) -> Result<Self::Answer, ApiError> {
        location.state_goto(&self.uri, &self.values, &cx.options(self.path_idx))?;
        Ok(location.state_current(&self.uri)?)
    }

    fn example() -> Self {
        StateGoto {
            uri: example_address("//WebServer/Configured"),
            values: Values::new().set("//conf/port", 8080),
            path_idx: 0,
        }
    }
}
