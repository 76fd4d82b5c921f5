//! # armonic-proto
//!
//! The agent API, once: a [`Request`] enum covering everything the original agent exposed
//! (`info`, `lifecycle`, `state`, … `provide_call`, `to_dot`, `uri`, `xpath`), its
//! [`Response`]s and its typed errors ([`ApiError`]), and how they travel: CBOR
//! [frames](mod@frame) with a size cap checked before decoding, a [`Hello`] exchanged first,
//! and the [`ClientMessage`]/[`ServerMessage`] envelopes that carry calls, their log lines and
//! replies.
//!
//! Pure: no tokio, no network. The agent, the command line, the mesh and the XMPP bridge are
//! transports around these types.
//!
//! ```
//! use armonic_proto::{ClientMessage, DeploymentId, Request, frame};
//!
//! let call = ClientMessage::Call {
//!     id: 1,
//!     request: Request::ProvideCall {
//!         uri: "//WebServer//start".parse().unwrap(),
//!         values: Default::default(),
//!         path_idx: 0,
//!         deployment: DeploymentId::new(),
//!     },
//!     location: None,
//! };
//! let bytes = frame::encode(&call, frame::MAX_FRAME).unwrap();
//! let payload = frame::read_frame(&mut &bytes[..], frame::MAX_FRAME).unwrap().unwrap();
//! assert_eq!(frame::decode::<ClientMessage>(&payload).unwrap(), call);
//! ```

mod catalogue;
mod dispatch;
mod error;
pub mod frame;
mod message;
mod request;
mod route;

pub use catalogue::{Catalogue, Digest, LifecycleEntry, PeerInfo, catalogue_of};
pub use dispatch::{Local, dispatch};
pub use error::ApiError;
pub use frame::Hello;
pub use message::{ClientMessage, ServerMessage};
pub use request::{DeploymentId, Request, Response};
pub use route::{At, Endpoint, Router};
