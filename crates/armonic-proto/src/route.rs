//! Several locations answering as one: which location a request goes to.
//!
//! The same rules serve embedded locations (`armonic --local --location a --location b`), an
//! agent with its own location, and an agent relaying to the mesh:
//!
//! - a listing (`lifecycle`, `state`, `provide`, `xpath`…) goes to the location an absolute
//!   address names (`/web1/…`), or to every location, the answers merged; matching nothing
//!   anywhere is [`ApiError::NoMatch`];
//! - a request on one resource (`state_goto`, `provide_call`…) goes to the location an
//!   absolute address names, or to the only location where the address matches; matching on
//!   several is [`ApiError::MultipleMatch`] listing them all;
//! - `to_dot` and `to_primitive` go to the location named (`/web1/WebServer`) or to the only
//!   one with the lifecycle.

use std::sync::Arc;

use armonic_lifecycle::{Address, LogSink};

use crate::error::ApiError;
use crate::request::{Request, Response};

/// Something that answers requests: one location, a remote agent, a router.
pub trait Endpoint: Send + Sync {
    /// The location's name (a router's is empty).
    fn name(&self) -> &str;
    /// Answers `request`; the log lines of a call go to `logs` as they come, all before
    /// the answer.
    fn call(&self, request: Request, logs: Arc<dyn LogSink>) -> Result<Response, ApiError>;

    /// Answers `request` on location `location`: this endpoint's own, or one it reaches.
    fn call_at(
        &self,
        location: &str,
        request: Request,
        logs: Arc<dyn LogSink>,
    ) -> Result<Response, ApiError> {
        if location == self.name() {
            self.call(request, logs)
        } else {
            Err(ApiError::Unreachable {
                location: location.to_owned(),
                message: format!("{} does not reach it", self.name()),
            })
        }
    }
}

/// An endpoint where an address matches, with the addresses it matches there.
type Found<'a> = (&'a Arc<dyn Endpoint>, Vec<String>);

/// Routes requests to endpoints by the rules of this module.
#[derive(Clone, Default)]
pub struct Router {
    endpoints: Vec<Arc<dyn Endpoint>>,
}

impl Router {
    /// A router over `endpoints`, in the order listings show them.
    pub fn new(endpoints: Vec<Arc<dyn Endpoint>>) -> Router {
        Router { endpoints }
    }

    /// The endpoints.
    pub fn endpoints(&self) -> &[Arc<dyn Endpoint>] {
        &self.endpoints
    }

    fn named(&self, location: &str) -> Result<&Arc<dyn Endpoint>, ApiError> {
        self.endpoints
            .iter()
            .find(|e| e.name() == location)
            .ok_or_else(|| ApiError::NoMatch {
                xpath: format!("/{location}"),
            })
    }

    /// Every endpoint's answer to `request`, merged; endpoints where it matches nothing are
    /// left out, and if it matches nothing anywhere that is the error.
    fn fan_out(&self, request: &Request, logs: &Arc<dyn LogSink>) -> Result<Response, ApiError> {
        let mut merged: Option<Response> = None;
        let mut no_match = None;
        for e in &self.endpoints {
            match e.call(request.clone(), Arc::clone(logs)) {
                Ok(r) => {
                    merged = Some(match merged {
                        None => r,
                        Some(m) => merge(m, r),
                    })
                }
                Err(err @ ApiError::NoMatch { .. }) => no_match = Some(err),
                Err(err) => return Err(err),
            }
        }
        merged.ok_or_else(|| {
            no_match.unwrap_or_else(|| ApiError::NoMatch {
                xpath: request
                    .address()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            })
        })
    }

    /// The endpoints where `xpath` matches something, with what it matches there.
    fn matching(
        &self,
        xpath: &Address,
        logs: &Arc<dyn LogSink>,
    ) -> Result<Vec<Found<'_>>, ApiError> {
        let mut out = Vec::new();
        for e in &self.endpoints {
            let probe = Request::Xpath {
                xpath: xpath.clone(),
            };
            match e.call(probe, Arc::clone(logs)) {
                Ok(Response::Matches(m)) if !m.is_empty() => {
                    out.push((e, m.into_iter().map(|m| m.xpath).collect()));
                }
                Ok(_) | Err(ApiError::NoMatch { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(out)
    }

    /// The endpoint a request on one resource goes to.
    fn one(
        &self,
        xpath: &Address,
        logs: &Arc<dyn LogSink>,
    ) -> Result<&Arc<dyn Endpoint>, ApiError> {
        if let Some(location) = xpath.location() {
            return self.named(location);
        }
        if let [only] = self.endpoints.as_slice() {
            return Ok(only);
        }
        let mut found = self.matching(xpath, logs)?;
        match found.len() {
            0 => Err(ApiError::NoMatch {
                xpath: xpath.to_string(),
            }),
            1 => Ok(found.remove(0).0),
            _ => Err(ApiError::MultipleMatch {
                xpath: xpath.to_string(),
                matches: found.into_iter().flat_map(|(_, m)| m).collect(),
            }),
        }
    }

    /// The endpoint of lifecycle `name` (`Name` or `/location/Name`).
    fn of_lifecycle(
        &self,
        name: &str,
        logs: &Arc<dyn LogSink>,
    ) -> Result<&Arc<dyn Endpoint>, ApiError> {
        let parts: Vec<&str> = name.trim_start_matches('/').split('/').collect();
        let (location, lifecycle) = match parts.as_slice() {
            [location, lifecycle] => (Some(*location), *lifecycle),
            _ => (None, name),
        };
        if let Some(location) = location {
            return self.named(location);
        }
        let xpath: Address =
            format!("/*/{lifecycle}")
                .parse()
                .map_err(
                    |e: armonic_lifecycle::AddressError| ApiError::InvalidAddress {
                        message: e.to_string(),
                    },
                )?;
        let mut found = self.matching(&xpath, logs)?;
        match found.len() {
            0 => Err(ApiError::NoMatch {
                xpath: name.to_owned(),
            }),
            1 => Ok(found.remove(0).0),
            _ => Err(ApiError::MultipleMatch {
                xpath: name.to_owned(),
                matches: found.into_iter().flat_map(|(_, m)| m).collect(),
            }),
        }
    }
}

impl Endpoint for Router {
    fn name(&self) -> &str {
        ""
    }

    fn call_at(
        &self,
        location: &str,
        request: Request,
        logs: Arc<dyn LogSink>,
    ) -> Result<Response, ApiError> {
        match self.endpoints.iter().find(|e| e.name() == location) {
            Some(e) => e.call(request, logs),
            None => Err(ApiError::Unreachable {
                location: location.to_owned(),
                message: "no such location".into(),
            }),
        }
    }

    fn call(&self, request: Request, logs: Arc<dyn LogSink>) -> Result<Response, ApiError> {
        match &request {
            Request::Info => match self.endpoints.as_slice() {
                [only] => only.call(request, logs),
                _ => Err(ApiError::InvalidRequest {
                    message: "info is asked of one location: name it, or ask for locations".into(),
                }),
            },
            Request::Locations | Request::Offering { .. } | Request::Mesh => {
                self.fan_out(&request, &logs)
            }
            Request::Lifecycle { xpath }
            | Request::State { xpath }
            | Request::StateCurrent { xpath }
            | Request::StateGotoPath { xpath }
            | Request::Provide { xpath }
            | Request::ProvideCallPath { xpath }
            | Request::Uri { xpath, .. }
            | Request::Xpath { xpath } => match xpath.location() {
                Some(location) => self.named(location)?.call(request, logs),
                None => self.fan_out(&request, &logs),
            },
            Request::StateGotoRequires { uri, .. }
            | Request::StateGoto { uri, .. }
            | Request::ProvideCallRequires { uri, .. }
            | Request::ProvideCallValidate { uri, .. }
            | Request::ProvideCall { uri, .. } => {
                let target = Arc::clone(self.one(uri, &logs)?);
                target.call(request, logs)
            }
            Request::ToDot { lifecycle, .. } | Request::ToPrimitive { lifecycle } => {
                let target = Arc::clone(self.of_lifecycle(lifecycle, &logs)?);
                target.call(request, logs)
            }
        }
    }
}

/// An endpoint aimed at one location it reaches: every request goes there, whatever its
/// address says (the agent of a machine relaying to another agent of the mesh, say).
pub struct At {
    inner: Arc<dyn Endpoint>,
    location: String,
}

impl At {
    /// `inner`, aimed at `location`.
    pub fn new(inner: Arc<dyn Endpoint>, location: impl Into<String>) -> At {
        At {
            inner,
            location: location.into(),
        }
    }
}

impl Endpoint for At {
    fn name(&self) -> &str {
        &self.location
    }

    fn call(&self, request: Request, logs: Arc<dyn LogSink>) -> Result<Response, ApiError> {
        self.inner.call_at(&self.location, request, logs)
    }
}

/// Two answers to the same listing, as one.
fn merge(a: Response, b: Response) -> Response {
    macro_rules! lists {
        ($($variant:ident),*) => {
            match (a, b) {
                $((Response::$variant(mut x), Response::$variant(y)) => {
                    x.extend(y);
                    Response::$variant(x)
                })*
                (a, _) => a,
            }
        };
    }
    lists!(
        Locations, Names, Peers, Lifecycles, States, Current, Paths, Provides, Uris, Matches
    )
}
