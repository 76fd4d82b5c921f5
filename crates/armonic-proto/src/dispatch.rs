//! The dispatcher: applies a [`Request`] to a [`Location`]. Embedded locations, the agent's
//! control socket, the mesh and the XMPP bridge all end here.

use std::sync::Arc;

use armonic_lifecycle::{CallOptions, Location, LogSink};

use crate::error::ApiError;
use crate::request::{Request, Response};
use crate::route::Endpoint;

/// Answers `request` on `location`; the log lines of a call go to `logs`.
pub fn dispatch(
    location: &Location,
    request: Request,
    logs: Arc<dyn LogSink>,
) -> Result<Response, ApiError> {
    let options = |path_idx: usize, deployment: Option<String>| CallOptions {
        path_idx,
        deployment,
        sink: Some(Arc::clone(&logs)),
        ..CallOptions::default()
    };
    Ok(match request {
        Request::Info => Response::Info(location.info()),
        Request::Locations => Response::Locations(vec![location.info()]),
        Request::Offering { xpath } => {
            let offers = match location.provide(&xpath) {
                Ok(p) => !p.is_empty(),
                Err(armonic_lifecycle::Error::NoMatch { .. }) => false,
                Err(e) => return Err(e.into()),
            };
            let name = location.config().name.clone();
            Response::Names(if offers { vec![name] } else { Vec::new() })
        }
        // A location on its own knows no peer.
        Request::Mesh => Response::Peers(Vec::new()),
        Request::Lifecycle { xpath } => Response::Lifecycles(location.lifecycle(&xpath)?),
        Request::State { xpath } => Response::States(location.state(&xpath)?),
        Request::StateCurrent { xpath } => Response::Current(location.state_current(&xpath)?),
        Request::StateGotoPath { xpath } => Response::Paths(location.state_goto_path(&xpath)?),
        Request::StateGotoRequires { uri, path_idx } => {
            Response::Provides(location.state_goto_requires(&uri, path_idx)?)
        }
        Request::StateGoto {
            uri,
            values,
            path_idx,
            deployment,
        } => {
            let opts = options(path_idx, Some(deployment.to_string()));
            location.state_goto(&uri, &values, &opts)?;
            Response::Moved(location.state_current(&uri)?)
        }
        Request::Provide { xpath } => Response::Provides(location.provide(&xpath)?),
        Request::ProvideCallPath { xpath } => Response::Paths(location.provide_call_path(&xpath)?),
        Request::ProvideCallRequires { uri, path_idx } => {
            Response::Provides(location.provide_call_requires(&uri, path_idx)?)
        }
        Request::ProvideCallValidate {
            uri,
            values,
            path_idx,
        } => Response::Validation(location.provide_call_validate(&uri, &values, path_idx)?),
        Request::ProvideCall {
            uri,
            values,
            path_idx,
            deployment,
        } => {
            let opts = options(path_idx, Some(deployment.to_string()));
            Response::Returned(location.provide_call(&uri, &values, &opts)?)
        }
        Request::ToDot {
            lifecycle,
            reachable,
        } => Response::Dot(location.to_dot(&lifecycle, reachable)?),
        Request::ToPrimitive { lifecycle } => {
            Response::Lifecycle(Box::new(location.to_primitive(&lifecycle)?))
        }
        Request::Uri {
            xpath,
            relative,
            kind,
        } => Response::Uris(location.uri(&xpath, relative, kind)?),
        Request::Xpath { xpath } => Response::Matches(location.xpath(&xpath)?),
    })
}

/// A location as an [`Endpoint`].
pub struct Local {
    location: Location,
    name: String,
}

impl Local {
    /// Serves `location`.
    pub fn new(location: Location) -> Local {
        Local {
            name: location.config().name.clone(),
            location,
        }
    }

    /// The location.
    pub fn location(&self) -> &Location {
        &self.location
    }
}

impl Endpoint for Local {
    fn name(&self) -> &str {
        &self.name
    }

    fn call(&self, request: Request, logs: Arc<dyn LogSink>) -> Result<Response, ApiError> {
        dispatch(&self.location, request, logs)
    }
}
