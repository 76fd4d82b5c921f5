//! Plans saved for review (`deploy --dry-run --save-plan FILE`) and applied as saved
//! (`deploy --plan FILE`): the deployment's document (every step with its values, secrets
//! left out), its hash, and the fingerprint of every location it runs on. Applying refuses,
//! before anything runs, when one of those locations changed since (its lifecycles, or the
//! states they stand in).

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, Result, bail};
use armonic_lifecycle::Value;
use armonic_proto::{CatalogueVersion, DeploymentDoc, EndpointExt, method};
use armonic_smart::{Execution, Record};
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::cli::Global;
use crate::prompt::Prompt;
use crate::report::Usage;

/// Version of the plan file format.
const FORMAT: u32 = 1;

/// A plan file.
#[derive(Debug, Serialize, Deserialize)]
struct PlanFile {
    /// [`FORMAT`].
    armonic_plan: u32,
    /// The plan.
    plan: DeploymentDoc,
}

/// The locations `doc`'s steps run on, each once, in plan order.
fn locations(doc: &DeploymentDoc) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in &doc.steps {
        if !out.contains(&s.location) {
            out.push(s.location.clone());
        }
    }
    out
}

/// The fingerprint of `location` now.
fn fingerprint(backend: &Backend, location: &str) -> Result<String> {
    let agent = backend
        .mesh()
        .agent(location)
        .with_context(|| format!("{location} is not a live location of the mesh"))?;
    agent
        .endpoint()
        .ask(method::Fingerprint {})
        .with_context(|| format!("cannot read the fingerprint of {location}"))
}

/// Writes the plan of `exec` to `path` (owner-only), bound to the fingerprints of the
/// locations it runs on.
pub fn save(backend: &Backend, exec: &Execution, path: &Path) -> Result<()> {
    let mut doc = (*exec.doc).clone();
    for location in locations(&doc) {
        let hash = fingerprint(backend, &location)?;
        doc.catalogues.push(CatalogueVersion { location, hash });
    }
    let doc = armonic_smart::seal(doc);
    let file = PlanFile {
        armonic_plan: FORMAT,
        plan: doc,
    };
    let text = serde_json::to_string_pretty(&file)? + "\n";
    armonic_lifecycle::safefs::replace_file(path, text.as_bytes(), 0o600)
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "Plan written in {} (hash {}): `armonic deploy --plan {}` applies exactly it.",
        path.display(),
        &file.plan.hash[..12],
        path.display()
    );
    Ok(())
}

/// Reads the plan in `path`, checked whole (its hash).
pub fn load(path: &Path) -> Result<DeploymentDoc> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read plan {}", path.display()))?;
    let file: PlanFile = serde_json::from_str(&text).map_err(|e| {
        Usage(format!(
            "{} is not a plan saved by `deploy --dry-run --save-plan`: {e}",
            path.display()
        ))
    })?;
    if file.armonic_plan != FORMAT {
        bail!(Usage(format!(
            "{} is a plan of format {}; this armonic reads format {FORMAT}: make it again",
            path.display(),
            file.armonic_plan
        )));
    }
    let doc = file.plan;
    if !armonic_smart::is_sealed(&doc) {
        bail!(Usage(format!(
            "{} was changed since it was saved (its hash does not match): nothing was run; make the plan again",
            path.display()
        )));
    }
    Ok(doc)
}

/// Refuses `doc` unless every location it runs on has the fingerprint it was made against.
pub fn check(backend: &Backend, doc: &DeploymentDoc) -> Result<()> {
    let mut changed = Vec::new();
    for c in &doc.catalogues {
        match fingerprint(backend, &c.location) {
            Ok(now) if now == c.hash => {}
            Ok(_) => changed.push(format!(
                "{} (its lifecycles or their states changed)",
                c.location
            )),
            Err(e) => changed.push(format!("{} ({})", c.location, crate::report::message(&e))),
        }
    }
    if doc.catalogues.is_empty() {
        bail!(Usage(
            "the plan names no location it was made against: make it again with `deploy --dry-run --save-plan`".into()
        ));
    }
    if !changed.is_empty() {
        bail!(
            "the plan was made against catalogues that changed since: {}; nothing was run (make the plan again and review it)",
            changed.join(", ")
        );
    }
    Ok(())
}

/// Gives `exec` the secrets its steps still to run need: from the record `answers`, else
/// asked at the terminal; `doing` says what stops when one is missing.
pub fn give_secrets(
    g: &Global,
    interrupt: &armonic_lifecycle::Interrupt,
    answers: Option<&Path>,
    exec: &mut Execution,
    doing: &str,
) -> Result<()> {
    if exec.needs().is_empty() {
        return Ok(());
    }
    if let Some(path) = answers {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read answers {}", path.display()))?;
        let record = serde_json::from_str::<Record>(&text)
            .with_context(|| format!("{} is not a deployment record", path.display()))?;
        for (node, slot) in exec.needs() {
            let value = record
                .variables
                .iter()
                .find(|(k, _)| k.node == node && k.xpath == slot.xpath)
                .and_then(|(_, sets)| sets.get(&slot.set.to_string()));
            if let Some(v) = value {
                exec.give_secret(&node, &slot, v.clone());
            }
        }
    }
    let needs = exec.needs();
    if needs.is_empty() {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        let names: Vec<String> = needs
            .iter()
            .map(|(n, s)| format!("{n}/{}", s.xpath))
            .collect();
        bail!(Usage(format!(
            "the steps to run need secrets that are not kept: {}; give them with --answers FILE (a record saved with --save-secrets) or run at a terminal ({doing})",
            names.join(", ")
        )));
    }
    let mut prompt = Prompt::new(false, g, true, false, interrupt.clone());
    for (node, slot) in needs {
        let set = if slot.set > 0 {
            format!("[{}]", slot.set)
        } else {
            String::new()
        };
        let text = prompt
            .read_secret(&format!("{node}: {}{set} (secret): ", slot.xpath))
            .map_err(|e| anyhow::anyhow!("stopped before running anything: {}", e.0))?;
        exec.give_secret(&node, &slot, Value::from(text));
    }
    Ok(())
}
