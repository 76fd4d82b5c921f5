//! How the deployment engine reaches agents: one [`Agent`] per location, found through a
//! [`Mesh`]. Embedded locations, the libp2p mesh and tests all implement these traits.

use std::sync::Arc;

use armonic_lifecycle::info::{Info, Paths, ProvideInfo, Validation};
use armonic_lifecycle::{LogSink, Value, Values};
use thiserror::Error;

/// An error reported by an agent (or by the way to it), as a message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct AgentError {
    /// What went wrong.
    pub message: String,
}

impl AgentError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> AgentError {
        AgentError {
            message: message.into(),
        }
    }
}

impl From<armonic_lifecycle::Error> for AgentError {
    fn from(e: armonic_lifecycle::Error) -> Self {
        AgentError::new(e.to_string())
    }
}

/// The part of the agent API a deployment uses. Calls may come from several threads at once.
pub trait Agent: Send + Sync {
    /// Facts about the location (its public address is the host of the services it runs).
    fn info(&self) -> Result<Info, AgentError>;
    /// Provides matching a generic address.
    fn provide(&self, xpath: &str) -> Result<Vec<ProvideInfo>, AgentError>;
    /// Paths to the state of the provides matching `xpath`.
    fn provide_call_path(&self, xpath: &str) -> Result<Vec<Paths>, AgentError>;
    /// Enter provides (with requires) along path `path_idx`, then the provide.
    fn provide_call_requires(
        &self,
        uri: &str,
        path_idx: usize,
    ) -> Result<Vec<ProvideInfo>, AgentError>;
    /// Validates values without changing anything.
    fn provide_call_validate(
        &self,
        uri: &str,
        values: &Values,
        path_idx: usize,
    ) -> Result<Validation, AgentError>;
    /// Calls the provide; log lines of the call go to `sink`, tagged with `deployment`.
    fn provide_call(
        &self,
        uri: &str,
        values: &Values,
        deployment: &str,
        sink: Arc<dyn LogSink>,
    ) -> Result<Option<Value>, AgentError>;
}

/// The locations a deployment may use.
pub trait Mesh: Sync {
    /// Names of the known locations, in a stable order.
    fn locations(&self) -> Vec<String>;
    /// The agent of `location`.
    fn agent(&self, location: &str) -> Option<&dyn Agent>;
}
