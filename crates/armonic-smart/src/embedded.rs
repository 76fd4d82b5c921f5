//! Locations running in this process (`armonic --local`), as a [`Mesh`]: each served by a
//! [`Host`] that runs its calls into its journal.

use std::sync::Arc;

use armonic_journal::Host;
use armonic_lifecycle::Location;
use armonic_proto::Endpoint;

use crate::agent::{Agent, Mesh};

/// Several locations in this process, each with its own lifecycles and state.
#[derive(Default, Clone)]
pub struct Embedded {
    hosts: Vec<Arc<Host>>,
}

impl Embedded {
    /// A mesh of `locations`, named by their configuration; each keeps its journal in its
    /// state directory, or in memory when it has none.
    pub fn new(locations: Vec<Location>) -> Result<Embedded, armonic_journal::OpenError> {
        let hosts = locations
            .into_iter()
            .map(|l| Host::open(l).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Embedded { hosts })
    }

    /// The location named `name`, for direct use.
    pub fn location(&self, name: &str) -> Option<&Location> {
        self.host(name).map(Host::location)
    }

    /// The host of location `name`.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name() == name).map(|h| &**h)
    }

    /// The locations as endpoints of the agent API.
    pub fn endpoints(&self) -> Vec<Arc<dyn Endpoint>> {
        self.hosts
            .iter()
            .map(|h| Arc::clone(h) as Arc<dyn Endpoint>)
            .collect()
    }
}

impl Mesh for Embedded {
    fn locations(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.name().to_owned()).collect()
    }

    fn agent(&self, location: &str) -> Option<Agent> {
        self.hosts
            .iter()
            .find(|h| h.name() == location)
            .map(|h| Agent::new(Arc::clone(h) as Arc<dyn Endpoint>))
    }
}
