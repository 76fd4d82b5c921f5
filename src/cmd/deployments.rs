//! `armonic deployments`: the deployments the journals of the live agents of the mesh know:
//! each with its root, its driver, when it began, how many of its steps ran, and where it
//! stands. Each call of a deployment carries the deployment whole (its steps), kept in the
//! journal of every agent it ran on: a deployment whose driver died between two steps is
//! told from one that finished.

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;

use anyhow::Result;
use armonic_proto::journal::{Query, What};
use armonic_proto::{ApiError, CallId, DeploymentDoc, DeploymentId};
use serde::Serialize;

use super::Ctx;

/// What became of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallState {
    Running,
    Done,
    Failed,
    Interrupted,
    Unknown,
}

/// One call of a deployment, as a journal shows it.
#[derive(Debug)]
pub(crate) struct SeenCall {
    pub id: CallId,
    /// The agent whose journal has it.
    pub location: String,
    pub deployment: DeploymentId,
    pub step: Option<String>,
    pub time_ms: u64,
    /// When it ended, if it did.
    pub ended_ms: Option<u64>,
    pub state: CallState,
    /// How it ended, if it did.
    pub result: Option<Result<armonic_proto::Response, ApiError>>,
}

/// A whole plan a call carried: where, when, and the plan.
pub(crate) type SeenPlan = (String, u64, std::sync::Arc<DeploymentDoc>);

/// The calls of deployments the journals of the live agents show, in time order, and the
/// whole plans their calls carried, by deployment.
pub(crate) struct Seen {
    pub calls: Vec<SeenCall>,
    /// The agents whose journal could not be read.
    pub unread: Vec<String>,
    pub plans: HashMap<DeploymentId, Vec<SeenPlan>>,
}

/// Reads the calls of deployment `id` (not their lines) from the journals of the live agents.
pub(crate) fn seen_of(
    backend: &crate::backend::Backend,
    id: &DeploymentId,
    lost: &str,
) -> Result<Seen> {
    let query = Query {
        deployment: Some(id.clone()),
        no_lines: true,
        no_reads: true,
        ..Query::default()
    };
    seen(backend, query, lost)
}

/// Reads the calls of deployments `query` selects from the journals of the live agents.
pub(crate) fn seen(backend: &crate::backend::Backend, query: Query, lost: &str) -> Result<Seen> {
    let mut calls: HashMap<CallId, SeenCall> = HashMap::new();
    let mut plans: HashMap<DeploymentId, Vec<SeenPlan>> = HashMap::new();
    let unread = backend.journal_entries(query, lost, |location, e| match e.what {
        What::Call {
            id,
            deployment: Some(deployment),
            step,
            plan,
            ..
        } => {
            if let Some(plan) = plan.filter(|p| p.is_whole()) {
                plans.entry(deployment.clone()).or_default().push((
                    location.to_owned(),
                    e.time_ms,
                    plan,
                ));
            }
            calls.insert(
                id.clone(),
                SeenCall {
                    id,
                    location: location.to_owned(),
                    deployment,
                    step,
                    time_ms: e.time_ms,
                    ended_ms: None,
                    state: CallState::Running,
                    result: None,
                },
            );
        }
        What::End { id, result, .. } => {
            if let Some(c) = calls.get_mut(&id) {
                c.state = state_of(&result);
                c.ended_ms = Some(e.time_ms);
                c.result = Some(result);
            }
        }
        _ => {}
    })?;
    let mut calls: Vec<SeenCall> = calls.into_values().collect();
    calls.sort_by_key(|c| c.time_ms);
    for list in plans.values_mut() {
        list.sort_by_key(|(_, t, _)| *t);
    }
    Ok(Seen {
        calls,
        unread,
        plans,
    })
}

/// A deployment as the journals show it.
#[derive(Debug, Serialize)]
struct Deployment {
    id: String,
    root: Option<String>,
    driver: Option<String>,
    started_ms: u64,
    /// Steps of its plan, when a call carried it.
    steps: Option<usize>,
    done: usize,
    calls: usize,
    state: &'static str,
}

pub(crate) fn state_of(result: &Result<armonic_proto::Response, ApiError>) -> CallState {
    match result {
        Ok(_) => CallState::Done,
        Err(ApiError::Interrupted { .. }) => CallState::Interrupted,
        Err(ApiError::Unknown { .. }) => CallState::Unknown,
        Err(_) => CallState::Failed,
    }
}

/// How long a deployment with steps left and none running may be between two steps before
/// its driver is taken for gone (a driver starts the next step as soon as one ends).
pub(crate) const BETWEEN_STEPS_MS: u64 = 5_000;

/// Where a deployment stands, from the last call of each of its steps, its plan, and how
/// long ago its last call ended.
fn overall(last: &[CallState], steps: Option<usize>, done: usize, quiet_ms: u64) -> &'static str {
    let any = |s| last.contains(&s);
    if any(CallState::Failed) {
        "failed"
    } else if any(CallState::Interrupted) {
        "interrupted"
    } else if any(CallState::Unknown) {
        "unknown"
    } else if any(CallState::Running) {
        "running"
    } else {
        match steps {
            Some(n) if done >= n => "done",
            Some(_) if quiet_ms < BETWEEN_STEPS_MS => "running",
            Some(_) => "driver gone",
            None => "ended (no plan recorded)",
        }
    }
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Lists the deployments the live agents' journals know.
pub fn run(cx: &Ctx<'_>) -> Result<ExitCode> {
    let backend = cx.backend()?;
    let query = Query {
        no_lines: true,
        no_reads: true,
        ..Query::default()
    };
    let Seen { calls, plans, .. } = seen(
        &backend,
        query,
        "the deployments they spoke of may be missing",
    )?;
    // Per deployment, the last call of each step (a step called again, by a resume, counts
    // once); calls without a step each count alone.
    let mut by_deployment: BTreeMap<String, Vec<SeenCall>> = BTreeMap::new();
    for c in calls {
        by_deployment
            .entry(c.deployment.to_string())
            .or_default()
            .push(c);
    }
    let mut list: Vec<Deployment> = by_deployment
        .into_iter()
        .map(|(id, mut seen)| {
            seen.sort_by_key(|c| c.time_ms);
            let started = seen.first().map_or(0, |c| c.time_ms);
            let last_end = seen.iter().filter_map(|c| c.ended_ms).max().unwrap_or(0);
            let count = seen.len();
            let mut last: BTreeMap<String, CallState> = BTreeMap::new();
            for (i, c) in seen.into_iter().enumerate() {
                last.insert(c.step.unwrap_or_else(|| format!("call {i}")), c.state);
            }
            // A resume drives it again: the newest whole plan says who drives it now.
            let plan = plans
                .get(&DeploymentId::from_text(&id))
                .and_then(|l| l.last())
                .map(|(_, _, p)| p);
            let steps = plan.map(|p| p.steps.len());
            let done = last.values().filter(|s| **s == CallState::Done).count();
            let states: Vec<CallState> = last.into_values().collect();
            Deployment {
                state: overall(&states, steps, done, now_ms().saturating_sub(last_end)),
                root: plan.map(|p| p.root.clone()),
                driver: plan.map(|p| p.driver.clone()),
                started_ms: plan.map_or(started, |p| p.started_ms),
                steps,
                done,
                calls: count,
                id,
            }
        })
        .collect();
    list.sort_by_key(|d| d.started_ms);
    cx.print(&list, || {
        let mut out = String::new();
        for d in &list {
            let steps = match d.steps {
                Some(n) => format!("{}/{n} steps", d.done),
                None => format!("{} calls", d.calls),
            };
            out.push_str(&format!(
                "{}  {}  {}  by {}  {}  {}\n",
                d.id,
                super::journal::when(d.started_ms),
                d.root.as_deref().unwrap_or("?"),
                d.driver.as_deref().unwrap_or("?"),
                steps,
                d.state
            ));
        }
        if list.is_empty() {
            out.push_str("No deployment in the journals of the live agents.\n");
        }
        out
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployment_whose_steps_all_ran_is_done_and_one_short_of_steps_lost_its_driver() {
        use CallState::*;
        let long = 60_000;
        assert_eq!(overall(&[Done, Done], Some(2), 2, 0), "done");
        assert_eq!(overall(&[Done], Some(3), 1, long), "driver gone");
        // Between two steps for a moment: still running.
        assert_eq!(overall(&[Done], Some(3), 1, 200), "running");
        assert_eq!(overall(&[Done, Running], Some(3), 1, long), "running");
        assert_eq!(overall(&[Done, Failed], Some(3), 1, long), "failed");
        assert_eq!(overall(&[Interrupted], Some(3), 0, long), "interrupted");
        assert_eq!(overall(&[Unknown, Done], Some(2), 1, long), "unknown");
        assert_eq!(overall(&[Done], None, 1, long), "ended (no plan recorded)");
    }
}
