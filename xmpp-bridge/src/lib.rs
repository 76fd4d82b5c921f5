//! # armonic-xmpp-bridge
//!
//! Makes every live agent of the mesh reachable over XMPP as an original armonic agent was,
//! for existing Prosody or ejabberd setups and the original clients (`armocli`,
//! `smartonic`).
//!
//! The bridge is a node of the mesh that serves no location. For every live location `web1`
//! it logs in one XMPP client, `web1@<domain>/agent`, that says it is there and subscribes
//! to the master account, so `armocli list` finds it. Calls in the original's protocol
//! (custom IQs in namespace `armonic`) become requests of our API on that location;
//! answers go back in the original's shapes, log lines to the deployment's room.
//!
//! Where to start reading:
//! - [`original`]: the translation between the original API and ours, pure and tested method
//!   by method ([`original::Call`], [`original::shape()`], [`original::Fault`]).
//! - [`stanza`]: the protocol's payloads.
//! - [`Bridge`]: the running bridge; `session` (one client per agent) and `agent` (its calls).
//! - [`Config`]: what it needs.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use armonic_xmpp_bridge::{Bridge, Config};
//! let mesh = armonic_mesh::Config::new(
//!     armonic_mesh::Identity::ephemeral(),
//!     armonic_mesh::SwarmKey::read(std::path::Path::new("/var/lib/armonic/swarm.key"))?,
//! );
//! let mut config = Config::new("example.com", mesh)?;
//! config.password = Some("secret".into());
//! let bridge = Bridge::start(config).await?;
//! // … until asked to stop:
//! bridge.shutdown().await;
//! # Ok(()) }
//! ```

mod agent;
mod bridge;
pub mod commands;
pub mod config;
pub mod forms;
pub mod limits;
mod logs;
pub mod original;
mod outbox;
pub mod register;
mod session;
mod shared;
pub mod stanza;

pub use agent::result_id;
pub use bridge::{Bridge, Error, agent_jid};
pub use config::{Config, ConfigError, FileConfig};
