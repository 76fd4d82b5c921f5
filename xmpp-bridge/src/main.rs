//! `armonic-xmpp-bridge`: every live agent of the mesh, reachable over XMPP.

mod cli;

use anyhow::Result;
use armonic_xmpp_bridge::Bridge;
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> Result<()> {
    let args = cli::Args::parse();
    let level = match args.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = cli::config(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let bridge = Bridge::start(config).await?;
        tracing::info!(peer_id = bridge.mesh().peer_id(), "bridge started");
        shutdown_signal().await;
        tracing::info!("stopping: agents go offline (again to stop at once)");
        tokio::select! {
            () = bridge.shutdown() => Ok(()),
            () = shutdown_signal() => {
                tracing::warn!("stopped without waiting for the agents to log out");
                std::process::exit(130);
            }
        }
    })
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
