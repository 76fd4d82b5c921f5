//! # armonic-smart
//!
//! The deployment engine. Given a generic provide address (`//WebSite//start`), it builds the
//! deployment tree across locations, asks a [`Frontend`] only what it cannot infer, validates
//! every node with its agent, and produces a [`Plan`]: a DAG of provide calls with their final
//! values. [`Plan::execute`] runs it (children first, independent branches at once) and
//! [`Plan::record`] holds every answer, to save and replay.
//!
//! Agents are reached through the [`Agent`] and [`Mesh`] traits: no network code here.
//!
//! Where to start reading: [`resolve`] (the algorithm), `tree.rs` (nodes and how variables are
//! linked), [`Plan`], `exec.rs`, [`Record`].
//!
//! ```no_run
//! # fn demo(mesh: &dyn armonic_smart::Mesh) -> Result<(), armonic_smart::Error> {
//! use armonic_smart::{Autofill, Options, resolve};
//! let mut frontend = Autofill::default();
//! let mut plan = resolve(mesh, "//WebSite//start", &mut frontend, &Options::default())?;
//! println!("{}", plan.render());
//! let outcome = plan.execute(mesh, &mut frontend, 4);
//! if let Some(value) = &outcome.result {
//!     println!("{value}");
//! }
//! # Ok(()) }
//! ```

mod agent;
mod embedded;
mod error;
mod exec;
mod plan;
mod question;
mod record;
mod resolve;
mod tree;

pub use agent::{Agent, Mesh};
pub use armonic_proto::ApiError;
pub use embedded::Embedded;
pub use error::Error;
pub use exec::{Earlier, Execution, Outcome, Status, StepOutcome, is_sealed, seal};
pub use plan::{Plan, Step};
pub use question::{
    Abort, Answer, Autofill, Choice, Event, Frontend, Question, Requirer, VariableQuestion,
    describe, parse_value,
};
pub use record::{FORMAT, Key, Record};
pub use resolve::Options;

/// Deepest dependency chain a deployment may have.
pub const MAX_DEPTH: usize = 64;

/// Resolves a deployment of `root` on `mesh`, asking `frontend` what cannot be inferred.
///
/// Nothing is called: the agents are only asked for their provides, paths and validations.
pub fn resolve(
    mesh: &dyn Mesh,
    root: &str,
    frontend: &mut dyn Frontend,
    options: &Options,
) -> Result<Plan, Error> {
    resolve_keeping_answers(mesh, root, frontend, options).map_err(|(e, _)| e)
}

/// Like [`resolve`], but when resolution fails it also returns the record of the answers given
/// so far, so that nothing the user typed is lost: replaying it asks only the rest.
pub fn resolve_keeping_answers(
    mesh: &dyn Mesh,
    root: &str,
    frontend: &mut dyn Frontend,
    options: &Options,
) -> Result<Plan, (Error, Box<Record>)> {
    if let Some(record) = options.replay.as_ref().filter(|_| !options.force) {
        record
            .check(root)
            .map_err(|e| (e, Box::new(Record::new(root))))?;
    }
    let mut resolver = resolve::Resolver::new(mesh, frontend, root, options);
    let result = resolver.resolve(0);
    let (nodes, vars, record) = resolver.finish();
    match result {
        Ok(()) => Ok(Plan::new(
            options.id.clone(),
            root.to_owned(),
            nodes,
            vars,
            record,
        )),
        Err(e) => Err((e, Box::new(record))),
    }
}
