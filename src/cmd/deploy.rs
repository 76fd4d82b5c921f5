//! `armonic deploy`: resolve, show, run and record a deployment, through the agent or on
//! embedded locations.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result};
use armonic_lifecycle::Interrupt;
use armonic_proto::DeploymentId;
use armonic_smart::{Options, Record, Status, resolve_keeping_answers};

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
    let mut plan = match resolve_keeping_answers(mesh, &args.xpath, &mut prompt, &options) {
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
        eprintln!("Nothing to deploy: {} was declined.", args.xpath);
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
        return Ok(ExitCode::SUCCESS);
    }
    if !g.quiet && !json {
        eprint!("{}", plan.render());
    }
    // At a terminal the plan is confirmed before anything runs; scripts and unattended runs
    // (--autofill, --yes, answers from a pipe) go on.
    if terminal && !args.autofill && !args.yes && !prompt.confirm("Apply? [Y/n] ")? {
        eprintln!("Nothing was done.");
        return Ok(ExitCode::SUCCESS);
    }
    if backend.through_agent() && !json && !g.quiet {
        eprintln!(
            "Deployment {}: `armonic watch {}` follows it from anywhere.",
            options.id, options.id
        );
    }
    prompt.begin_run(plan.steps().len());
    if backend.through_agent() {
        backend.agent_name().clone_into(&mut plan.driver);
    }
    let outcome = plan.execute_until(mesh, &mut prompt, args.parallel, interrupt);
    prompt.end_run();
    if json {
        let out = serde_json::json!({ "deployment": options.id, "steps": outcome.steps, "result": outcome.result });
        outln!("{}", serde_json::to_string_pretty(&out)?)?;
    } else {
        prompt.summary(&outcome);
        if plan.root_called()
            && matches!(
                outcome.steps.last().map(|s| &s.status),
                Some(Status::Done { .. })
            )
        {
            if !g.quiet {
                eprintln!(
                    "Values returned by '{}':",
                    plan.root_xpath().unwrap_or_default()
                );
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
        } else if !plan.root_called() {
            eprintln!("{} was not called: nothing returned.", args.xpath);
        }
    }
    if let Some(code) = crate::report::interrupted_status(interrupt) {
        return Ok(code);
    }
    Ok(if outcome.succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
