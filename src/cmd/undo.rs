//! `armonic undo ID`: leaves the states a deployment entered, on every agent it touched, the
//! last entered first, back to where the deployment found each lifecycle. What it entered is
//! read from the agents' journals; where each lifecycle stands now, from its agent.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Result, bail};
use armonic_lifecycle::Level;
use armonic_proto::journal::{Query, What};
use armonic_proto::{DeploymentId, method};

use super::Ctx;
use crate::backend::address;
use crate::cli::UndoArgs;
use crate::prompt::Prompt;
use crate::report::Usage;
use armonic_smart::Abort;

/// A lifecycle the deployment moved, on one location.
#[derive(Debug)]
struct Touched {
    location: String,
    lifecycle: String,
    /// The first state the deployment entered, and when.
    first: String,
    at_ms: u64,
}

/// What leaving a touched lifecycle means now.
#[derive(Debug)]
struct Leave {
    touched: Touched,
    /// The states to leave, top first, and whether each is destructive.
    leaving: Vec<(String, bool)>,
    /// Where it goes back to.
    target: String,
}

/// The lifecycles deployment `id` entered states of, from every live agent's journal.
fn touched(cx: &Ctx<'_>, id: &DeploymentId) -> Result<Vec<Touched>> {
    let backend = cx.backend()?;
    let query = Query {
        deployment: Some(id.clone()),
        no_reads: true,
        ..Query::default()
    };
    let mut first: BTreeMap<(String, String), (u64, String)> = BTreeMap::new();
    backend.journal_entries(query, "what they said is not undone", |location, e| {
        let What::Line { record, .. } = e.what else {
            return;
        };
        let Some(state) = record.message.strip_prefix("entering state ") else {
            return;
        };
        if record.level == Level::Event {
            first
                .entry((location.to_owned(), record.lifecycle.clone()))
                .or_insert((e.time_ms, state.to_owned()));
        }
    })?;
    let mut touched: Vec<Touched> = first
        .into_iter()
        .map(|((location, lifecycle), (at_ms, first))| Touched {
            location,
            lifecycle,
            first,
            at_ms,
        })
        .collect();
    // The last entered first: a dependency is left after what depends on it.
    touched.sort_by_key(|t| std::cmp::Reverse(t.at_ms));
    Ok(touched)
}

/// Refuses to undo deployment `id` while one of its steps still runs somewhere (its agent
/// goes on with it after its driver is gone): what it enters next would stay.
fn refuse_while_running(cx: &Ctx<'_>, id: &DeploymentId) -> Result<()> {
    let backend = cx.backend()?;
    let seen = super::deployments::seen_of(&backend, id, "what they run is not known")?;
    let running: Vec<String> = seen
        .calls
        .iter()
        .filter(|c| c.state == super::deployments::CallState::Running)
        .map(|c| c.location.clone())
        .collect();
    if !running.is_empty() {
        bail!(Usage(format!(
            "deployment {id} still has steps running (on {}): undo it once they end (`armonic deployments` says so), nothing was left",
            running.join(", ")
        )));
    }
    Ok(())
}

/// What leaving `t` means now, from its agent; `None` when the deployment's states are no
/// longer entered (left since, or its first enter failed).
fn plan(cx: &Ctx<'_>, t: Touched) -> Result<Option<Leave>> {
    let backend = cx.backend()?;
    let detail = backend.ask(method::ToPrimitive {
        lifecycle: format!("/{}/{}", t.location, t.lifecycle),
    })?;
    let Some(i) = detail.stack.iter().position(|s| *s == t.first) else {
        return Ok(None);
    };
    let Some(target) = i.checked_sub(1).map(|b| detail.stack[b].clone()) else {
        return Ok(None);
    };
    let leaving = detail.stack[i..]
        .iter()
        .rev()
        .map(|name| {
            let destructive = detail
                .states
                .iter()
                .any(|s| s.name == *name && s.destructive);
            (name.clone(), destructive)
        })
        .collect();
    Ok(Some(Leave {
        touched: t,
        leaving,
        target,
    }))
}

/// Asks whether to leave `state` of `l`, destructive; `false` when there is nobody to ask
/// (stdin is not a terminal). Ctrl-C while it waits ends the undo with nothing left.
fn confirm(cx: &Ctx<'_>, prompt: &mut Option<Prompt>, l: &Leave, state: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    let prompt = prompt
        .get_or_insert_with(|| Prompt::new(false, cx.global, true, false, cx.interrupt.clone()));
    let question = format!(
        "Leaving {state} of {} on {} is destructive (what it holds is lost). Leave it? [y/N] ",
        l.touched.lifecycle, l.touched.location
    );
    prompt
        .confirm_no(&question)
        .map_err(|Abort(why)| anyhow::anyhow!("undo stopped before leaving anything: {why}"))
}

/// Undoes deployment `args.deployment`.
pub fn run(cx: &Ctx<'_>, args: &UndoArgs) -> Result<ExitCode> {
    let id = DeploymentId::from_text(&args.deployment);
    refuse_while_running(cx, &id)?;
    let touched = touched(cx, &id)?;
    if touched.is_empty() {
        bail!(Usage(format!(
            "deployment {id} entered no state that a live agent's journal still shows: nothing to undo (is the id right? `armonic deployments` lists them)"
        )));
    }
    let mut leaves = Vec::new();
    for t in touched {
        let what = format!("{} on {}", t.lifecycle, t.location);
        match plan(cx, t)? {
            Some(l) => leaves.push(l),
            None => eprintln!(
                "{what}: the states the deployment entered are no longer entered: nothing to leave"
            ),
        }
    }
    if leaves.is_empty() {
        eprintln!("Undo of deployment {id}: nothing is left to undo.");
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("Undo of deployment {id}, in this order:");
    for l in &leaves {
        let names: Vec<String> = l
            .leaving
            .iter()
            .map(|(s, d)| {
                if *d {
                    format!("{s} (destructive)")
                } else {
                    s.clone()
                }
            })
            .collect();
        eprintln!(
            "  {} {}: leave {}, back to {}",
            l.touched.location,
            l.touched.lifecycle,
            names.join(", "),
            l.target
        );
    }
    if args.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    let mut prompt = None;
    for l in &leaves {
        for (state, _) in l.leaving.iter().filter(|(_, d)| *d && !args.yes) {
            let confirmed = match confirm(cx, &mut prompt, l, state) {
                Ok(yes) => yes,
                Err(e) => match crate::report::interrupted_status(cx.interrupt) {
                    Some(code) => {
                        eprintln!("Undo interrupted: nothing was left.");
                        return Ok(code);
                    }
                    None => return Err(e),
                },
            };
            if !confirmed {
                bail!(Usage(format!(
                    "leaving {state} of {} on {} is destructive: nothing was left (confirm at a terminal, or give --yes)",
                    l.touched.lifecycle, l.touched.location
                )));
            }
        }
    }
    let undo = DeploymentId::new();
    let backend = cx.backend()?;
    // The undo is a deployment of its own, carried by its calls like any other.
    let doc = std::sync::Arc::new(armonic_proto::DeploymentDoc {
        root: format!("undo {id}"),
        driver: if backend.through_agent() {
            backend.agent_name().to_owned()
        } else {
            armonic_lifecycle::hostname()
        },
        started_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        steps: leaves
            .iter()
            .enumerate()
            .map(|(i, l)| armonic_proto::PlannedStep {
                node: format!("leave_{i}"),
                xpath: format!("{}/{}", l.touched.lifecycle, l.target),
                location: l.touched.location.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    });
    if backend.through_agent() {
        eprintln!("Undo {undo}: `armonic watch {undo}` follows it from anywhere.");
    }
    for (done, l) in leaves.iter().enumerate() {
        let uri = format!(
            "/{}/{}/{}",
            l.touched.location, l.touched.lifecycle, l.target
        );
        let goto = method::StateGoto {
            uri: address(&uri)?,
            values: Default::default(),
            path_idx: 0,
        };
        let step = format!("leave_{done}");
        if let Err(e) = backend.call(goto, |c| {
            c.in_deployment(undo.clone())
                .as_step(step, std::sync::Arc::clone(&doc))
        }) {
            eprintln!(
                "Undo stopped: leaving {} on {} failed: {e}",
                l.touched.lifecycle, l.touched.location
            );
            eprintln!(
                "  {done} of {} lifecycles are back; the rest, from {} on {}, are as they were",
                leaves.len(),
                l.touched.lifecycle,
                l.touched.location
            );
            if let Some(code) = crate::report::interrupted_status(cx.interrupt) {
                return Ok(code);
            }
            return Ok(ExitCode::FAILURE);
        }
    }
    eprintln!(
        "Undo done: {} lifecycle{} back where deployment {id} found them.",
        leaves.len(),
        if leaves.len() == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}
