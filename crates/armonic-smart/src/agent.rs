//! How the deployment engine reaches agents: the [`Mesh`] names the locations and hands out
//! an [`Agent`] for each, a typed view over an [`Endpoint`] of the agent API
//! ([`armonic_proto`]). Embedded locations, the control socket and the libp2p mesh are all
//! endpoints; nothing here knows which.

use std::sync::Arc;

use armonic_lifecycle::info::{Info, Paths, ProvideInfo, Validation};
use armonic_lifecycle::{Address, CallerLocation, Interrupt, Values};
use armonic_proto::{
    ApiError, Call, CallId, CallStream, DeploymentDoc, DeploymentId, Endpoint, EndpointExt, Listed,
    method,
};

/// The agent of one location, as the engine uses it. Cheap to clone, usable from several
/// threads at once.
#[derive(Clone)]
pub struct Agent {
    endpoint: Arc<dyn Endpoint>,
}

fn address(xpath: &str) -> Result<Address, ApiError> {
    Address::parse(xpath).map_err(|e| ApiError::InvalidAddress {
        message: e.to_string(),
    })
}

impl Agent {
    /// The agent answering at `endpoint`.
    pub fn new(endpoint: Arc<dyn Endpoint>) -> Agent {
        Agent { endpoint }
    }

    /// The endpoint, for any other call.
    pub fn endpoint(&self) -> &Arc<dyn Endpoint> {
        &self.endpoint
    }

    /// A read of this location, waited for on this thread.
    fn ask<M: Listed>(&self, method: M) -> Result<M::Answer, ApiError> {
        self.endpoint.ask(method)
    }

    /// Facts about the location (its public address is the host of the services it runs).
    pub fn info(&self) -> Result<Info, ApiError> {
        self.ask(method::Info {})
    }

    /// Provides matching a generic address (none when it matches nothing there).
    pub fn provide(&self, xpath: &str) -> Result<Vec<ProvideInfo>, ApiError> {
        match self.ask(method::Provide {
            xpath: address(xpath)?,
        }) {
            // Every location is asked: matching nothing is an answer, not a failure.
            Err(ApiError::NoMatch { .. }) => Ok(Vec::new()),
            other => other,
        }
    }

    /// Paths to the state of the provides matching `xpath`.
    pub fn provide_call_path(&self, xpath: &str) -> Result<Vec<Paths>, ApiError> {
        self.ask(method::ProvideCallPath {
            xpath: address(xpath)?,
        })
    }

    /// Enter provides (with requires) along path `path_idx`, then the provide.
    pub fn provide_call_requires(
        &self,
        uri: &str,
        path_idx: usize,
    ) -> Result<Vec<ProvideInfo>, ApiError> {
        self.ask(method::ProvideCallRequires {
            uri: address(uri)?,
            path_idx,
        })
    }

    /// Validates values without changing anything.
    pub fn provide_call_validate(
        &self,
        uri: &str,
        values: &Values,
        path_idx: usize,
    ) -> Result<Validation, ApiError> {
        self.ask(method::ProvideCallValidate {
            uri: address(uri)?,
            values: values.clone(),
            path_idx,
        })
    }

    /// Starts a call of the provide, part of `deployment` (its step `step.0`, the deployment
    /// whole `step.1`), made for `made_for` (the location of its consumer; the calling
    /// machine when `None`), stopped by `interrupt`: its lines
    /// and answer ([`armonic_proto::Response::ProvideCall`]) come on the stream. With
    /// `attach`, the call of that id is attached to rather than started again (it is
    /// started only when its agent never heard of it).
    #[allow(clippy::too_many_arguments)]
    pub fn provide_call(
        &self,
        uri: &str,
        values: &Values,
        deployment: &DeploymentId,
        step: (&str, &Arc<DeploymentDoc>),
        made_for: Option<CallerLocation>,
        attach: Option<CallId>,
        interrupt: &Interrupt,
    ) -> Result<CallStream, ApiError> {
        let mut call = Call::new(method::ProvideCall {
            uri: address(uri)?,
            values: values.clone(),
            path_idx: 0,
        })
        .in_deployment(deployment.clone())
        .as_step(step.0.to_owned(), Arc::clone(step.1))
        .made_for(made_for)
        .stopped_by(interrupt.clone());
        if let Some(id) = attach {
            call.id = id;
            call.again = true;
        }
        Ok(self.endpoint.call(call))
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
