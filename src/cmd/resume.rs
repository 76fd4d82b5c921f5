//! `armonic resume ID`: finishes a deployment whose driver is gone, from any node. The plan
//! is the one its calls carried (each agent keeps it in its journal, secrets left out); what
//! became of each step is what the journals of the agents that ran them say. A step done is
//! not run again, a step still running is attached to, a step whose outcome is unknown is
//! run again or counted done as the user says, and the rest run.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Result, bail};
use armonic_lifecycle::Value;
use armonic_proto::{DeploymentDoc, DeploymentId, Listed, method};
use armonic_smart::{Earlier, Execution, Status};

use super::Ctx;
use super::deployments::{BETWEEN_STEPS_MS, CallState, Seen, SeenCall, now_ms, seen_of};
use crate::cli::{Format, ResumeArgs, Unknown};
use crate::prompt::Prompt;
use crate::report::Usage;

/// What the journals say of one step.
#[derive(Debug)]
enum Found {
    /// It ran and returned this.
    Done(Option<Value>),
    /// It is running (its agent has it in hand).
    Running(armonic_proto::CallId),
    /// It failed: it runs again.
    Failed(String),
    /// It was stopped: it runs again.
    Interrupted(String),
    /// Its agent stopped during it: it may have partly run.
    Unknown(String),
    /// No call of it was ever made.
    NotStarted,
}

impl Found {
    fn said(&self) -> String {
        match self {
            Found::Done(_) => "done".into(),
            Found::Running(_) => "running: attached to, not started again".into(),
            Found::Failed(e) => format!("failed ({e}): runs again"),
            Found::Interrupted(e) => format!("interrupted ({e}): runs again"),
            Found::Unknown(e) => format!("UNKNOWN, the step may have partly run ({e})"),
            Found::NotStarted => "not started: runs".into(),
        }
    }
}

/// The plan the journals hold for `id`: every whole copy must be the same, and its hash
/// must be its own.
fn plan_of(id: &DeploymentId, seen: &Seen) -> Result<DeploymentDoc> {
    let Some(copies) = seen.plans.get(id) else {
        bail!(Usage(if seen.calls.is_empty() {
            format!(
                "no live agent's journal knows deployment {id} (is the id right? `armonic deployments` lists them)"
            )
        } else {
            format!(
                "the journals know calls of deployment {id} but not its plan (made by a version that did not carry it): it cannot be resumed, only undone"
            )
        }));
    };
    let (first_at, _, first) = &copies[0];
    for (location, _, copy) in copies {
        if copy.hash != first.hash {
            bail!(
                "the journals disagree on deployment {id}'s plan: {first_at} has {}, {location} has {}; nothing was run",
                short(&first.hash),
                short(&copy.hash)
            );
        }
    }
    let doc = (**first).clone();
    let check = Execution::from_doc(id.clone(), doc.clone());
    if !check.is_intact() {
        bail!(
            "deployment {id}'s plan in the journal of {first_at} does not match its hash (edited, or written by another version): nothing was run"
        );
    }
    Ok(doc)
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// What the journals say of each step of `doc`: the last call of the step on its location.
fn found(doc: &DeploymentDoc, calls: &[SeenCall]) -> Vec<Found> {
    let mut last: HashMap<(&str, &str), &SeenCall> = HashMap::new();
    for c in calls {
        if let Some(step) = &c.step {
            // In time order: the last one stays.
            last.insert((c.location.as_str(), step.as_str()), c);
        }
    }
    let done_once: HashSet<(&str, &str)> = calls
        .iter()
        .filter(|c| c.state == CallState::Done)
        .filter_map(|c| Some((c.location.as_str(), c.step.as_deref()?)))
        .collect();
    doc.steps
        .iter()
        .map(|s| {
            let key = (s.location.as_str(), s.node.as_str());
            let Some(c) = last.get(&key) else {
                return Found::NotStarted;
            };
            let error = || match &c.result {
                Some(Err(e)) => e.to_string(),
                _ => String::new(),
            };
            match c.state {
                CallState::Running => Found::Running(c.id.clone()),
                CallState::Done => Found::Done(
                    c.result
                        .clone()
                        .and_then(|r| r.and_then(<method::ProvideCall as Listed>::answer).ok())
                        .flatten(),
                ),
                // A step done once is done, whatever a later call of it said.
                _ if done_once.contains(&key) => Found::Done(None),
                CallState::Failed => Found::Failed(error()),
                CallState::Interrupted => Found::Interrupted(error()),
                CallState::Unknown => Found::Unknown(error()),
            }
        })
        .collect()
}

/// Asks a yes/no question at the terminal; `None` when there is nobody to ask.
fn ask(cx: &Ctx<'_>, question: &str) -> Result<Option<bool>> {
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let mut prompt = Prompt::new(false, cx.global, true, false, cx.interrupt.clone());
    prompt
        .confirm_no(question)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("resume stopped before running anything: {}", e.0))
}

/// Resumes deployment `args.deployment`.
pub fn run(cx: &Ctx<'_>, args: &ResumeArgs) -> Result<ExitCode> {
    let id = DeploymentId::from_text(&args.deployment);
    let backend = cx.backend()?;
    let seen = seen_of(&backend, &id, "what became of some steps may be unknown")?;
    let doc = plan_of(&id, &seen)?;
    let found = found(&doc, &seen.calls);
    let live: HashSet<String> = backend.mesh().locations().into_iter().collect();
    eprintln!(
        "Deployment {id} of {} ({} steps), driven by {}:",
        doc.root,
        doc.steps.len(),
        doc.driver
    );
    let mut gone = Vec::new();
    for (s, f) in doc.steps.iter().zip(&found) {
        let away = (!live.contains(&s.location) || seen.unread.contains(&s.location))
            && !matches!(f, Found::Done(_));
        let said = if away {
            if !gone.contains(&s.location) {
                gone.push(s.location.clone());
            }
            "its agent does not answer: unknown".into()
        } else {
            f.said()
        };
        eprintln!("  {} {} on {}: {said}", s.node, s.xpath, s.location);
    }
    if found.iter().all(|f| matches!(f, Found::Done(_))) {
        eprintln!("Deployment {id} is complete: nothing to resume.");
        return Ok(ExitCode::SUCCESS);
    }
    if !gone.is_empty() {
        bail!(
            "some of the deployment's steps cannot be told or run: {} {} not answer (resume once {} back); nothing was run",
            gone.join(", "),
            if gone.len() == 1 { "does" } else { "do" },
            if gone.len() == 1 { "it is" } else { "they are" }
        );
    }
    // A driver that is still alive starts the next step as soon as one ends.
    let last_end = seen
        .calls
        .iter()
        .filter_map(|c| c.ended_ms)
        .max()
        .unwrap_or(0);
    let busy = found.iter().any(|f| matches!(f, Found::Running(_)))
        || now_ms().saturating_sub(last_end) < BETWEEN_STEPS_MS;
    let mut exec = Execution::from_doc(id.clone(), doc.clone());
    for (s, f) in doc.steps.iter().zip(&found) {
        match f {
            Found::Done(returned) => exec.set_earlier(&s.node, Earlier::Done(returned.clone())),
            Found::Running(call) => exec.set_earlier(&s.node, Earlier::Running(call.clone())),
            Found::Unknown(_) => {
                let rerun = match args.unknown {
                    Some(Unknown::Rerun) => true,
                    Some(Unknown::Skip) => false,
                    // A dry run asks nothing: what would run is said as if run again.
                    None if args.dry_run => true,
                    None => match ask(
                        cx,
                        &format!(
                            "{} on {} may have partly run. Run it again (no counts it done)? [y/N] ",
                            s.xpath, s.location
                        ),
                    )? {
                        Some(yes) => yes,
                        None => bail!(Usage(format!(
                            "the outcome of {} on {} is unknown: say what to do with --unknown rerun (run it again) or --unknown skip (count it done); nothing was run",
                            s.xpath, s.location
                        ))),
                    },
                };
                if !rerun {
                    exec.set_earlier(&s.node, Earlier::Done(None));
                }
            }
            Found::Failed(_) | Found::Interrupted(_) | Found::NotStarted => {}
        }
    }
    for (step, needing) in exec.rerun_for_secrets() {
        eprintln!(
            "  {step} runs again: {needing} needs a secret it returned, which the journals do not keep"
        );
    }
    if args.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    if busy && !args.yes {
        let question = "The deployment was active a moment ago: its driver may still be running it. Go on? [y/N] ";
        match ask(cx, question)? {
            Some(true) => {}
            Some(false) => {
                eprintln!("Nothing was done.");
                return Ok(ExitCode::SUCCESS);
            }
            None => bail!(Usage(
                "the deployment was active a moment ago: its driver may still be running it; give --yes when it is gone (nothing was run)"
                    .into()
            )),
        }
    }
    super::plan_file::give_secrets(
        cx.global,
        cx.interrupt,
        args.answers.as_deref(),
        &mut exec,
        "nothing was run",
    )?;
    // This node drives it now; the plan is the same (its hash does not cover the driver).
    exec.set_driver(if backend.through_agent() {
        backend.agent_name().to_owned()
    } else {
        armonic_lifecycle::hostname()
    });
    let resumed = exec;
    let json = cx.global.format == Format::Json;
    if backend.through_agent() && !json && !cx.global.quiet {
        eprintln!("Resuming {id}: `armonic watch {id}` follows it from anywhere.");
    }
    let stdin = std::io::stdin();
    let mut prompt = Prompt::new(
        true,
        cx.global,
        stdin.is_terminal(),
        backend.several,
        cx.interrupt.clone(),
    );
    let todo = doc
        .steps
        .iter()
        .filter(|s| !matches!(resumed.earlier(&s.node), Some(Earlier::Done(_))))
        .count();
    let destructive = super::deploy::destructive_of(
        doc.steps
            .iter()
            .filter(|s| !matches!(resumed.earlier(&s.node), Some(Earlier::Done(_)))),
    );
    // Destructive steps still to run are confirmed; the rest goes on (resuming was asked).
    if !destructive.is_empty()
        && !super::deploy::go_on(&mut prompt, &destructive, stdin.is_terminal(), args.yes)?
    {
        eprintln!("Nothing was done.");
        return Ok(ExitCode::SUCCESS);
    }
    prompt.begin_run(todo);
    let outcome = resumed.execute_until(backend.mesh(), &mut prompt, args.parallel, cx.interrupt);
    prompt.end_run();
    let root = resumed.root_xpath();
    super::deploy::report(cx.global, &mut prompt, &id, &outcome, root, &doc.root)?;
    let unknown = outcome
        .steps
        .iter()
        .any(|s| matches!(s.status, Status::Unknown { .. }));
    if unknown {
        eprintln!(
            "Some steps' outcome is unknown: `armonic resume {id}` again says what they did."
        );
    }
    Ok(super::deploy::exit_status(&outcome, cx.interrupt))
}
