//! # armonic-lifecycle
//!
//! The model and engine of Armonic. A **lifecycle** is a state machine describing a service;
//! its **states** carry **provides** (actions), which need **requires**: groups of typed,
//! validated **variables**. A **location** holds the lifecycles of one agent and offers the
//! agent API: listing, path finding, validation, state changes and provide calls.
//!
//! Where to start reading:
//! - [`mod@format`]: lifecycle files (TOML) → [`LifecycleDef`] ([`model`]).
//! - [`Location`]: the agent API (`provide_call`, `state_goto`, `provide_call_validate`…).
//! - [`Address`]: how resources are named (`//WebServer//start`).
//! - [`paths`]: how the engine goes from one state to another.
//! - [`variable`]: types and validation messages.
//!
//! No networking and no async here: the agent wraps a [`Location`] and serves it.
//!
//! ```
//! use armonic_lifecycle::{format, CallOptions, Config, Location, OsType, Value, Values};
//! use std::path::Path;
//!
//! let text = r#"
//! name = "Hello"
//! initial = "Off"
//! transitions = [["Off", "On"]]
//! [states.Off]
//! [states.On.enter.requires.conf.variables]
//! who = { type = "str", default = "world" }
//! [states.On.provides.greet]
//! return = { greeting = "hello {{ states.On.conf.who }}" }
//! "#;
//! let def = format::parse(text, Path::new("hello.toml")).unwrap();
//! let config = Config { name: "here".into(), os: OsType::all(), ..Config::default() };
//! let mut loc = Location::builder(config).build(vec![def]).unwrap();
//! let ret = loc
//!     .provide_call("//Hello//greet", &Values::new().set("//conf/who", "you"), &CallOptions::default())
//!     .unwrap();
//! assert_eq!(ret.unwrap().to_string(), r#"{"greeting":"hello you"}"#);
//! ```

pub mod action;
pub mod address;
mod dot;
mod error;
pub mod format;
pub mod info;
pub mod interrupt;
mod location;
pub mod log;
pub mod model;
pub mod names;
pub mod os;
pub mod paths;
pub mod persist;
pub mod safefs;
pub mod secret;
mod template;
mod value;
pub mod values;
pub mod variable;

pub use action::{CommandOutcome, CommandRunner, CommandSpec, Stream, Supervision, SystemRunner};
pub use address::{Address, AddressError, Kind};
pub use error::{Error, list_errors};
pub use format::{Catalog, LoadError, load_dirs};
pub use info::{Validation, VariableError};
pub use interrupt::{Interrupt, Stage};
pub use location::{Builder, CallOptions, CallerLocation, Config, Location, VERSION, hostname};
pub use log::{Level, LogRecord, LogSink, MemorySink};
pub use model::{LifecycleDef, Nargs};
pub use os::OsType;
pub use persist::{LockWait, OpenError, RestoreIssue};
pub use value::Value;
pub use values::Values;
