//! How the deployment engine reaches agents: the [`Mesh`] names the locations and hands out
//! an [`Agent`] for each, a typed view over an [`Endpoint`] of the agent API
//! ([`armonic_proto`]). Embedded locations, the control socket and the libp2p mesh are all
//! endpoints; nothing here knows which.

use std::sync::Arc;

use armonic_lifecycle::info::{Info, Paths, ProvideInfo, Validation};
use armonic_lifecycle::{Address, LogSink, Value, Values};
use armonic_proto::{ApiError, DeploymentId, Endpoint, Request, Response};

/// The agent of one location, as the engine uses it. Cheap to clone, usable from several
/// threads at once.
#[derive(Clone)]
pub struct Agent {
    endpoint: Arc<dyn Endpoint>,
}

/// Log lines of calls that are not steps (listings, validations): none are expected.
struct Nowhere;

impl LogSink for Nowhere {
    fn log(&self, _: &armonic_lifecycle::LogRecord) {}
}

fn address(xpath: &str) -> Result<Address, ApiError> {
    Address::parse(xpath).map_err(|e| ApiError::InvalidAddress {
        message: e.to_string(),
    })
}

fn unexpected(asked: &Request, got: &Response) -> ApiError {
    ApiError::Protocol {
        message: format!("the agent answered {} with {}", asked.method(), got.name()),
    }
}

impl Agent {
    /// The agent answering at `endpoint`.
    pub fn new(endpoint: Arc<dyn Endpoint>) -> Agent {
        Agent { endpoint }
    }

    /// The endpoint, for any other request.
    pub fn endpoint(&self) -> &Arc<dyn Endpoint> {
        &self.endpoint
    }

    fn ask(&self, request: Request, logs: Arc<dyn LogSink>) -> Result<Response, ApiError> {
        self.endpoint.call(request, logs)
    }

    /// Facts about the location (its public address is the host of the services it runs).
    pub fn info(&self) -> Result<Info, ApiError> {
        let request = Request::Info;
        match self.ask(request.clone(), Arc::new(Nowhere))? {
            Response::Info(i) => Ok(i),
            other => Err(unexpected(&request, &other)),
        }
    }

    /// Provides matching a generic address (none when it matches nothing there).
    pub fn provide(&self, xpath: &str) -> Result<Vec<ProvideInfo>, ApiError> {
        let request = Request::Provide {
            xpath: address(xpath)?,
        };
        match self.ask(request.clone(), Arc::new(Nowhere)) {
            Ok(Response::Provides(p)) => Ok(p),
            // Every location is asked: matching nothing is an answer, not a failure.
            Err(ApiError::NoMatch { .. }) => Ok(Vec::new()),
            Ok(other) => Err(unexpected(&request, &other)),
            Err(e) => Err(e),
        }
    }

    /// Paths to the state of the provides matching `xpath`.
    pub fn provide_call_path(&self, xpath: &str) -> Result<Vec<Paths>, ApiError> {
        let request = Request::ProvideCallPath {
            xpath: address(xpath)?,
        };
        match self.ask(request.clone(), Arc::new(Nowhere))? {
            Response::Paths(p) => Ok(p),
            other => Err(unexpected(&request, &other)),
        }
    }

    /// Enter provides (with requires) along path `path_idx`, then the provide.
    pub fn provide_call_requires(
        &self,
        uri: &str,
        path_idx: usize,
    ) -> Result<Vec<ProvideInfo>, ApiError> {
        let request = Request::ProvideCallRequires {
            uri: address(uri)?,
            path_idx,
        };
        match self.ask(request.clone(), Arc::new(Nowhere))? {
            Response::Provides(p) => Ok(p),
            other => Err(unexpected(&request, &other)),
        }
    }

    /// Validates values without changing anything.
    pub fn provide_call_validate(
        &self,
        uri: &str,
        values: &Values,
        path_idx: usize,
    ) -> Result<Validation, ApiError> {
        let request = Request::ProvideCallValidate {
            uri: address(uri)?,
            values: values.clone(),
            path_idx,
        };
        match self.ask(request.clone(), Arc::new(Nowhere))? {
            Response::Validation(v) => Ok(v),
            other => Err(unexpected(&request, &other)),
        }
    }

    /// Calls the provide; log lines of the call go to `logs`, tagged with `deployment`.
    pub fn provide_call(
        &self,
        uri: &str,
        values: &Values,
        deployment: &DeploymentId,
        logs: Arc<dyn LogSink>,
    ) -> Result<Option<Value>, ApiError> {
        let request = Request::ProvideCall {
            uri: address(uri)?,
            values: values.clone(),
            path_idx: 0,
            deployment: deployment.clone(),
        };
        match self.ask(request.clone(), logs)? {
            Response::Returned(v) => Ok(v),
            other => Err(unexpected(&request, &other)),
        }
    }
}

/// The locations a deployment may use. The membership may change while a deployment is
/// resolved (a live mesh): an agent is handed out owned.
pub trait Mesh: Sync {
    /// Names of the known locations, in a stable order.
    fn locations(&self) -> Vec<String>;
    /// The agent of `location`.
    fn agent(&self, location: &str) -> Option<Agent>;
    /// The locations offering a provide `xpath` matches, by name, when the mesh knows
    /// without asking each location (its catalogues); `None` to ask each.
    fn offering(&self, xpath: &str) -> Option<Vec<String>> {
        let _ = xpath;
        None
    }
}
