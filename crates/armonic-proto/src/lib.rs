//! # armonic-proto
//!
//! The agent API, once. Its [methods](method) (`info`, `lifecycle`, `state`, …
//! `provide_call`, `to_dot`, `uri`, `xpath`: the original agent's), one file each with its
//! typed answer, whether it changes states and where a router sends it; the [`Request`] and
//! [`Response`] enums made from their list; typed errors ([`ApiError`]).
//!
//! One shape of call: a [`Call`] goes to an [`Endpoint`] and comes back as a [`CallStream`]
//! of log lines and then the answer. Locations in a process, the agent's socket, the mesh
//! and a [`Router`] over several of them are all endpoints; [`EndpointExt::ask`] sends any
//! method and checks its answer once.
//!
//! How it travels: CBOR [frames](mod@frame) with a size cap checked before decoding, a
//! [`Hello`] exchanged first, then [`ClientMessage`]s and [`ServerMessage`]s (the same on the
//! control socket and on the mesh). Journal entries and queries are [`journal`] types.
//!
//! Pure: no tokio, no network.
//!
//! ```
//! use armonic_proto::{ClientMessage, CallId, Request, frame, method};
//!
//! let call = ClientMessage::Call {
//!     id: 1,
//!     call: CallId::new(),
//!     request: Request::from(method::ProvideCall {
//!         uri: "//WebServer//start".parse().unwrap(),
//!         values: Default::default(),
//!         path_idx: 0,
//!     }),
//!     location: None,
//!     deployment: None,
//!     from_seq: 0,
//!     again: false,
//!     on_behalf_of: None,
//!     caller_location: None,
//!     step: None,
//!     plan: None,
//! };
//! let bytes = frame::encode(&call, frame::MAX_FRAME).unwrap();
//! let payload = frame::read_frame(&mut &bytes[..], frame::MAX_FRAME).unwrap().unwrap();
//! assert_eq!(ClientMessage::decode(&payload).unwrap(), call);
//! ```

mod call;
mod catalogue;
pub mod client;
mod error;
pub mod frame;
pub mod io;
pub mod journal;
mod lines;
mod message;
pub mod method;
mod route;
mod secret;
pub mod serve;

pub use call::{
    Call, CallId, CallStream, Caller, CatalogueVersion, DeploymentDoc, DeploymentId, Endpoint,
    EndpointExt, Event, PlannedStep, Slot, Take, answered, finish,
};
pub use catalogue::{Catalogue, LifecycleEntry, PeerInfo, catalogue_of};
pub use error::ApiError;
pub use frame::Hello;
pub use lines::{LineRef, LogBatch};
pub use message::{ClientMessage, ServerMessage};
pub use method::{Context, Listed, Method, Request, Response, Route};
pub use route::{At, Router, answered_later};
