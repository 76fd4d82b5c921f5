//! `armonic demo`: a mesh of three agents in this process, on loopback (explicit peers, no
//! mDNS: nothing is sent on the machine's network), a fresh swarm key, and the Proxy
//! deployment driven through one of them, as on three machines.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use armonic_lifecycle::{Config, Interrupt, OsType};
use tokio::sync::oneshot;

use super::Ctx;
use super::deploy::{DeployArgs, deploy};
use crate::backend::Backend;
use crate::cli::{Format, Global};
use crate::logs::StderrSink;

/// Where the demo's answers are: beside the shipped lifecycles.
fn answers() -> Result<PathBuf> {
    [
        PathBuf::from("/usr/share/armonic/examples/proxy-answers.json"),
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/proxy-answers.json"
        )),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .context("the demo's answers (examples/proxy-answers.json) are not installed")
}

/// Runs the demo; its exit status is the deployment's.
pub fn run(cx: &Ctx<'_>) -> Result<ExitCode> {
    let (g, settings, interrupt) = (cx.global, cx.settings, cx.interrupt);
    check(g)?;
    let answers = answers()?;
    let lifecycles = crate::local::lifecycles(settings)?;
    let dir = tempfile::tempdir().context("cannot make the demo's state directories")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the demo's runtime")?;
    let key = armonic_mesh::SwarmKey::random()?;
    eprintln!(
        "Three agents on 127.0.0.1 (web1, web2, proxy), in a mesh of their own (a fresh swarm key, no mDNS):"
    );
    let mut stops = Vec::new();
    let mut first: Option<String> = None;
    let mut sockets = Vec::new();
    for name in ["web1", "web2", "proxy"] {
        let location = Config {
            name: name.into(),
            os: OsType::detect(),
            public_ip: name.into(),
            simulation: settings.simulation,
            validate_on_call: true,
            state_dir: Some(dir.path().join(name)),
            lock_wait: Default::default(),
        };
        let mut mesh = armonic_mesh::Config::new(armonic_mesh::Identity::ephemeral(), key.clone());
        mesh.listen = vec!["127.0.0.1:0".into()];
        mesh.mdns = false;
        mesh.peers = first.iter().cloned().collect();
        let mut config = armonic_agent::Config::new(location, lifecycles.clone());
        config.mesh = Some(mesh);
        config.grace = settings.grace;
        let agent = runtime.block_on(armonic_agent::Agent::start(config))?;
        let handle = agent.mesh().cloned();
        let addr = runtime.block_on(async {
            let mut addrs = Vec::new();
            for _ in 0..200 {
                if let Some(h) = &handle {
                    addrs = h.listen_addrs().await;
                }
                if !addrs.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            addrs.into_iter().next()
        });
        eprintln!(
            "  {name:<6} peer id {}, mesh on {}",
            handle.as_ref().map(|h| h.peer_id()).unwrap_or_default(),
            addr.clone().unwrap_or_default()
        );
        first = first.or(addr);
        sockets.push(agent.socket().to_owned());
        let (stop, stopped) = oneshot::channel::<()>();
        runtime.spawn(agent.serve(async {
            let _ = stopped.await;
        }));
        stops.push(stop);
    }
    let result = drive(g, &sockets[2], &answers, interrupt, runtime.handle());
    for stop in stops {
        let _ = stop.send(());
    }
    runtime.shutdown_timeout(settings.grace + Duration::from_secs(5));
    result
}

/// Waits for the mesh to form, then deploys the Proxy through the third agent.
fn drive(
    g: &Global,
    socket: &std::path::Path,
    answers: &std::path::Path,
    interrupt: &Interrupt,
    runtime: &tokio::runtime::Handle,
) -> Result<ExitCode> {
    let sink = StderrSink::new(g.verbose, g.quiet, g.no_color, g.format == Format::Json);
    let deadline = Instant::now() + Duration::from_secs(15);
    let backend = loop {
        let backend = Backend::connect(socket, sink.clone(), interrupt, runtime.clone())?;
        if backend.mesh().locations().len() == 3 {
            break backend;
        }
        if Instant::now() > deadline || interrupt.is_stopping() {
            bail!("the three agents did not find each other in 15 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!(
        "The mesh is up: {}. Deploying //Proxy//start from proxy, answers from {}:\n",
        backend.mesh().locations().join(", "),
        answers.display()
    );
    let args = DeployArgs {
        xpath: Some("//Proxy//start".into()),
        manage: false,
        autofill: false,
        answers: Some(answers.to_owned()),
        save: None,
        save_secrets: false,
        force: false,
        dry_run: false,
        save_plan: None,
        plan: None,
        parallel: 4,
        yes: true,
    };
    deploy(g, &backend, &args, interrupt)
}

/// The settings the demo may take (others make no sense for it).
fn check(g: &Global) -> Result<()> {
    if g.local || !g.locations.is_empty() || g.state_dir.is_some() {
        bail!(crate::report::Usage(
            "the demo makes its own agents: --local, --location and --state-dir do not apply"
                .into()
        ));
    }
    Ok(())
}
