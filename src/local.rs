//! Embedded locations (`--local`): lifecycles loaded from directories, run in this process.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use armonic_lifecycle::{Config, Interrupt, LifecycleDef, Location, LockWait, OsType, load_dirs};

use crate::cli::{Format, Global};
use crate::logs::StderrSink;
use crate::report::Usage;
use crate::settings::Settings;

/// Where the shipped lifecycles are looked for when no -L is given.
fn default_lifecycle_dirs() -> Vec<PathBuf> {
    let candidates = [
        PathBuf::from("/usr/share/armonic/lifecycles"),
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/lifecycles")),
    ];
    candidates
        .into_iter()
        .filter(|p| p.is_dir())
        .take(1)
        .collect()
}

/// Loads the lifecycles of the lifecycle directories: files that do not load are warnings,
/// no lifecycle at all is an error.
pub fn lifecycles(settings: &Settings) -> Result<Vec<LifecycleDef>> {
    let dirs = if settings.lifecycle_dirs.is_empty() {
        default_lifecycle_dirs()
    } else {
        settings.lifecycle_dirs.clone()
    };
    if dirs.is_empty() {
        bail!(Usage("no lifecycle directory: give one with -L DIR".into()));
    }
    for dir in &dirs {
        if !dir.is_dir() {
            bail!(Usage(format!(
                "lifecycle directory {} does not exist",
                dir.display()
            )));
        }
    }
    let catalog = load_dirs(&dirs);
    for e in &catalog.errors {
        eprintln!("warning: {e}");
    }
    if catalog.lifecycles.is_empty() {
        let list: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        bail!(
            "no valid lifecycle in {}{}",
            list.join(", "),
            if catalog.errors.is_empty() {
                " (lifecycle files end in .toml)"
            } else {
                ""
            }
        );
    }
    Ok(catalog.lifecycles)
}

/// The OS states are checked against: given, or detected.
pub fn os(settings: &Settings) -> OsType {
    settings
        .os_type
        .as_deref()
        .map_or_else(OsType::detect, OsType::parse)
}

/// Builds the embedded locations the settings describe: one per `--location`, or one named
/// after the host. Each holds its state directory's lock while it lives.
pub fn locations(g: &Global, settings: &Settings, interrupt: &Interrupt) -> Result<Vec<Location>> {
    let lifecycles = lifecycles(settings)?;
    let os = os(settings);
    let lock_wait = if settings.wait {
        let interrupt = interrupt.clone();
        LockWait::Until(Arc::new(move || interrupt.is_stopping()))
    } else {
        LockWait::No
    };
    let mut out = Vec::new();
    for spec in &settings.locations {
        let config = Config {
            name: spec.name.clone(),
            os: os.clone(),
            public_ip: spec.public_ip.clone(),
            simulation: settings.simulation,
            validate_on_call: true,
            state_dir: spec.state_dir.clone(),
            lock_wait: lock_wait.clone(),
        };
        let sink = StderrSink::new(g.verbose, g.quiet, g.no_color, g.format == Format::Json);
        let loc = Location::builder(config)
            .sink(Arc::new(sink))
            .interrupt(interrupt.clone())
            .build(lifecycles.clone())
            .with_context(|| format!("cannot start location {}", spec.name))?;
        for issue in loc.restore_issues() {
            eprintln!("warning: {issue}");
        }
        out.push(loc);
    }
    Ok(out)
}
