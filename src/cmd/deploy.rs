//! `armonic deploy`: resolve, show, run and record a deployment, through the agent or on
//! embedded locations.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result};
use armonic_lifecycle::Interrupt;
use armonic_proto::DeploymentId;
use armonic_smart::{Execution, Options, Record, Status, resolve_keeping_answers};

use super::Ctx;
use crate::backend::Backend;
pub use crate::cli::DeployArgs;
use crate::cli::{Format, Global};
use crate::prompt::Prompt;
use crate::render;
use crate::report::{out, outln};

/// `armonic deploy`.
pub fn run(cx: &Ctx<'_>, args: &DeployArgs) -> Result<ExitCode> {
    let backend = cx.backend()?;
    deploy(cx.global, &backend, args, cx.interrupt)
}

fn save(path: &std::path::Path, record: &Record, secrets: bool) -> Result<()> {
    let text = if secrets {
        serde_json::to_string_pretty(record)?
    } else {
        serde_json::to_string_pretty(&record.without_secrets())?
    };
    // Owner-only: a record may hold secrets (with --save-secrets) and always holds what
    // the deployment was given.
    armonic_lifecycle::safefs::replace_file(path, (text + "\n").as_bytes(), 0o600)
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("Deployment values written in {}", path.display());
    Ok(())
}

/// Runs a deployment; the exit status says whether every step succeeded.
pub fn deploy(
    g: &Global,
    backend: &Backend,
    args: &DeployArgs,
    interrupt: &Interrupt,
) -> Result<ExitCode> {
    if let Some(path) = &args.plan {
        return apply(g, backend, args, path, interrupt);
    }
    let Some(xpath) = args.xpath.as_deref() else {
        anyhow::bail!(crate::report::Usage(
            "deploy needs the provide to deploy (//WebSite//start) or --plan FILE".into()
        ));
    };
    let replay = match &args.answers {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read answers {}", path.display()))?;
            Some(
                serde_json::from_str::<Record>(&text)
                    .with_context(|| format!("{} is not a deployment record", path.display()))?,
            )
        }
        None => None,
    };
    let mesh = backend.mesh();
    let json = g.format == Format::Json;
    let stdin = std::io::stdin();
    let several = backend.several;
    let terminal = stdin.is_terminal();
    let mut prompt = Prompt::new(args.autofill, g, terminal, several, interrupt.clone());
    let options = Options {
        id: DeploymentId::new(),
        replay,
        manage: args.manage,
        force: args.force,
    };
    let mut plan = match resolve_keeping_answers(mesh, xpath, &mut prompt, &options) {
        Ok(plan) => plan,
        Err((error, record)) => {
            // A record with no answer would only replace the file with nothing.
            if let Some(path) = args.save.as_ref().filter(|_| !record.is_empty()) {
                save(path, &record, args.save_secrets)?;
                eprintln!(
                    "The answers given so far are kept: replay them with --answers {}",
                    path.display()
                );
            }
            return Err(error.into());
        }
    };
    // Running adds nothing to the record: it is written once, complete, before anything runs.
    if let Some(path) = &args.save {
        save(path, &plan.record, args.save_secrets)?;
    }
    if plan.is_empty() {
        eprintln!("Nothing to deploy: {xpath} was declined.");
        if json {
            outln!(
                "{}",
                serde_json::json!({ "deployment": options.id, "steps": [], "result": null })
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.dry_run {
        if json {
            outln!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({ "deployment": options.id, "steps": plan.steps() })
                )?
            )?;
        } else {
            out!("{}", plan.render())?;
        }
        if let Some(path) = &args.save_plan {
            if backend.through_agent() {
                backend.agent_name().clone_into(&mut plan.driver);
            }
            super::plan_file::save(backend, &plan.execution(), path)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !g.quiet && !json {
        eprint!("{}", plan.render());
    }
    if backend.through_agent() {
        backend.agent_name().clone_into(&mut plan.driver);
    }
    let exec = plan.execution();
    let destructive = destructive_of(exec.doc.steps.iter());
    if !go_on(
        &mut prompt,
        &destructive,
        terminal && !args.autofill,
        args.yes,
    )? {
        eprintln!("Nothing was done.");
        return Ok(ExitCode::SUCCESS);
    }
    if backend.through_agent() && !json && !g.quiet {
        eprintln!(
            "Deployment {}: `armonic watch {}` follows it from anywhere.",
            options.id, options.id
        );
    }
    prompt.begin_run(exec.doc.steps.len());
    let outcome = exec.execute_until(mesh, &mut prompt, args.parallel, interrupt);
    prompt.end_run();
    let root = plan
        .root_called()
        .then(|| plan.root_xpath().unwrap_or_default().to_owned());
    report(
        g,
        &mut prompt,
        &options.id,
        &outcome,
        root.as_deref(),
        xpath,
    )?;
    Ok(exit_status(&outcome, interrupt))
}

/// Whether to run a plan: at a terminal (`ask`) the plan is confirmed before anything runs,
/// and scripts and unattended runs (--autofill, --yes, answers from a pipe) go on; a plan
/// running destructive provides (`destructive`, each "provides on location") is confirmed
/// explicitly, at a terminal or with --yes, and refused otherwise.
pub(crate) fn go_on(
    prompt: &mut Prompt,
    destructive: &[String],
    ask: bool,
    yes: bool,
) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if destructive.is_empty() {
        return Ok(!ask || prompt.confirm("Apply? [Y/n] ")?);
    }
    let list = destructive.join("; ");
    if !ask {
        anyhow::bail!(crate::report::Usage(format!(
            "the plan runs destructive provides (what they replace is lost): {list}; nothing was run (confirm at a terminal, or give --yes)"
        )));
    }
    Ok(prompt.confirm_no(&format!(
        "The plan runs destructive provides (what they replace is lost): {list}. Apply? [y/N] "
    ))?)
}

/// The destructive provides `steps` run, each as "provides on location", for [`go_on`].
pub(crate) fn destructive_of<'a>(
    steps: impl Iterator<Item = &'a armonic_proto::PlannedStep>,
) -> Vec<String> {
    steps
        .filter(|s| !s.destructive.is_empty())
        .map(|s| format!("{} on {}", s.destructive.join(", "), s.location))
        .collect()
}

/// The exit status of a run: interrupted, failed or succeeded.
pub(crate) fn exit_status(outcome: &armonic_smart::Outcome, interrupt: &Interrupt) -> ExitCode {
    if let Some(code) = crate::report::interrupted_status(interrupt) {
        return code;
    }
    if outcome.succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Says how a run went: the outcome as JSON, or the summary by location and what the root
/// returned (`root`: its provide, when it is called; `asked`: what was deployed).
pub(crate) fn report(
    g: &Global,
    prompt: &mut Prompt,
    id: &DeploymentId,
    outcome: &armonic_smart::Outcome,
    root: Option<&str>,
    asked: &str,
) -> Result<()> {
    if g.format == Format::Json {
        let out = serde_json::json!({ "deployment": id, "steps": outcome.steps, "result": outcome.result });
        outln!("{}", serde_json::to_string_pretty(&out)?)?;
        return Ok(());
    }
    prompt.summary(outcome);
    let root_done = matches!(
        outcome.steps.last().map(|s| &s.status),
        Some(Status::Done { .. })
    );
    match root {
        Some(root) if root_done => {
            if !g.quiet {
                eprintln!("Values returned by '{root}':");
            }
            outln!(
                "{}",
                render::value(
                    outcome
                        .result
                        .as_ref()
                        .unwrap_or(&armonic_lifecycle::Value::Null)
                )
            )?;
        }
        Some(_) => {}
        None => eprintln!("{asked} was not called: nothing returned."),
    }
    Ok(())
}

/// `deploy --plan FILE`: applies the saved plan, refused when a location it runs on changed.
fn apply(
    g: &Global,
    backend: &Backend,
    args: &DeployArgs,
    path: &std::path::Path,
    interrupt: &Interrupt,
) -> Result<ExitCode> {
    let doc = super::plan_file::load(path)?;
    super::plan_file::check(backend, &doc)?;
    let id = DeploymentId::new();
    let root = doc.root.clone();
    let hash = doc.hash.clone();
    let mut exec = Execution::from_doc(id.clone(), doc);
    exec.begin(if backend.through_agent() {
        backend.agent_name().to_owned()
    } else {
        armonic_lifecycle::hostname()
    });
    super::plan_file::give_secrets(
        g,
        interrupt,
        args.answers.as_deref(),
        &mut exec,
        "nothing was run",
    )?;
    let json = g.format == Format::Json;
    let terminal = std::io::stdin().is_terminal();
    let mut prompt = Prompt::new(true, g, terminal, backend.several, interrupt.clone());
    if !g.quiet && !json {
        eprintln!(
            "Plan {} of {root} ({} call{}), every location as it was made against:",
            &hash[..hash.len().min(12)],
            exec.doc.steps.len(),
            if exec.doc.steps.len() == 1 { "" } else { "s" }
        );
        for s in &exec.doc.steps {
            eprintln!("  {} {} on {}", s.node, s.xpath, s.location);
        }
    }
    let destructive = destructive_of(exec.doc.steps.iter());
    if !go_on(&mut prompt, &destructive, terminal, args.yes)? {
        eprintln!("Nothing was done.");
        return Ok(ExitCode::SUCCESS);
    }
    if backend.through_agent() && !json && !g.quiet {
        eprintln!("Deployment {id}: `armonic watch {id}` follows it from anywhere.");
    }
    prompt.begin_run(exec.doc.steps.len());
    let outcome = exec.execute_until(backend.mesh(), &mut prompt, args.parallel, interrupt);
    prompt.end_run();
    report(g, &mut prompt, &id, &outcome, exec.root_xpath(), &root)?;
    Ok(exit_status(&outcome, interrupt))
}
