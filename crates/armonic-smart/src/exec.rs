//! Running a plan: steps in dependency order, independent branches at the same time.
//!
//! Each step is one `provide_call` on its location. Returned values flow into the requirer's
//! variables before it starts. After a failure no new step starts; running steps finish, and
//! the outcome tells which steps ran, which failed and which never started.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use armonic_lifecycle::{Interrupt, Value};
use armonic_proto::{ApiError, Event as CallEvent, Listed, method};
use futures::StreamExt;
use futures::stream::{BoxStream, SelectAll};
use serde::Serialize;

use crate::agent::Mesh;
use crate::plan::Plan;
use crate::question::{Event, Frontend};
use crate::tree::Role;

/// What became of a step.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// It ran and returned this.
    Done {
        /// The returned value.
        returned: Option<Value>,
    },
    /// It ran and failed.
    Failed {
        /// The error.
        error: String,
    },
    /// Its agent went away while it ran: it may have partly run (the agent's journal will
    /// say).
    Unknown {
        /// What is known.
        error: String,
    },
    /// It was running when the deployment was interrupted, and was stopped.
    Interrupted {
        /// What the agent said.
        error: String,
    },
    /// It never started (a step it depends on failed, or the run stopped).
    NotStarted,
}

/// A step and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepOutcome {
    /// Node id.
    pub node: String,
    /// Provide called, relative.
    pub xpath: String,
    /// Location.
    pub location: String,
    /// Outcome.
    pub status: Status,
    /// How long its call took, in milliseconds, from its start to its answer, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub took_ms: Option<u64>,
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// Every step, in plan order.
    pub steps: Vec<StepOutcome>,
    /// What the root provide returned, when it ran.
    pub result: Option<Value>,
    /// Whether every step ran and succeeded.
    pub succeeded: bool,
    /// Whether the run was interrupted (no step started after that).
    pub interrupted: bool,
}

/// What a running step said: its node, and one event of its call.
type Said = (usize, CallEvent);

/// How often a frontend hears that steps are still running.
const TICK: Duration = Duration::from_secs(1);

impl Plan {
    /// Runs the plan, at most `parallelism` steps at a time, reporting to `fe`; waits on this
    /// thread.
    pub fn execute(
        &mut self,
        mesh: &dyn Mesh,
        fe: &mut dyn Frontend,
        parallelism: usize,
    ) -> Outcome {
        self.execute_until(mesh, fe, parallelism, &Interrupt::default())
    }

    /// Like [`Plan::execute`], stopped by `interrupt`: once it is requested no step starts,
    /// and the running ones are stopped wherever they run (SIGTERM to their commands, then
    /// SIGKILL after the interrupt's grace period).
    pub fn execute_until(
        &mut self,
        mesh: &dyn Mesh,
        fe: &mut dyn Frontend,
        parallelism: usize,
        interrupt: &Interrupt,
    ) -> Outcome {
        use tracing::Instrument;
        let span = tracing::info_span!("deployment", id = %self.id);
        futures::executor::block_on(self.run(mesh, fe, parallelism, interrupt).instrument(span))
    }

    /// Runs the plan: every step is a call whose events come back on a stream; the streams
    /// of the running steps are read together, on the caller's task.
    pub async fn run(
        &mut self,
        mesh: &dyn Mesh,
        fe: &mut dyn Frontend,
        parallelism: usize,
        interrupt: &Interrupt,
    ) -> Outcome {
        let parallelism = parallelism.max(1);
        let mut waiting: HashMap<usize, usize> = self
            .order
            .iter()
            .map(|&n| {
                (
                    n,
                    self.graph
                        .neighbors_directed(self.index[&n], petgraph::Direction::Incoming)
                        .count(),
                )
            })
            .collect();
        // Ready steps start in plan order, so runs are repeatable: a heap of their ranks.
        let mut rank = vec![usize::MAX; self.nodes.len()];
        for (i, &n) in self.order.iter().enumerate() {
            rank[n] = i;
        }
        let mut ready: BinaryHeap<Reverse<usize>> = self
            .order
            .iter()
            .enumerate()
            .filter(|(_, n)| waiting[n] == 0)
            .map(|(i, _)| Reverse(i))
            .collect();
        let doc = std::sync::Arc::new(self.doc());
        let mut status: HashMap<usize, Status> = HashMap::new();
        let mut started_at: HashMap<usize, std::time::Instant> = HashMap::new();
        let mut took: HashMap<usize, Duration> = HashMap::new();
        let mut stopped = false;
        let mut running: SelectAll<BoxStream<'static, Said>> = SelectAll::new();
        let mut unfinished = 0usize;
        loop {
            while !stopped && !interrupt.is_stopping() && unfinished < parallelism {
                let Some(Reverse(r)) = ready.pop() else { break };
                let n = self.order[r];
                let node = &self.nodes[n];
                let location = node.location.clone().unwrap_or_default();
                let xpath = node.xpath.clone().unwrap_or_default();
                let values = self.node_values(n);
                started_at.insert(n, std::time::Instant::now());
                tracing::info!(node = node.id, location, xpath, "step starts");
                fe.notify(&Event::StepStarted {
                    node: node.id.clone(),
                    location: location.clone(),
                    xpath: xpath.clone(),
                });
                let made_for = self.made_for(n);
                let step = (node.id.as_str(), &doc);
                let call = match mesh.agent(&location) {
                    Some(agent) => agent
                        .provide_call(&xpath, &values, &self.id, step, made_for, interrupt)
                        .map_err(|e| e.to_string()),
                    None => Err(format!("no location {location}")),
                };
                let events: BoxStream<'static, Said> = match call {
                    Ok(stream) => stream.map(move |e| (n, e)).boxed(),
                    Err(error) => futures::stream::once(futures::future::ready((
                        n,
                        CallEvent::Done(Err(ApiError::Agent { message: error })),
                    )))
                    .boxed(),
                };
                running.push(ended_or_lost(n, location, events));
                unfinished += 1;
            }
            if unfinished == 0 {
                break;
            }
            // A tick a second while steps run, so a frontend can show they are alive.
            let next = futures::future::select(
                running.next(),
                futures::future::select(
                    futures_timer::Delay::new(TICK),
                    interrupt.changed(interrupt.stage()),
                ),
            )
            .await;
            let (n, event) = match next {
                futures::future::Either::Left((Some(said), _)) => said,
                futures::future::Either::Left((None, _)) => break,
                futures::future::Either::Right((futures::future::Either::Left(_), _)) => {
                    fe.notify(&Event::Tick);
                    continue;
                }
                // Stopping: the running steps' calls carry the interrupt and end with it.
                futures::future::Either::Right((futures::future::Either::Right(_), _)) => {
                    continue;
                }
            };
            let result = match event {
                CallEvent::Lines { lines, .. } => {
                    for record in lines.records() {
                        fe.notify(&Event::Log(record));
                    }
                    continue;
                }
                CallEvent::Missed { count } => {
                    fe.notify(&Event::Notice(format!(
                        "{count} log lines of {} could not be shown (this terminal fell too far behind); the agent's journal has them",
                        self.nodes[n].xpath.clone().unwrap_or_default()
                    )));
                    continue;
                }
                CallEvent::Done(result) => result,
            };
            unfinished -= 1;
            if let Some(at) = started_at.get(&n) {
                took.insert(n, at.elapsed());
            }
            let node_id = self.nodes[n].id.clone();
            let xpath = self.nodes[n].xpath.clone().unwrap_or_default();
            let returned = result.and_then(<method::ProvideCall as Listed>::answer);
            match returned {
                Ok(returned) => {
                    self.take_returned(n, returned.as_ref());
                    let shown = self.shown_returned(n, returned.as_ref());
                    fe.notify(&Event::StepDone {
                        node: node_id,
                        xpath,
                        returned: shown.clone(),
                    });
                    // The root's answer is the caller's, whole; the others as shown.
                    let returned = if n == 0 { returned } else { shown };
                    status.insert(n, Status::Done { returned });
                    for succ in self
                        .graph
                        .neighbors_directed(self.index[&n], petgraph::Direction::Outgoing)
                    {
                        let s = self.graph[succ];
                        if let Some(w) = waiting.get_mut(&s) {
                            *w -= 1;
                            if *w == 0 {
                                ready.push(Reverse(rank[s]));
                            }
                        }
                    }
                }
                Err(error) => {
                    let unknown = matches!(error, ApiError::Unknown { .. });
                    let error = error.to_string();
                    fe.notify(&Event::StepFailed {
                        node: node_id,
                        xpath,
                        error: error.clone(),
                    });
                    let s = if unknown {
                        Status::Unknown { error }
                    } else if interrupt.is_stopping() {
                        Status::Interrupted { error }
                    } else {
                        Status::Failed { error }
                    };
                    status.insert(n, s);
                    stopped = true;
                }
            }
        }
        let steps: Vec<StepOutcome> = self
            .order
            .iter()
            .map(|n| StepOutcome {
                node: self.nodes[*n].id.clone(),
                xpath: self.nodes[*n].xpath.clone().unwrap_or_default(),
                location: self.nodes[*n].location.clone().unwrap_or_default(),
                status: status.remove(n).unwrap_or(Status::NotStarted),
                took_ms: took
                    .get(n)
                    .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            })
            .collect();
        let succeeded = steps
            .iter()
            .all(|s| matches!(s.status, Status::Done { .. }));
        let result = steps
            .iter()
            .find(|s| s.node == self.nodes[0].id)
            .and_then(|s| match &s.status {
                Status::Done { returned } => returned.clone(),
                _ => None,
            });
        Outcome {
            steps,
            result,
            succeeded,
            interrupted: interrupt.is_stopping(),
        }
    }

    /// What node `n` returned, as a frontend may show it: the values its provide says are
    /// secrets, and those its requirer takes into a secret variable, masked. (The root's
    /// answer is the caller's, whole, in the outcome.)
    fn shown_returned(&self, n: usize, returned: Option<&Value>) -> Option<Value> {
        let Some(Value::Map(map)) = returned else {
            return returned.cloned();
        };
        let secret_ret = |name: &str| {
            self.nodes[n].parent.is_some_and(|(p, g, k)| {
                self.nodes[p].groups[g].vars[k].iter().any(|&v| {
                    let var = &self.vars[v];
                    matches!(var.role, Role::Ret { .. }) && var.info.name == name && var.info.secret
                })
            })
        };
        Some(Value::Map(
            map.iter()
                .map(|(k, v)| {
                    let secret =
                        self.nodes[n].secret_returns.iter().any(|s| s == k) || secret_ret(k);
                    let shown = if secret {
                        Value::from(armonic_lifecycle::secret::MASK)
                    } else {
                        v.clone()
                    };
                    (k.clone(), shown)
                })
                .collect(),
        ))
    }

    /// Puts what step `n` returned into its requirer's returned-value variables.
    fn take_returned(&mut self, n: usize, returned: Option<&Value>) {
        let Some((p, g, k)) = self.nodes[n].parent else {
            return;
        };
        let Some(Value::Map(map)) = returned else {
            return;
        };
        let ids = self.nodes[p].groups[g].vars[k].clone();
        for v in ids {
            let var = &mut self.vars[v];
            if matches!(var.role, Role::Ret { .. }) {
                if let Some(value) = map.get(&var.info.name) {
                    var.returned = Some(value.clone());
                }
            }
        }
    }
}

/// `events`, and a last event saying the answer was lost when they end without one.
fn ended_or_lost(
    n: usize,
    location: String,
    events: BoxStream<'static, Said>,
) -> BoxStream<'static, Said> {
    let lost = futures::stream::once(futures::future::ready((
        n,
        CallEvent::Done(Err(ApiError::Unknown {
            location,
            message: "the answer was lost on the way: the step may or may not have run".into(),
        })),
    )));
    // Whatever comes after an answer is not read: the step is over.
    let mut over = false;
    events
        .chain(lost)
        .take_while(move |(_, e)| {
            let go = !over;
            over |= matches!(e, CallEvent::Done(_));
            futures::future::ready(go)
        })
        .boxed()
}
