//! The original agent's API over XMPP, translated to ours and back: method names and
//! argument names ([`Call`]), result shapes ([`shape()`], [`primitive`], [`xml`]) and
//! exception classes ([`Fault`]). Pure: no XMPP, no network; tested method by method.

mod args;
mod call;
mod fault;
pub mod primitive;
mod shape;
pub mod xml;

pub use args::Params;
pub use call::{Call, METHODS, Shape};
pub use fault::{Fault, class_of};
pub use shape::shape;
