//! # armonic-xmpp-bridge
//!
//! Makes every live agent of the mesh reachable over XMPP as an original armonic agent was.
pub mod original;
