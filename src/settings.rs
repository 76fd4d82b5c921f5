//! The options that shape the embedded locations, from the command line, the environment
//! and the configuration file (`--config`), checked once here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use armonic_lifecycle::names;
use serde::Deserialize;

use crate::cli::Global;
use crate::report::Usage;

/// The configuration file: the global options, under their long names.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct File {
    lifecycle_dirs: Option<Vec<PathBuf>>,
    state_dir: Option<PathBuf>,
    simulation: Option<bool>,
    grace_period: Option<f64>,
    locations: Option<Vec<String>>,
    name: Option<String>,
    public_ip: Option<String>,
    os_type: Option<String>,
    mesh: Option<bool>,
    listen: Option<Vec<String>>,
    peers: Option<Vec<String>>,
    mdns: Option<bool>,
    operators: Option<Vec<String>>,
    swarm_key: Option<PathBuf>,
    reattach_for: Option<u64>,
    journal_max_size: Option<String>,
    journal_max_age: Option<String>,
}

/// How much the agent's journal keeps, from the configuration file (the agent's options
/// win).
#[derive(Debug, Clone, Default)]
pub struct JournalFile {
    pub max_size: Option<String>,
    pub max_age: Option<String>,
}

/// How the agent joins the mesh, from the configuration file (the agent's options win).
#[derive(Debug, Clone, Default)]
pub struct MeshFile {
    pub enabled: Option<bool>,
    pub listen: Vec<String>,
    pub peers: Vec<String>,
    pub mdns: Option<bool>,
    pub operators: Vec<String>,
    pub swarm_key: Option<PathBuf>,
    pub reattach_for: Option<u64>,
}

/// One embedded location to build.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationSpec {
    /// Its name.
    pub name: String,
    /// Where its services are reached.
    pub public_ip: String,
    /// Its state directory, if states are kept.
    pub state_dir: Option<PathBuf>,
}

/// Checked options.
#[derive(Debug, Clone)]
pub struct Settings {
    pub lifecycle_dirs: Vec<PathBuf>,
    /// Whether the public address was given (`--public-ip`, `public-ip`): an agent finds
    /// its own otherwise.
    pub public_ip_given: bool,
    pub simulation: bool,
    pub grace: Duration,
    pub os_type: Option<String>,
    pub locations: Vec<LocationSpec>,
    pub wait: bool,
    /// The state directory given (for an agent: where its socket is).
    pub state_dir: Option<PathBuf>,
    /// The mesh options of the configuration file.
    pub mesh: MeshFile,
    /// The journal options of the configuration file.
    pub journal: JournalFile,
}

fn read_file(path: &Path) -> Result<File> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        Usage(format!(
            "configuration file {}: {}",
            path.display(),
            e.to_string().trim_end()
        ))
        .into()
    })
}

fn name(what: &str, n: &str) -> Result<String> {
    names::check(n).map_err(|e| Usage(format!("{what} {e}")))?;
    Ok(n.to_owned())
}

fn host(what: &str, h: &str) -> Result<String> {
    names::check_host(h).map_err(|e| Usage(format!("{what}: {e}")))?;
    Ok(h.to_owned())
}

impl Settings {
    /// Merges the command line (and environment) over the configuration file.
    pub fn new(g: &Global) -> Result<Settings> {
        let file = match &g.config {
            Some(path) => read_file(path)?,
            None => File::default(),
        };
        let lifecycle_dirs = if g.lifecycle_dirs.is_empty() {
            file.lifecycle_dirs.unwrap_or_default()
        } else {
            g.lifecycle_dirs.clone()
        };
        let grace_secs = g.grace_period.or(file.grace_period).unwrap_or(10.0);
        if !(0.0..=86_400.0).contains(&grace_secs) {
            return Err(Usage(format!(
                "--grace-period must be between 0 and 86400 seconds, not {grace_secs}"
            ))
            .into());
        }
        let state_dir = g.state_dir.clone().or(file.state_dir);
        let public_ip_given = g.public_ip.is_some() || file.public_ip.is_some();
        let public_ip = match g.public_ip.clone().or(file.public_ip) {
            Some(ip) => host("--public-ip", &ip)?,
            None => "localhost".to_owned(),
        };
        let specs = if g.locations.is_empty() {
            file.locations.unwrap_or_default()
        } else {
            g.locations.clone()
        };
        let mut locations = Vec::new();
        if specs.is_empty() {
            let n = match g.name.clone().or(file.name) {
                Some(n) => name("--name", &n)?,
                None => armonic_lifecycle::hostname(),
            };
            locations.push(LocationSpec {
                name: n,
                public_ip,
                state_dir: state_dir.clone(),
            });
        }
        for spec in &specs {
            let (n, addr) = match spec.split_once('=') {
                Some((n, addr)) => (
                    name("--location", n)?,
                    host(&format!("--location {spec}"), addr)?,
                ),
                None => (name("--location", spec)?, spec.clone()),
            };
            if locations.iter().any(|l: &LocationSpec| l.name == n) {
                return Err(Usage(format!("location {n} is given twice")).into());
            }
            locations.push(LocationSpec {
                state_dir: state_dir.as_ref().map(|d| d.join(&n)),
                name: n,
                public_ip: addr,
            });
        }
        Ok(Settings {
            lifecycle_dirs,
            public_ip_given,
            simulation: g.simulation.or(file.simulation).unwrap_or(false),
            grace: Duration::from_secs_f64(grace_secs),
            os_type: g.os_type.clone().or(file.os_type),
            locations,
            wait: g.wait,
            state_dir,
            mesh: MeshFile {
                enabled: file.mesh,
                listen: file.listen.unwrap_or_default(),
                peers: file.peers.unwrap_or_default(),
                mdns: file.mdns,
                operators: file.operators.unwrap_or_default(),
                swarm_key: file.swarm_key,
                reattach_for: file.reattach_for,
            },
            journal: JournalFile {
                max_size: file.journal_max_size,
                max_age: file.journal_max_age,
            },
        })
    }
}
