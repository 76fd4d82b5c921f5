//! `armonic key`: the mesh's swarm key.

use std::process::ExitCode;

use anyhow::{Context, Result};

use super::Ctx;
use crate::cli::KeyAction;

/// `armonic key generate`.
pub fn run(cx: &Ctx<'_>, action: &KeyAction) -> Result<ExitCode> {
    let KeyAction::Generate { output } = action;
    let path = match output {
        Some(path) => path.clone(),
        None => {
            let dir = cx
                .settings
                .state_dir
                .clone()
                .unwrap_or_else(armonic_agent::default_state_dir);
            armonic_lifecycle::safefs::private_dir(&dir)
                .with_context(|| format!("refusing state directory {}", dir.display()))?;
            dir.join(armonic_mesh::SWARM_KEY)
        }
    };
    armonic_mesh::generate_swarm_key(&path)?;
    eprintln!(
        "Swarm key written to {}: copy it to every machine of the mesh (owner-only, it is a secret).",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
