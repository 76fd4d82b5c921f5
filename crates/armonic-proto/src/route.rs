//! Several locations answering as one: which location a call goes to.
//!
//! The same rules serve embedded locations (`armonic --local --location a --location b`), an
//! agent with its own location, and an agent relaying to the mesh. Each method says its rule
//! ([`Route`]):
//!
//! - a call aimed at a location ([`Call::location`]) goes there;
//! - a listing goes to the location an absolute address names (`/web1/…`), or to every
//!   location at once, the answers merged; matching nothing anywhere is
//!   [`ApiError::NoMatch`];
//! - a call on one resource goes to the location an absolute address names, or to the only
//!   location where the address matches; matching on several is [`ApiError::MultipleMatch`]
//!   listing them all;
//! - `to_dot` and `to_primitive` go to the location named (`/web1/WebServer`) or to the only
//!   one with the lifecycle.
//!
//! Every location is asked at once (one concurrent fan-out); each endpoint bounds its own
//! wait (a remote one times out).

use std::sync::Arc;

use armonic_lifecycle::Address;
use futures::StreamExt;

use crate::call::{Call, CallStream, Endpoint, answered, finish};
use crate::error::ApiError;
use crate::method::{Request, Response, Route, Xpath};

/// Routes calls to endpoints by the rules of this module.
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

    fn named(&self, location: &str) -> Result<Arc<dyn Endpoint>, ApiError> {
        self.endpoints
            .iter()
            .find(|e| e.name() == location)
            .cloned()
            .ok_or_else(|| ApiError::NoMatch {
                xpath: format!("/{location}"),
            })
    }
}

/// The answer of every endpoint to `call`, merged; endpoints where it matches nothing are
/// left out, and if it matches nothing anywhere that is the error.
async fn fan_out(endpoints: Vec<Arc<dyn Endpoint>>, call: Call) -> Result<Response, ApiError> {
    let answers = futures::future::join_all(endpoints.iter().map(|e| {
        let mut one = call.clone();
        // Each endpoint's part of the fan-out is a call of its own.
        one.id = crate::CallId::new();
        finish(e.call(one), |_| {})
    }))
    .await;
    let mut merged: Option<Response> = None;
    let mut no_match = None;
    for answer in answers {
        match answer {
            Ok(r) => merged = Some(merged.map_or(r.clone(), |m| m.merge(r))),
            Err(err @ ApiError::NoMatch { .. }) => no_match = Some(err),
            Err(err) => return Err(err),
        }
    }
    merged.ok_or_else(|| {
        no_match.unwrap_or_else(|| ApiError::NoMatch {
            xpath: call
                .request
                .address()
                .map(ToString::to_string)
                .unwrap_or_default(),
        })
    })
}

/// The endpoints where `xpath` matches something, with what it matches there.
async fn matching(
    endpoints: &[Arc<dyn Endpoint>],
    xpath: &Address,
) -> Result<Vec<(Arc<dyn Endpoint>, Vec<String>)>, ApiError> {
    let answers = futures::future::join_all(endpoints.iter().map(|e| {
        let probe = Call::new(Xpath {
            xpath: xpath.clone(),
        });
        finish(e.call(probe), |_| {})
    }))
    .await;
    let mut out = Vec::new();
    for (e, answer) in endpoints.iter().zip(answers) {
        match answer {
            Ok(Response::Xpath(m)) if !m.is_empty() => {
                out.push((Arc::clone(e), m.into_iter().map(|m| m.xpath).collect()));
            }
            Ok(_) | Err(ApiError::NoMatch { .. }) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(out)
}

/// The only endpoint in `found`, or why there is none.
fn only(
    mut found: Vec<(Arc<dyn Endpoint>, Vec<String>)>,
    what: &str,
) -> Result<Arc<dyn Endpoint>, ApiError> {
    match found.len() {
        0 => Err(ApiError::NoMatch {
            xpath: what.to_owned(),
        }),
        1 => Ok(found.remove(0).0),
        _ => Err(ApiError::MultipleMatch {
            xpath: what.to_owned(),
            matches: found.into_iter().flat_map(|(_, m)| m).collect(),
        }),
    }
}

/// `Name` or `/location/Name`: the location, if named, and the lifecycle.
fn lifecycle_name(name: &str) -> (Option<&str>, &str) {
    let parts: Vec<&str> = name.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        [location, lifecycle] => (Some(*location), *lifecycle),
        _ => (None, name),
    }
}

/// Where a call that is not aimed at a location goes, decided once its probes are answered.
enum Target {
    One(Arc<dyn Endpoint>),
    All,
    Probe(Address, String),
}

impl Router {
    fn target(&self, request: &Request) -> Result<Target, ApiError> {
        Ok(match request.route() {
            Route::Here => match self.endpoints.as_slice() {
                [only] => Target::One(Arc::clone(only)),
                _ => {
                    return Err(ApiError::InvalidRequest {
                        message: "info is asked of one location: name it, or ask for locations"
                            .into(),
                    });
                }
            },
            Route::Everywhere => Target::All,
            Route::Listing(xpath) => match xpath.location() {
                Some(location) => Target::One(self.named(location)?),
                None => Target::All,
            },
            Route::Resource(xpath) => {
                if let Some(location) = xpath.location() {
                    Target::One(self.named(location)?)
                } else if let [only] = self.endpoints.as_slice() {
                    Target::One(Arc::clone(only))
                } else {
                    Target::Probe(xpath.clone(), xpath.to_string())
                }
            }
            Route::Lifecycle(name) => match lifecycle_name(name) {
                (Some(location), _) => Target::One(self.named(location)?),
                (None, lifecycle) => {
                    let xpath: Address = format!("/*/{lifecycle}").parse().map_err(
                        |e: armonic_lifecycle::AddressError| ApiError::InvalidAddress {
                            message: e.to_string(),
                        },
                    )?;
                    Target::Probe(xpath, name.to_owned())
                }
            },
        })
    }
}

impl Endpoint for Router {
    fn name(&self) -> &str {
        ""
    }

    fn call(&self, call: Call) -> CallStream {
        if let Some(location) = &call.location {
            return match self.endpoints.iter().find(|e| e.name() == location) {
                Some(e) => e.call(call),
                None => answered(Err(ApiError::Unreachable {
                    location: location.clone(),
                    message: "no such location".into(),
                })),
            };
        }
        let target = match self.target(&call.request) {
            Ok(t) => t,
            Err(e) => return answered(Err(e)),
        };
        match target {
            Target::One(e) => e.call(call),
            Target::All => {
                let endpoints = self.endpoints.clone();
                answered_later(async move { fan_out(endpoints, call).await })
            }
            Target::Probe(xpath, what) => {
                let endpoints = self.endpoints.clone();
                let chosen = async move {
                    let found = matching(&endpoints, &xpath).await?;
                    only(found, &what)
                };
                Box::pin(
                    futures::stream::once(async move {
                        match chosen.await {
                            Ok(e) => e.call(call),
                            Err(err) => answered(Err(err)),
                        }
                    })
                    .flatten(),
                )
            }
        }
    }
}

/// A call answered, without lines, when `answer` completes.
pub fn answered_later(
    answer: impl std::future::Future<Output = Result<Response, ApiError>> + Send + 'static,
) -> CallStream {
    Box::pin(futures::stream::once(async move {
        crate::call::Event::Done(answer.await)
    }))
}

/// An endpoint aimed at one location it reaches: every call goes there, whatever its address
/// says (the agent of a machine relaying to another agent of the mesh, say).
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

    fn call(&self, call: Call) -> CallStream {
        self.inner.call(call.at(self.location.clone()))
    }
}
