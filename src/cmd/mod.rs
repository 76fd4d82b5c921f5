//! The commands, one module each: a command takes its arguments, asks the backend (the agent
//! of this machine, or embedded locations), and prints.

mod agent;
mod demo;
mod deploy;
mod deployments;
mod journal;
mod key;
mod lifecycle;
mod mesh;
mod plan_file;
mod plot;
mod provide;
mod provide_call;
mod resume;
mod state;
mod state_current;
mod state_goto;
mod status;
mod undo;
mod watch;
mod xpath;

use std::process::ExitCode;

use anyhow::Result;
use armonic_lifecycle::Interrupt;
use serde::Serialize;

use crate::backend::Backend;
use crate::cli::{Cli, Command, Format, Global};
use crate::report::{out, outln};
use crate::settings::Settings;

/// What every command has at hand.
pub struct Ctx<'a> {
    pub global: &'a Global,
    pub settings: &'a Settings,
    pub interrupt: &'a Interrupt,
}

impl Ctx<'_> {
    /// The output format.
    pub fn format(&self) -> Format {
        self.global.format
    }

    /// The agent of this machine, or the embedded locations.
    pub fn backend(&self) -> Result<Backend> {
        Backend::open(self.global, self.settings, self.interrupt)
    }

    /// Prints `result` as JSON, or `text()` for people.
    pub fn print<T: Serialize>(&self, result: &T, text: impl FnOnce() -> String) -> Result<()> {
        match self.format() {
            Format::Json => outln!("{}", serde_json::to_string_pretty(result)?)?,
            Format::Text => out!("{}", text())?,
        }
        Ok(())
    }
}

/// `items`, a line each.
pub fn lines<I: IntoIterator<Item = String>>(items: I) -> String {
    items.into_iter().map(|s| s + "\n").collect()
}

/// Runs the command `cli` names.
pub fn run(cli: &Cli, settings: &Settings, interrupt: &Interrupt) -> Result<ExitCode> {
    let cx = Ctx {
        global: &cli.global,
        settings,
        interrupt,
    };
    let done = |r: Result<()>| r.map(|()| ExitCode::SUCCESS);
    match &cli.command {
        Command::Agent(args) => agent::run(&cx, args),
        Command::Demo => demo::run(&cx),
        Command::Key { action } => key::run(&cx, action),
        Command::Deploy(args) => deploy::run(&cx, args),
        Command::Mesh { watch } => done(mesh::run(&cx, *watch)),
        Command::Status => done(status::run(&cx)),
        Command::Lifecycle {
            xpath,
            long_description,
        } => done(lifecycle::run(&cx, xpath, *long_description)),
        Command::State(args) => done(state::run(&cx, args)),
        Command::StateCurrent { xpath } => done(state_current::run(&cx, xpath)),
        Command::StateGoto { uri, values } => state_goto::run(&cx, uri, values),
        Command::Provide(args) => done(provide::run(&cx, args)),
        Command::ProvideCall(args) => provide_call::run(&cx, args),
        Command::Plot(args) => done(plot::run(&cx, args)),
        Command::Watch { deployment } => watch::run(&cx, deployment),
        Command::Journal(args) => journal::run(&cx, args),
        Command::Undo(args) => undo::run(&cx, args),
        Command::Resume(args) => resume::run(&cx, args),
        Command::Deployments => deployments::run(&cx),
        Command::Xpath { xpath, uri } => done(xpath::run(&cx, xpath, *uri)),
    }
}
