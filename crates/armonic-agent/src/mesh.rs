//! The agent in the mesh: its API reaches every live agent of the mesh, and the mesh hears of
//! every change of its catalogue.

use std::sync::Arc;
use std::time::Duration;

use armonic_lifecycle::LogSink;
use armonic_mesh::Handle;
use armonic_proto::{ApiError, Endpoint, Local, Request, Response, Router, catalogue_of};

/// What the control socket serves: this agent's location and, through the mesh, every other
/// live one. Requests are routed by the rules of [`Router`]; mesh-wide questions (locations,
/// offering, peers) are answered from the catalogues the mesh keeps.
pub(crate) struct Meshed {
    pub local: Arc<Local>,
    pub mesh: Option<Handle>,
}

impl Meshed {
    fn router(&self) -> Router {
        let mut endpoints: Vec<Arc<dyn Endpoint>> =
            vec![Arc::clone(&self.local) as Arc<dyn Endpoint>];
        if let Some(mesh) = &self.mesh {
            for info in mesh.live() {
                if info.name != self.local.name() {
                    endpoints.push(mesh.endpoint(&info.name));
                }
            }
        }
        Router::new(endpoints)
    }
}

impl Endpoint for Meshed {
    fn name(&self) -> &str {
        self.local.name()
    }

    fn call(&self, request: Request, logs: Arc<dyn LogSink>) -> Result<Response, ApiError> {
        let Some(mesh) = &self.mesh else {
            return self.local.call(request, logs);
        };
        match request {
            Request::Info => self.local.call(request, logs),
            Request::Locations => {
                let Response::Locations(mut all) = self.local.call(request, logs)? else {
                    unreachable!("a location answers locations with locations")
                };
                all.extend(mesh.live().into_iter().filter(|i| i.name != self.name()));
                all.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(Response::Locations(all))
            }
            Request::Offering { xpath } => {
                let request = Request::Offering {
                    xpath: xpath.clone(),
                };
                let Response::Names(mut names) = self.local.call(request, logs)? else {
                    unreachable!("a location answers offering with names")
                };
                names.extend(
                    mesh.offering(&xpath)
                        .into_iter()
                        .filter(|n| n != self.name()),
                );
                names.sort();
                names.dedup();
                Ok(Response::Names(names))
            }
            Request::Mesh => Ok(Response::Peers(mesh.peers())),
            other => self.router().call(other, logs),
        }
    }

    fn call_at(
        &self,
        location: &str,
        request: Request,
        logs: Arc<dyn LogSink>,
    ) -> Result<Response, ApiError> {
        match &self.mesh {
            Some(mesh) if location != self.name() => mesh.call_blocking(location, request, logs),
            _ if location == self.name() => self.local.call(request, logs),
            _ => Err(ApiError::Unreachable {
                location: location.to_owned(),
                message: "this agent is not in a mesh".into(),
            }),
        }
    }
}

/// Tells the mesh the catalogue whenever a lifecycle moved, until the mesh stops.
pub(crate) async fn announce(local: Arc<Local>, mesh: Handle) {
    let mut last = None;
    loop {
        let generation = local.location().generation();
        if last != Some(generation) {
            last = Some(generation);
            mesh.set_catalogue(catalogue_of(local.location(), generation))
                .await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
