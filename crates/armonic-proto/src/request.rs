//! The agent API: one request enum, one response enum.
//!
//! Adding a method means adding a [`Request`] variant (and its [`Response`] if none fits) and
//! one arm in the dispatcher. Every state-changing request carries the deployment it belongs
//! to, so that its log lines can be followed from anywhere.

use std::fmt;

use armonic_lifecycle::info::{
    CurrentState, Info, LifecycleDetail, LifecycleInfo, Match, Paths, ProvideInfo, StateInfo,
    Validation,
};
use armonic_lifecycle::{Address, Kind, Value, Values};
use serde::{Deserialize, Serialize};

/// Identifies a deployment (or a single command) across machines: a UUID v4.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeploymentId(String);

impl DeploymentId {
    /// A new, random id.
    pub fn new() -> DeploymentId {
        DeploymentId(uuid::Uuid::new_v4().to_string())
    }

    /// An id given by someone else (a replayed record, the original's `uuid`).
    pub fn from_text(text: impl Into<String>) -> DeploymentId {
        DeploymentId(text.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for DeploymentId {
    fn default() -> DeploymentId {
        DeploymentId::new()
    }
}

impl fmt::Display for DeploymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A request to an agent: the original agent's API, typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Request {
    /// Facts about the location.
    Info,
    /// Every location this end reaches, with facts about each (one for an agent on its
    /// own; more through a router or a mesh).
    Locations,
    /// The live locations whose catalogue offers a provide `xpath` matches, by name.
    Offering {
        /// The address.
        xpath: Address,
    },
    /// What this end knows of the mesh: every peer, live or not.
    Mesh,
    /// Lifecycles enclosing what `xpath` matches.
    Lifecycle {
        /// The address.
        xpath: Address,
    },
    /// States enclosing what `xpath` matches.
    State {
        /// The address.
        xpath: Address,
    },
    /// The current state of each lifecycle enclosing what `xpath` matches.
    StateCurrent {
        /// The address.
        xpath: Address,
    },
    /// The paths from the current state to each state `xpath` matches.
    StateGotoPath {
        /// The address.
        xpath: Address,
    },
    /// The enter provides with requires along path `path_idx` to state `uri`.
    StateGotoRequires {
        /// The state (one resource).
        uri: Address,
        /// Which path.
        #[serde(default)]
        path_idx: usize,
    },
    /// Goes to state `uri`.
    StateGoto {
        /// The state (one resource).
        uri: Address,
        /// Values of the enter provides along the path.
        #[serde(default)]
        values: Values,
        /// Which path.
        #[serde(default)]
        path_idx: usize,
        /// The deployment this belongs to.
        deployment: DeploymentId,
    },
    /// The provides `xpath` names whose state is entered or reachable.
    Provide {
        /// The address.
        xpath: Address,
    },
    /// The paths to the state of each provide `xpath` names.
    ProvideCallPath {
        /// The address.
        xpath: Address,
    },
    /// What calling provide `uri` along path `path_idx` needs.
    ProvideCallRequires {
        /// The provide (one resource).
        uri: Address,
        /// Which path.
        #[serde(default)]
        path_idx: usize,
    },
    /// Validates values for a call of `uri`; changes nothing.
    ProvideCallValidate {
        /// The provide (one resource).
        uri: Address,
        /// The values.
        #[serde(default)]
        values: Values,
        /// Which path.
        #[serde(default)]
        path_idx: usize,
    },
    /// Calls provide `uri`, entering its state first.
    ProvideCall {
        /// The provide (one resource).
        uri: Address,
        /// The values.
        #[serde(default)]
        values: Values,
        /// Which path.
        #[serde(default)]
        path_idx: usize,
        /// The deployment this belongs to.
        deployment: DeploymentId,
    },
    /// A lifecycle's state machine as a Graphviz digraph.
    ToDot {
        /// The lifecycle (`Name` or `/location/Name`).
        lifecycle: String,
        /// Only the states reachable from the current one.
        #[serde(default)]
        reachable: bool,
    },
    /// A lifecycle with its states, transitions and stack.
    ToPrimitive {
        /// The lifecycle (`Name` or `/location/Name`).
        lifecycle: String,
    },
    /// The addresses of what `xpath` matches.
    Uri {
        /// The address.
        xpath: Address,
        /// Without the location.
        #[serde(default)]
        relative: bool,
        /// Only resources of this kind.
        #[serde(default)]
        kind: Option<Kind>,
    },
    /// Every resource `xpath` matches, with its kind.
    Xpath {
        /// The address.
        xpath: Address,
    },
}

impl Request {
    /// The method's name, as the original spelled it (`provide_call`).
    pub fn method(&self) -> &'static str {
        match self {
            Request::Info => "info",
            Request::Locations => "locations",
            Request::Offering { .. } => "offering",
            Request::Mesh => "mesh",
            Request::Lifecycle { .. } => "lifecycle",
            Request::State { .. } => "state",
            Request::StateCurrent { .. } => "state_current",
            Request::StateGotoPath { .. } => "state_goto_path",
            Request::StateGotoRequires { .. } => "state_goto_requires",
            Request::StateGoto { .. } => "state_goto",
            Request::Provide { .. } => "provide",
            Request::ProvideCallPath { .. } => "provide_call_path",
            Request::ProvideCallRequires { .. } => "provide_call_requires",
            Request::ProvideCallValidate { .. } => "provide_call_validate",
            Request::ProvideCall { .. } => "provide_call",
            Request::ToDot { .. } => "to_dot",
            Request::ToPrimitive { .. } => "to_primitive",
            Request::Uri { .. } => "uri",
            Request::Xpath { .. } => "xpath",
        }
    }

    /// Whether it changes states (and may be limited to operators).
    pub fn changes_state(&self) -> bool {
        matches!(
            self,
            Request::StateGoto { .. } | Request::ProvideCall { .. }
        )
    }

    /// The deployment a state-changing request belongs to.
    pub fn deployment(&self) -> Option<&DeploymentId> {
        match self {
            Request::StateGoto { deployment, .. } | Request::ProvideCall { deployment, .. } => {
                Some(deployment)
            }
            _ => None,
        }
    }

    /// The address the request names, if it names one.
    pub fn address(&self) -> Option<&Address> {
        match self {
            Request::Lifecycle { xpath }
            | Request::State { xpath }
            | Request::StateCurrent { xpath }
            | Request::StateGotoPath { xpath }
            | Request::Provide { xpath }
            | Request::ProvideCallPath { xpath }
            | Request::Uri { xpath, .. }
            | Request::Offering { xpath }
            | Request::Xpath { xpath } => Some(xpath),
            Request::StateGotoRequires { uri, .. }
            | Request::StateGoto { uri, .. }
            | Request::ProvideCallRequires { uri, .. }
            | Request::ProvideCallValidate { uri, .. }
            | Request::ProvideCall { uri, .. } => Some(uri),
            Request::Info
            | Request::Mesh
            | Request::Locations
            | Request::ToDot { .. }
            | Request::ToPrimitive { .. } => None,
        }
    }
}

/// What an agent answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Response {
    /// `info`.
    Info(Info),
    /// `locations`.
    Locations(Vec<Info>),
    /// `offering`: location names.
    Names(Vec<String>),
    /// `mesh`.
    Peers(Vec<crate::PeerInfo>),
    /// `lifecycle`.
    Lifecycles(Vec<LifecycleInfo>),
    /// `state`.
    States(Vec<StateInfo>),
    /// `state_current`.
    Current(Vec<CurrentState>),
    /// `state_goto_path`, `provide_call_path`.
    Paths(Vec<Paths>),
    /// `provide`, `state_goto_requires`, `provide_call_requires`.
    Provides(Vec<ProvideInfo>),
    /// `provide_call_validate`.
    Validation(Validation),
    /// `state_goto`: where each lifecycle now is.
    Moved(Vec<CurrentState>),
    /// `provide_call`: what the provide returned.
    Returned(Option<Value>),
    /// `to_dot`.
    Dot(String),
    /// `to_primitive`.
    Lifecycle(Box<LifecycleDetail>),
    /// `uri`.
    Uris(Vec<String>),
    /// `xpath`.
    Matches(Vec<Match>),
}

impl Response {
    /// The variant's name, for messages about an unexpected answer.
    pub fn name(&self) -> &'static str {
        match self {
            Response::Info(_) => "info",
            Response::Locations(_) => "locations",
            Response::Names(_) => "names",
            Response::Peers(_) => "peers",
            Response::Lifecycles(_) => "lifecycles",
            Response::States(_) => "states",
            Response::Current(_) => "current",
            Response::Paths(_) => "paths",
            Response::Provides(_) => "provides",
            Response::Validation(_) => "validation",
            Response::Moved(_) => "moved",
            Response::Returned(_) => "returned",
            Response::Dot(_) => "dot",
            Response::Lifecycle(_) => "lifecycle",
            Response::Uris(_) => "uris",
            Response::Matches(_) => "matches",
        }
    }
}
