//! Where commands go: the agent of this machine, over its control socket, or embedded
//! locations in this process (`--local`). Both answer the same requests the same way.

use std::sync::Arc;

use anyhow::Result;
use armonic_lifecycle::{Address, Interrupt, LogSink};
use armonic_proto::{ApiError, At, Endpoint, Request, Response, Router};
use armonic_smart::{Agent, Embedded, Mesh};

use crate::cli::{Format, Global};
use crate::logs::StderrSink;
use crate::report::Usage;
use crate::settings::Settings;

/// The locations commands reach.
pub struct Backend {
    endpoint: Arc<dyn Endpoint>,
    /// The connection to the agent, when commands go through one.
    client: Option<Arc<armonic_agent::Client>>,
    mesh: Box<dyn Mesh>,
    logs: Arc<dyn LogSink>,
    /// Whether more than one location answers (log lines then name theirs).
    pub several: bool,
}

/// A mesh of one agent reached through its control socket: every location it serves.
struct Remote {
    endpoint: Arc<dyn Endpoint>,
    locations: Vec<String>,
}

impl Mesh for Remote {
    fn locations(&self) -> Vec<String> {
        self.locations.clone()
    }

    fn agent(&self, location: &str) -> Option<Agent> {
        self.locations.iter().any(|l| l == location).then(|| {
            Agent::new(Arc::new(At::new(Arc::clone(&self.endpoint), location)) as Arc<dyn Endpoint>)
        })
    }

    fn offering(&self, xpath: &str) -> Option<Vec<String>> {
        let xpath = Address::parse(xpath).ok()?;
        match self.endpoint.call(
            Request::Offering { xpath },
            Arc::new(armonic_lifecycle::MemorySink::new()),
        ) {
            Ok(Response::Names(names)) => Some(names),
            _ => None,
        }
    }
}

impl Backend {
    /// Connects to the agent, or starts the embedded locations with `--local`.
    pub fn open(g: &Global, settings: &Settings, interrupt: &Interrupt) -> Result<Backend> {
        let mut sink = StderrSink::new(g.verbose, g.quiet, g.no_color, g.format == Format::Json);
        if g.local {
            let locations = crate::local::locations(g, settings, interrupt)?;
            let several = locations.len() > 1;
            sink.show_location = several;
            let embedded = Embedded::new(locations);
            return Ok(Backend {
                client: None,
                endpoint: Arc::new(Router::new(embedded.endpoints())),
                mesh: Box::new(embedded),
                logs: Arc::new(sink),
                several,
            });
        }
        let state_dir = settings
            .state_dir
            .clone()
            .unwrap_or_else(armonic_agent::default_state_dir);
        Backend::connect(&armonic_agent::socket_path(&state_dir), sink)
    }

    /// Commands through the agent listening at `socket`; log lines go to `sink`.
    pub fn connect(socket: &std::path::Path, mut sink: StderrSink) -> Result<Backend> {
        let agent = Arc::new(armonic_agent::Client::connect(socket)?);
        let client: Arc<dyn Endpoint> = Arc::clone(&agent) as Arc<dyn Endpoint>;
        let locations = match client.call(Request::Locations, Arc::new(sink.clone()))? {
            Response::Locations(l) => l.into_iter().map(|i| i.name).collect::<Vec<_>>(),
            other => return Err(unexpected(&Request::Locations, &other).into()),
        };
        let several = locations.len() > 1;
        sink.show_location = several;
        Ok(Backend {
            mesh: Box::new(Remote {
                endpoint: Arc::clone(&client),
                locations,
            }),
            endpoint: client,
            client: Some(agent),
            logs: Arc::new(sink),
            several,
        })
    }

    /// Sends `request`; log lines of a call are shown as they come.
    pub fn ask(&self, request: Request) -> Result<Response, ApiError> {
        self.endpoint.call(request, Arc::clone(&self.logs))
    }

    /// Sends `request` to location `location`, whatever its address says.
    pub fn ask_at(&self, location: &str, request: Request) -> Result<Response, ApiError> {
        self.endpoint
            .call_at(location, request, Arc::clone(&self.logs))
    }

    /// The agent's connection, when commands go through an agent.
    pub fn client(&self) -> Option<&armonic_agent::Client> {
        self.client.as_deref()
    }

    /// Where log lines are shown.
    pub fn logs(&self) -> &Arc<dyn LogSink> {
        &self.logs
    }

    /// The locations, for deployments.
    pub fn mesh(&self) -> &dyn Mesh {
        &*self.mesh
    }
}

/// An answer of the wrong kind: the two ends disagree on the protocol.
pub fn unexpected(asked: &Request, got: &Response) -> ApiError {
    ApiError::Protocol {
        message: format!("{} was answered with {}", asked.method(), got.name()),
    }
}

/// An address typed on the command line (a bad one is a bad argument).
pub fn address(text: &str) -> Result<Address> {
    Address::parse(text).map_err(|e| Usage(e.to_string()).into())
}
