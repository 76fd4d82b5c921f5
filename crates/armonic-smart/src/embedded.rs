//! Locations running in this process (`armonic --local`), as a [`Mesh`].

use std::sync::{Arc, Mutex, MutexGuard};

use armonic_lifecycle::info::{Info, Paths, ProvideInfo, Validation};
use armonic_lifecycle::{CallOptions, Location, LogSink, Value, Values};

use crate::agent::{Agent, AgentError, Mesh};

/// One embedded location. Calls on it are serialised.
pub struct EmbeddedAgent {
    location: Mutex<Location>,
}

impl EmbeddedAgent {
    fn lock(&self) -> Result<MutexGuard<'_, Location>, AgentError> {
        self.location
            .lock()
            .map_err(|_| AgentError::new("the location is unusable: a call panicked"))
    }
}

impl Agent for EmbeddedAgent {
    fn info(&self) -> Result<Info, AgentError> {
        Ok(self.lock()?.info())
    }

    fn provide(&self, xpath: &str) -> Result<Vec<ProvideInfo>, AgentError> {
        match self.lock()?.provide(xpath) {
            // A deployment asks every location: matching nothing is an answer, not a failure.
            Err(armonic_lifecycle::Error::NoMatch { .. }) => Ok(Vec::new()),
            other => Ok(other?),
        }
    }

    fn provide_call_path(&self, xpath: &str) -> Result<Vec<Paths>, AgentError> {
        Ok(self.lock()?.provide_call_path(xpath)?)
    }

    fn provide_call_requires(
        &self,
        uri: &str,
        path_idx: usize,
    ) -> Result<Vec<ProvideInfo>, AgentError> {
        Ok(self.lock()?.provide_call_requires(uri, path_idx)?)
    }

    fn provide_call_validate(
        &self,
        uri: &str,
        values: &Values,
        path_idx: usize,
    ) -> Result<Validation, AgentError> {
        Ok(self.lock()?.provide_call_validate(uri, values, path_idx)?)
    }

    fn provide_call(
        &self,
        uri: &str,
        values: &Values,
        deployment: &str,
        sink: Arc<dyn LogSink>,
    ) -> Result<Option<Value>, AgentError> {
        let opts = CallOptions {
            deployment: Some(deployment.to_owned()),
            sink: Some(sink),
            ..CallOptions::default()
        };
        Ok(self.lock()?.provide_call(uri, values, &opts)?)
    }
}

/// Several locations in this process, each with its own lifecycles and state.
#[derive(Default)]
pub struct Embedded {
    agents: Vec<(String, EmbeddedAgent)>,
}

impl Embedded {
    /// A mesh of `locations`, named by their configuration.
    pub fn new(locations: Vec<Location>) -> Embedded {
        Embedded {
            agents: locations
                .into_iter()
                .map(|l| {
                    (
                        l.config().name.clone(),
                        EmbeddedAgent {
                            location: Mutex::new(l),
                        },
                    )
                })
                .collect(),
        }
    }

    /// The location named `name`, for direct use.
    pub fn location(&self, name: &str) -> Option<MutexGuard<'_, Location>> {
        self.agents
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, a)| a.location.lock().ok())
    }
}

impl Mesh for Embedded {
    fn locations(&self) -> Vec<String> {
        self.agents.iter().map(|(n, _)| n.clone()).collect()
    }

    fn agent(&self, location: &str) -> Option<&dyn Agent> {
        self.agents
            .iter()
            .find(|(n, _)| n == location)
            .map(|(_, a)| a as &dyn Agent)
    }
}
