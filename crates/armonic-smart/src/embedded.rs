//! Locations running in this process (`armonic --local`), as a [`Mesh`].

use std::sync::Arc;

use armonic_lifecycle::Location;
use armonic_proto::{Endpoint, Local};

use crate::agent::{Agent, Mesh};

/// Several locations in this process, each with its own lifecycles and state.
#[derive(Default, Clone)]
pub struct Embedded {
    agents: Vec<Arc<Local>>,
}

impl Embedded {
    /// A mesh of `locations`, named by their configuration.
    pub fn new(locations: Vec<Location>) -> Embedded {
        Embedded {
            agents: locations
                .into_iter()
                .map(|l| Arc::new(Local::new(l)))
                .collect(),
        }
    }

    /// The location named `name`, for direct use.
    pub fn location(&self, name: &str) -> Option<&Location> {
        self.agents
            .iter()
            .find(|a| a.name() == name)
            .map(|a| a.location())
    }

    /// The locations as endpoints of the agent API.
    pub fn endpoints(&self) -> Vec<Arc<dyn Endpoint>> {
        self.agents
            .iter()
            .map(|a| Arc::clone(a) as Arc<dyn Endpoint>)
            .collect()
    }
}

impl Mesh for Embedded {
    fn locations(&self) -> Vec<String> {
        self.agents.iter().map(|a| a.name().to_owned()).collect()
    }

    fn agent(&self, location: &str) -> Option<Agent> {
        self.agents
            .iter()
            .find(|a| a.name() == location)
            .map(|a| Agent::new(Arc::clone(a) as Arc<dyn Endpoint>))
    }
}
