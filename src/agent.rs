//! `armonic agent`: the agent of this machine, in the foreground until SIGINT or SIGTERM.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use armonic_lifecycle::Config;
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::{Format, Global};
use crate::logs::StderrSink;
use crate::report::Usage;
use crate::settings::Settings;

/// Starts the agent, prints one line when it is ready, serves until a signal.
pub fn run(g: &Global, settings: &Settings) -> Result<ExitCode> {
    let [spec] = settings.locations.as_slice() else {
        bail!(Usage(
            "an agent serves one location: name it with --name, not --location".into()
        ));
    };
    let state_dir = settings
        .state_dir
        .clone()
        .unwrap_or_else(armonic_agent::default_state_dir);
    let lifecycles = crate::local::lifecycles(settings)?;
    let location = Config {
        name: spec.name.clone(),
        os: crate::local::os(settings),
        public_ip: spec.public_ip.clone(),
        simulation: settings.simulation,
        validate_on_call: true,
        state_dir: Some(state_dir),
        lock_wait: Default::default(),
    };
    let mut config = armonic_agent::Config::new(location, lifecycles);
    config.grace = settings.grace;
    let mut sink = StderrSink::new(g.verbose, g.quiet, g.no_color, g.format == Format::Json);
    sink.show_location = true;
    config.logs = Arc::new(sink);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the agent's runtime")?;
    runtime.block_on(async {
        // Signals are caught before the agent says it is ready: none is missed.
        let mut term = signal(SignalKind::terminate()).context("cannot catch SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot catch SIGINT")?;
        let agent = armonic_agent::Agent::start(config)?;
        let interrupt = agent.interrupt().clone();
        println!(
            "armonic agent {} ready: {} lifecycles, socket {}",
            agent.location().config().name,
            agent.location().lifecycle_names().len(),
            agent.socket().display()
        );
        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            eprintln!("stopping: no new call; running steps get SIGTERM (again to kill them)");
            // A second signal kills the running steps at once.
            tokio::spawn(async move {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                interrupt.kill();
            });
        };
        agent.serve(shutdown).await?;
        eprintln!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}
