//! `armonic agent`: the agent of this machine, in the foreground until SIGINT or SIGTERM.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use armonic_lifecycle::Config;
use tokio::signal::unix::{SignalKind, signal};

use super::Ctx;
use crate::cli::AgentArgs;
use crate::report::Usage;
use crate::report::outln;
use crate::settings::Settings;

/// How the agent joins the mesh: its options over the configuration file's.
fn mesh_config(
    args: &AgentArgs,
    settings: &Settings,
    state_dir: &Path,
) -> Result<Option<armonic_mesh::Config>> {
    let file = &settings.mesh;
    if args.no_mesh || file.enabled == Some(false) {
        return Ok(None);
    }
    let given = args.swarm_key.clone().or_else(|| file.swarm_key.clone());
    let swarm_key = match given {
        // A key named is a key expected: a missing one is an error, never replaced.
        Some(path) => armonic_mesh::SwarmKey::read(&path)?,
        None => {
            let path = state_dir.join(armonic_mesh::SWARM_KEY);
            let (key, made) = armonic_mesh::SwarmKey::read_or_make(&path)?;
            if made {
                eprintln!(
                    "No swarm key yet: made one in {} (a mesh of this agent alone). For other \
                     machines to join, copy that file to theirs (it is a secret: owner-only), \
                     e.g. `scp {0} web2:{0}`, before starting their agents.",
                    path.display()
                );
            }
            key
        }
    };
    let identity = armonic_mesh::Identity::load(&state_dir.join(armonic_mesh::IDENTITY))?;
    let mut config = armonic_mesh::Config::new(identity, swarm_key);
    let pick = |cli: &Vec<String>, file: &Vec<String>| {
        if cli.is_empty() {
            file.clone()
        } else {
            cli.clone()
        }
    };
    let listen = pick(&args.listen, &file.listen);
    if !listen.is_empty() {
        config.listen = listen;
    }
    config.peers = pick(&args.peer, &file.peers);
    config.mdns = !args.no_mdns && file.mdns.unwrap_or(true);
    let operators = pick(&args.operator, &file.operators);
    config.operators = (!operators.is_empty()).then_some(operators);
    if let Some(secs) = args.reattach_for.or(file.reattach_for) {
        config.reattach_for = std::time::Duration::from_secs(secs);
    }
    Ok(Some(config))
}

/// A size: bytes, or a number with a unit (`K`, `M`, `G`, `T`, with or without `iB`/`B`,
/// all powers of 1024).
fn size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(&unit);
    let scale: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return None,
    };
    let bytes = number * scale as f64;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// Smallest room the journal may be given: a few files of calls.
const JOURNAL_MIN_SIZE: u64 = 1 << 20;

/// How much the journal keeps: the agent's options over the configuration file's.
fn journal_limits(args: &AgentArgs, settings: &Settings) -> Result<armonic_journal::Limits> {
    let mut limits = armonic_journal::Limits::default();
    if let Some(text) = args
        .journal_max_size
        .as_ref()
        .or(settings.journal.max_size.as_ref())
    {
        let bytes = size(text).ok_or_else(|| {
            Usage(format!(
                "journal max size {text}: give bytes or a size with a unit (800MiB, 2G)"
            ))
        })?;
        if bytes < JOURNAL_MIN_SIZE {
            bail!(Usage(format!(
                "journal max size {text}: give at least 1MiB (the journal is also the agent's audit log)"
            )));
        }
        limits.max_size = bytes;
        // Several files, so that removing the oldest frees room in steps.
        limits.file_size = limits.file_size.min(bytes / 4);
    }
    if let Some(text) = args
        .journal_max_age
        .as_ref()
        .or(settings.journal.max_age.as_ref())
    {
        let age = humantime::parse_duration(text).map_err(|_| {
            Usage(format!(
                "journal max age {text}: give a duration (12h, 30d, 1y)"
            ))
        })?;
        if age < std::time::Duration::from_secs(60) {
            bail!(Usage(format!(
                "journal max age {text}: give at least a minute (the journal is also the agent's audit log)"
            )));
        }
        limits.max_age = age;
    }
    Ok(limits)
}

/// Starts the agent, prints one line when it is ready, serves until a signal.
pub fn run(cx: &Ctx<'_>, args: &AgentArgs) -> Result<ExitCode> {
    let settings = cx.settings;
    let [spec] = settings.locations.as_slice() else {
        bail!(Usage(
            "an agent serves one location: name it with --name, not --location".into()
        ));
    };
    let state_dir = settings
        .state_dir
        .clone()
        .unwrap_or_else(armonic_agent::default_state_dir);
    // Before anything is read from it or written to it (the mesh's identity, the socket).
    armonic_lifecycle::safefs::private_dir(&state_dir)
        .with_context(|| format!("refusing state directory {}", state_dir.display()))?;
    let lifecycles = crate::local::lifecycles(settings)?;
    let mesh = mesh_config(args, settings, &state_dir)?;
    // Alone, the agent serves this machine; in a mesh, others need its address.
    let public_ip = if settings.public_ip_given || mesh.is_none() {
        spec.public_ip.clone()
    } else {
        match crate::address::detect() {
            Some((interface, ip)) => {
                eprintln!(
                    "{} is reached at {ip}, the address of {interface} (give --public-ip or \
                     public-ip in the configuration to choose)",
                    spec.name
                );
                ip.to_string()
            }
            None => {
                eprintln!(
                    "warning: this machine has no address but its loopback: {} is said to be \
                     reached at {} (give --public-ip or public-ip in the configuration)",
                    spec.name, spec.public_ip
                );
                spec.public_ip.clone()
            }
        }
    };
    let location = Config {
        name: spec.name.clone(),
        os: crate::local::os(settings),
        public_ip,
        simulation: settings.simulation,
        validate_on_call: true,
        state_dir: Some(state_dir.clone()),
        lock_wait: Default::default(),
    };
    let mut config = armonic_agent::Config::new(location, lifecycles);
    config.grace = settings.grace;
    config.mesh = mesh;
    config.journal = journal_limits(args, settings)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the agent's runtime")?;
    runtime.block_on(async {
        // Signals are caught before the agent says it is ready: none is missed.
        let mut term = signal(SignalKind::terminate()).context("cannot catch SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot catch SIGINT")?;
        let agent = armonic_agent::Agent::start(config).await?;
        let interrupt = agent.interrupt().clone();
        let mesh = match agent.mesh() {
            Some(m) => {
                // Listening is reported by the swarm as it happens: wait for it, briefly.
                let mut addrs = m.listen_addrs().await;
                for _ in 0..100 {
                    if !addrs.is_empty() {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    addrs = m.listen_addrs().await;
                }
                format!(", peer id {}, mesh on {}", m.peer_id(), addrs.join(" "))
            }
            None => String::new(),
        };
        outln!(
            "armonic agent {} ready: {} lifecycles, socket {}{mesh}",
            agent.location().config().name,
            agent.location().lifecycle_names().len(),
            agent.socket().display()
        )?;
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

#[cfg(test)]
mod tests {
    use super::size;

    #[test]
    fn sizes_are_bytes_or_numbers_with_a_binary_unit() {
        assert_eq!(size("4096"), Some(4096));
        assert_eq!(size("800MiB"), Some(800 << 20));
        assert_eq!(size("800M"), Some(800 << 20));
        assert_eq!(size("2G"), Some(2 << 30));
        assert_eq!(size("1.5 GB"), Some(3 << 29));
        assert_eq!(size("64k"), Some(64 << 10));
        assert_eq!(size("lots"), None);
        assert_eq!(size("12 parsecs"), None);
        assert_eq!(size("-1M"), None);
        assert_eq!(size(""), None);
    }
}
