//! # armonic-journal
//!
//! The journal of the calls a location runs, and the [`Host`] that runs them into it.
//!
//! The agent that runs a call is the source of truth about it. Every call that changes
//! states is written to its journal: who asked (the door it came through says: a local user,
//! a peer of the mesh, and whom they act for), the request, the deployment, every log line
//! with its number, and the outcome. Reads are noted too: the journal is also the agent's
//! audit log. It lives in the state directory (`journal/`, one JSON record per line, files
//! rotated and removed by size and age; `docs/agent.md` has the format).
//!
//! Callers never hold up a step: each reads the journal with a cursor of its own, at its own
//! pace, from memory while it keeps up and from the files when it falls behind, and is told
//! how many lines it missed when even the files no longer have them.
//!
//! Where to start reading: [`Host`] (a call from start to end), `journal.rs` (appending,
//! memory and files), `reader.rs` (cursors, [`Entries`]), `record.rs` (the file format).
//!
//! ```
//! use armonic_journal::Host;
//! use armonic_lifecycle::{format, Config, Location, OsType};
//! use armonic_proto::{EndpointExt, method};
//! use std::path::Path;
//!
//! let def = format::parse("name = \"Hello\"\ninitial = \"Off\"\n[states.Off]\n", Path::new("hello.toml")).unwrap();
//! let config = Config { name: "here".into(), os: OsType::all(), ..Config::default() };
//! let host = Host::open(Location::builder(config).build(vec![def]).unwrap()).unwrap();
//! assert_eq!(host.ask(method::Info {}).unwrap().name, "here");
//! ```

mod files;
mod host;
pub mod journal;
mod reader;
mod record;

pub use files::Limits;
pub use host::{Host, Job, Spawn};
pub use journal::{CallStart, Config, Journal, OpenError, Unfinished};
pub use reader::{Entries, Found};
