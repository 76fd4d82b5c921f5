//! Where a call goes: this agent's location, or another agent of the mesh. The agent's
//! service, behind both of its doors.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use armonic_journal::Host;
use armonic_mesh::Handle;
use armonic_proto::serve::{ReadRequest, ReadStream, Service};
use armonic_proto::{
    Call, CallStream, Endpoint, Listed, Request, Response, Route, Router, answered, answered_later,
    catalogue_of, finish, method,
};

/// This agent's location and, through the mesh, every other live one. Calls are routed by
/// the rules of [`Router`]; mesh-wide questions (locations, offering, members) are answered
/// from the catalogues the mesh keeps; a location named that is a member gone is
/// `unreachable`, not `no_match`.
pub(crate) struct Meshed {
    host: Host,
    mesh: OnceLock<Handle>,
}

impl Meshed {
    pub fn new(host: Host) -> Meshed {
        Meshed {
            host,
            mesh: OnceLock::new(),
        }
    }

    /// The mesh this agent joined.
    pub fn join(&self, mesh: Handle) {
        let _ = self.mesh.set(mesh);
    }

    fn local(&self) -> &str {
        self.host.name()
    }

    fn router(&self, mesh: &Handle) -> Router {
        let mut endpoints: Vec<Arc<dyn Endpoint>> =
            vec![Arc::new(self.host.clone()) as Arc<dyn Endpoint>];
        for info in mesh.live() {
            if info.name != self.local() {
                endpoints.push(mesh.endpoint(&info.name));
            }
        }
        Router::new(endpoints)
    }

    /// The location a call names, when it names one.
    fn named(call: &Call) -> Option<String> {
        if let Some(l) = &call.location {
            return Some(l.clone());
        }
        match call.request.route() {
            Route::Listing(a) | Route::Resource(a) => a.location().map(str::to_owned),
            Route::Lifecycle(name) => {
                let parts: Vec<&str> = name.trim_start_matches('/').split('/').collect();
                match parts.as_slice() {
                    [location, _] => Some((*location).to_owned()),
                    _ => None,
                }
            }
            Route::Here | Route::Everywhere => None,
        }
    }

    /// Answers the mesh-wide questions from what the mesh knows.
    fn mesh_wide(&self, mesh: &Handle, request: &Request) -> Option<CallStream> {
        Some(match request {
            Request::Locations(_) => {
                let mut all = vec![self.host.location().info()];
                all.extend(mesh.live().into_iter().filter(|i| i.name != self.local()));
                all.sort_by(|a, b| a.name.cmp(&b.name));
                answered(Ok(Response::Locations(all)))
            }
            Request::Offering(method::Offering { xpath }) => {
                let here = Endpoint::call(
                    &self.host,
                    Call::new(method::Offering {
                        xpath: xpath.clone(),
                    }),
                );
                let there: Vec<String> = mesh
                    .offering(xpath)
                    .into_iter()
                    .filter(|n| n != self.local())
                    .collect();
                answered_later(async move {
                    let mut names = finish(here, |_| {})
                        .await
                        .and_then(<method::Offering as Listed>::answer)?;
                    names.extend(there);
                    names.sort();
                    names.dedup();
                    Ok(Response::Offering(names))
                })
            }
            Request::Mesh(_) => answered(Ok(Response::Mesh(mesh.peers()))),
            _ => return None,
        })
    }
}

impl Endpoint for Meshed {
    fn name(&self) -> &str {
        self.local()
    }

    fn call(&self, mut call: Call) -> CallStream {
        let Some(mesh) = self.mesh.get() else {
            return Endpoint::call(&self.host, call);
        };
        if call.location.is_none() {
            if let Some(answer) = self.mesh_wide(mesh, &call.request) {
                return answer;
            }
        }
        if let Some(location) = Self::named(&call) {
            if location == self.local() {
                return Endpoint::call(&self.host, call);
            }
            if let Some(gone) = mesh.gone(&location) {
                return answered(Err(gone));
            }
        }
        // What reaches another agent says which location it is made for: this one, unless
        // the caller said (a deployment says the consumer's).
        if call.caller_location.is_none() {
            let config = self.host.location().config();
            call.caller_location = Some(armonic_lifecycle::CallerLocation {
                name: config.name.clone(),
                address: config.public_ip.clone(),
            });
        }
        // What reaches another agent says whom it is for: the caller here, on this agent.
        if call.on_behalf_of.is_none() {
            call.on_behalf_of = call
                .caller
                .as_ref()
                .map(|c| format!("{c} on {}", self.local()));
        }
        self.router(mesh).call(call)
    }
}

impl Service for Meshed {
    fn call(&self, call: Call) -> CallStream {
        Endpoint::call(self, call)
    }

    fn read(&self, read: ReadRequest) -> ReadStream {
        let Some(mesh) = self.mesh.get() else {
            return Service::read(&self.host, read);
        };
        if let Some(l) = read.location.clone().filter(|l| l != self.local()) {
            let mut there = read;
            there.location = None;
            there.all = false;
            return mesh.read_journal(&l, there);
        }
        if !read.all {
            return Service::read(&self.host, read);
        }
        let follow = read.query.follow;
        let mut sources = vec![(
            self.local().to_owned(),
            Service::read(
                &self.host,
                ReadRequest {
                    all: false,
                    location: None,
                    ..read.clone()
                },
            ),
        )];
        for info in mesh.live() {
            if info.name != self.local() {
                let one = ReadRequest {
                    all: false,
                    location: None,
                    ..read.clone()
                };
                sources.push((info.name.clone(), mesh.read_journal(&info.name, one)));
            }
        }
        crate::reads::merged(sources, Duration::from_secs(5), follow)
    }
}

/// Tells the mesh the catalogue whenever a lifecycle moved, until the mesh stops.
pub(crate) async fn announce(host: Host, mesh: Handle) {
    let mut last = None;
    loop {
        let generation = host.location().generation();
        if last != Some(generation) {
            last = Some(generation);
            mesh.set_catalogue(catalogue_of(host.location(), generation))
                .await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
