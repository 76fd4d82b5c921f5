//! Running a plan: steps in dependency order, independent branches at the same time.
//!
//! Each step is one `provide_call` on its location. Returned values flow into the requirer's
//! variables before it starts. After a failure no new step starts; running steps finish, and
//! the outcome tells which steps ran, which failed and which never started.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use armonic_lifecycle::{Interrupt, Value, Values};
use armonic_proto::{
    ApiError, CallId, DeploymentDoc, DeploymentId, Event as CallEvent, Listed, PlannedStep, method,
};
use futures::StreamExt;
use futures::stream::{BoxStream, SelectAll};
use serde::Serialize;

use crate::agent::Mesh;
use crate::plan::Plan;
use crate::question::{Event, Frontend};

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
    /// It was done by an earlier run of the deployment (a resume skips it).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub earlier: bool,
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

/// What a run knows of a step from an earlier run of the same deployment (its agents'
/// journals say).
#[derive(Debug, Clone, PartialEq)]
pub enum Earlier {
    /// It ran and returned this: it is not run again.
    Done(Option<Value>),
    /// Its call is still running: the run attaches to it rather than start it again.
    Running(CallId),
}

/// A deployment to run: its document (every step with its values, as its calls carry it),
/// the secrets its steps are called with, and what earlier runs did.
#[derive(Debug, Clone)]
pub struct Execution {
    /// The deployment.
    pub id: DeploymentId,
    /// Its document.
    pub doc: Arc<DeploymentDoc>,
    /// Secret values by node id: each goes only in its step's call.
    secrets: HashMap<String, Values>,
    /// What earlier runs did, by node id.
    earlier: HashMap<String, Earlier>,
}

/// The hash of a deployment document: SHA-256 of its root, steps, record and the
/// fingerprints it was made against.
pub(crate) fn doc_hash(doc: &DeploymentDoc) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let bytes = serde_json::to_vec(&(&doc.root, &doc.steps, &doc.record, &doc.catalogues))
        .unwrap_or_default();
    hasher.update(&bytes);
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `doc` with its hash made again (after its fingerprints were added).
pub fn seal(mut doc: DeploymentDoc) -> DeploymentDoc {
    doc.hash = doc_hash(&doc);
    doc
}

/// Whether `doc` is the one its hash was made of (nothing in it was changed).
pub fn is_sealed(doc: &DeploymentDoc) -> bool {
    !doc.hash.is_empty() && doc_hash(doc) == doc.hash
}

impl Execution {
    /// A run of `doc`, the deployment `id`, as its journals carry it: secrets are to be given
    /// again ([`Execution::needs`]).
    pub fn from_doc(id: DeploymentId, doc: DeploymentDoc) -> Execution {
        Execution {
            id,
            doc: Arc::new(doc),
            secrets: HashMap::new(),
            earlier: HashMap::new(),
        }
    }

    /// Whether the document is the one its hash was made of (nothing in it was changed).
    pub fn is_intact(&self) -> bool {
        is_sealed(&self.doc)
    }

    /// Says that it begins now, driven by `driver` (a saved plan applied).
    pub fn begin(&mut self, driver: String) {
        let doc = Arc::make_mut(&mut self.doc);
        doc.driver = driver;
        doc.started_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    }

    /// The root's provide, relative, when the root is called (its answer is the run's).
    pub fn root_xpath(&self) -> Option<&str> {
        self.doc
            .steps
            .iter()
            .find(|s| s.node == ROOT)
            .map(|s| s.xpath.as_str())
    }

    /// Says who drives it now.
    pub fn set_driver(&mut self, driver: String) {
        Arc::make_mut(&mut self.doc).driver = driver;
    }

    /// Says what an earlier run did of step `node`.
    pub fn set_earlier(&mut self, node: &str, earlier: Earlier) {
        self.earlier.insert(node.to_owned(), earlier);
    }

    /// What an earlier run did of step `node`, as said.
    pub fn earlier(&self, node: &str) -> Option<&Earlier> {
        self.earlier.get(node)
    }

    /// Gives secret `slot` of step `node`.
    pub fn give_secret(&mut self, node: &str, slot: &armonic_proto::Slot, value: Value) {
        let values = self.secrets.remove(node).unwrap_or_default();
        self.secrets.insert(
            node.to_owned(),
            values.set_at(slot.xpath.clone(), slot.set, value),
        );
    }

    /// The secret values the steps still to run need and were not given: (node, slot).
    pub fn needs(&self) -> Vec<(String, armonic_proto::Slot)> {
        self.doc
            .steps
            .iter()
            .filter(|s| !matches!(self.earlier.get(&s.node), Some(Earlier::Done(_))))
            .flat_map(|s| {
                let given = self.secrets.get(&s.node);
                s.withheld
                    .iter()
                    .filter(move |slot| {
                        !given.is_some_and(|v| {
                            v.0.iter()
                                .any(|e| e.xpath == slot.xpath && e.values.contains_key(&slot.set))
                        })
                    })
                    .map(|slot| (s.node.clone(), slot.clone()))
            })
            .collect()
    }

    /// Steps done earlier whose returned values a step still to run needs but the journals
    /// do not keep (they are secrets): they are run again, `(step, the step needing it)`.
    /// Each is forgotten as done.
    pub fn rerun_for_secrets(&mut self) -> Vec<(String, String)> {
        let mut again = Vec::new();
        for s in &self.doc.steps {
            // A step done needs nothing, nor one attached to: it was given its values.
            if self.earlier.contains_key(&s.node) {
                continue;
            }
            for take in &s.takes {
                let from = self.doc.steps.iter().find(|f| f.node == take.from);
                let secret =
                    take.secret || from.is_some_and(|f| f.secret_returns.contains(&take.name));
                if secret && matches!(self.earlier.get(&take.from), Some(Earlier::Done(_))) {
                    again.push((take.from.clone(), s.node.clone()));
                }
            }
        }
        for (node, _) in &again {
            self.earlier.remove(node);
        }
        again
    }

    /// Runs it on this thread, stopped by `interrupt` (see [`Plan::execute_until`]).
    pub fn execute_until(
        &self,
        mesh: &dyn Mesh,
        fe: &mut dyn Frontend,
        parallelism: usize,
        interrupt: &Interrupt,
    ) -> Outcome {
        use tracing::Instrument;
        let span = tracing::info_span!("deployment", id = %self.id);
        futures::executor::block_on(self.run(mesh, fe, parallelism, interrupt).instrument(span))
    }

    /// Runs it: every step is a call whose events come back on a stream; the streams of the
    /// running steps are read together, on the caller's task. A step done earlier is not
    /// run; one running is attached to.
    pub async fn run(
        &self,
        mesh: &dyn Mesh,
        fe: &mut dyn Frontend,
        parallelism: usize,
        interrupt: &Interrupt,
    ) -> Outcome {
        let steps = &self.doc.steps;
        let parallelism = parallelism.max(1);
        let position: HashMap<&str, usize> = steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.node.as_str(), i))
            .collect();
        let mut successors: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
        let mut waiting: Vec<usize> = vec![0; steps.len()];
        let mut status: HashMap<usize, Status> = HashMap::new();
        let mut returned: HashMap<&str, Option<Value>> = HashMap::new();
        for (i, s) in steps.iter().enumerate() {
            if let Some(Earlier::Done(value)) = self.earlier.get(&s.node) {
                returned.insert(s.node.as_str(), value.clone());
                status.insert(
                    i,
                    Status::Done {
                        returned: shown_returned(steps, s, value.as_ref()),
                    },
                );
            }
        }
        for (i, s) in steps.iter().enumerate() {
            for a in &s.after {
                if let Some(&p) = position.get(a.as_str()) {
                    successors[p].push(i);
                    if !status.contains_key(&p) {
                        waiting[i] += 1;
                    }
                }
            }
        }
        // Ready steps start in plan order, so runs are repeatable: a heap of their ranks.
        let mut ready: BinaryHeap<Reverse<usize>> = (0..steps.len())
            .filter(|&i| waiting[i] == 0 && !status.contains_key(&i))
            .map(Reverse)
            .collect();
        // The whole document goes with the first call to each location, its summary after:
        // the agent's journal keeps the first.
        let summary = Arc::new(self.doc.summary());
        let mut told: std::collections::HashSet<&str> = std::collections::HashSet::new();
        let mut started_at: HashMap<usize, std::time::Instant> = HashMap::new();
        let mut took: HashMap<usize, Duration> = HashMap::new();
        let mut stopped = false;
        let mut running: SelectAll<BoxStream<'static, Said>> = SelectAll::new();
        let mut unfinished = 0usize;
        loop {
            while !stopped && !interrupt.is_stopping() && unfinished < parallelism {
                let Some(Reverse(n)) = ready.pop() else { break };
                let step = &steps[n];
                let location = step.location.clone();
                let xpath = step.xpath.clone();
                started_at.insert(n, std::time::Instant::now());
                let attach = match self.earlier.get(&step.node) {
                    Some(Earlier::Running(call)) => Some(call.clone()),
                    _ => None,
                };
                tracing::info!(
                    node = step.node,
                    location,
                    xpath,
                    attached = attach.is_some(),
                    "step starts"
                );
                fe.notify(&Event::StepStarted {
                    node: step.node.clone(),
                    location: location.clone(),
                    xpath: xpath.clone(),
                });
                let doc = if told.insert(step.location.as_str()) {
                    &self.doc
                } else {
                    &summary
                };
                let values = self.values_of(step, &returned);
                let call = match mesh.agent(&location) {
                    Some(agent) => agent
                        .provide_call(
                            &xpath,
                            &values,
                            &self.id,
                            (step.node.as_str(), doc),
                            step.made_for.clone(),
                            attach,
                            interrupt,
                        )
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
            let step = &steps[n];
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
                        step.xpath
                    )));
                    continue;
                }
                CallEvent::Done(result) => result,
            };
            unfinished -= 1;
            if let Some(at) = started_at.get(&n) {
                took.insert(n, at.elapsed());
            }
            match result.and_then(<method::ProvideCall as Listed>::answer) {
                Ok(value) => {
                    let shown = shown_returned(steps, step, value.as_ref());
                    fe.notify(&Event::StepDone {
                        node: step.node.clone(),
                        xpath: step.xpath.clone(),
                        returned: shown.clone(),
                    });
                    // The root's answer is the caller's, whole; the others as shown.
                    let kept = if step.node == ROOT {
                        value.clone()
                    } else {
                        shown
                    };
                    returned.insert(step.node.as_str(), value);
                    status.insert(n, Status::Done { returned: kept });
                    for &s in &successors[n] {
                        waiting[s] = waiting[s].saturating_sub(1);
                        if waiting[s] == 0 && !status.contains_key(&s) {
                            ready.push(Reverse(s));
                        }
                    }
                }
                Err(error) => {
                    let unknown = matches!(error, ApiError::Unknown { .. });
                    let error = error.to_string();
                    fe.notify(&Event::StepFailed {
                        node: step.node.clone(),
                        xpath: step.xpath.clone(),
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
        let outcomes: Vec<StepOutcome> = steps
            .iter()
            .enumerate()
            .map(|(i, s)| StepOutcome {
                node: s.node.clone(),
                xpath: s.xpath.clone(),
                location: s.location.clone(),
                status: status.remove(&i).unwrap_or(Status::NotStarted),
                took_ms: took
                    .get(&i)
                    .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                earlier: matches!(self.earlier.get(&s.node), Some(Earlier::Done(_))),
            })
            .collect();
        let succeeded = outcomes
            .iter()
            .all(|s| matches!(s.status, Status::Done { .. }));
        let result = outcomes
            .iter()
            .find(|s| s.node == ROOT)
            .and_then(|s| match &s.status {
                Status::Done { returned } => returned.clone(),
                _ => None,
            });
        Outcome {
            steps: outcomes,
            result,
            succeeded,
            interrupted: interrupt.is_stopping(),
        }
    }

    /// The values step `step` is called with: its own, its secrets, and what the steps below
    /// it returned.
    fn values_of(&self, step: &PlannedStep, returned: &HashMap<&str, Option<Value>>) -> Values {
        let mut values = step.values.clone();
        if let Some(secrets) = self.secrets.get(&step.node) {
            for e in &secrets.0 {
                for (set, v) in &e.values {
                    values = values.set_at(e.xpath.clone(), *set, v.clone());
                }
            }
        }
        for take in &step.takes {
            let Some(Some(Value::Map(map))) = returned.get(take.from.as_str()) else {
                continue;
            };
            if let Some(v) = map.get(&take.name).filter(|v| !v.is_null()) {
                values = values.set_at(take.to.xpath.clone(), take.to.set, v.clone());
            }
        }
        values
    }
}

/// The root node's id: its answer is the deployment's.
const ROOT: &str = "node_0";

/// What `step` returned, as a frontend may show it: the values its provide says are secrets,
/// and those its requirer takes into a secret variable, masked.
fn shown_returned(
    steps: &[PlannedStep],
    step: &PlannedStep,
    returned: Option<&Value>,
) -> Option<Value> {
    let Some(Value::Map(map)) = returned else {
        return returned.cloned();
    };
    let parent = step
        .returns_to
        .as_ref()
        .and_then(|p| steps.iter().find(|s| s.node == *p));
    let secret = |name: &str| {
        step.secret_returns.iter().any(|s| s == name)
            || parent.is_some_and(|p| {
                p.takes
                    .iter()
                    .any(|t| t.from == step.node && t.name == name && t.secret)
            })
    };
    Some(Value::Map(
        map.iter()
            .map(|(k, v)| {
                let shown = if secret(k) {
                    Value::from(armonic_lifecycle::secret::MASK)
                } else {
                    v.clone()
                };
                (k.clone(), shown)
            })
            .collect(),
    ))
}

impl Plan {
    /// The plan as a run of a deployment: its document and secrets.
    pub fn execution(&self) -> Execution {
        let (doc, secrets) = self.doc();
        Execution {
            id: self.id.clone(),
            doc: Arc::new(doc),
            secrets,
            earlier: HashMap::new(),
        }
    }

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
        self.execution()
            .execute_until(mesh, fe, parallelism, interrupt)
    }

    /// Runs the plan on the caller's task (see [`Execution::run`]).
    pub async fn run(
        &mut self,
        mesh: &dyn Mesh,
        fe: &mut dyn Frontend,
        parallelism: usize,
        interrupt: &Interrupt,
    ) -> Outcome {
        self.execution().run(mesh, fe, parallelism, interrupt).await
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

#[cfg(test)]
mod tests {
    use super::*;
    use armonic_proto::{Slot, Take};

    /// A database step returning a secret password its application step takes.
    fn doc() -> DeploymentDoc {
        let db = PlannedStep {
            node: "node_0_0".into(),
            xpath: "Db/On/grant".into(),
            location: "db1".into(),
            returns_to: Some("node_0".into()),
            secret_returns: vec!["password".into()],
            ..PlannedStep::default()
        };
        let app = PlannedStep {
            node: "node_0".into(),
            xpath: "App/On/start".into(),
            location: "app1".into(),
            after: vec!["node_0_0".into()],
            withheld: vec![Slot {
                xpath: "App/On/start/admin/password".into(),
                set: 0,
            }],
            takes: vec![Take {
                from: "node_0_0".into(),
                name: "password".into(),
                to: Slot {
                    xpath: "App/On/start/db/password".into(),
                    set: 0,
                },
                secret: false,
            }],
            ..PlannedStep::default()
        };
        seal(DeploymentDoc {
            root: "//App//start".into(),
            steps: vec![db, app],
            ..DeploymentDoc::default()
        })
    }

    #[test]
    fn a_document_is_sealed_by_its_hash_and_any_change_breaks_the_seal() {
        let d = doc();
        assert!(is_sealed(&d));
        let mut changed = d.clone();
        changed.steps[1].location = "app2".into();
        assert!(!is_sealed(&changed));
        // The driver is not sealed: a resume drives the same plan.
        let mut driven = d;
        driven.driver = "elsewhere".into();
        assert!(is_sealed(&driven));
    }

    #[test]
    fn a_done_step_whose_secret_a_step_to_run_needs_runs_again_and_not_for_one_attached_to() {
        let mut e = Execution::from_doc(DeploymentId::new(), doc());
        e.set_earlier("node_0_0", Earlier::Done(None));
        assert_eq!(
            e.rerun_for_secrets(),
            vec![("node_0_0".to_owned(), "node_0".to_owned())]
        );
        assert_eq!(e.earlier("node_0_0"), None, "forgotten as done");

        let mut e = Execution::from_doc(DeploymentId::new(), doc());
        e.set_earlier("node_0_0", Earlier::Done(None));
        e.set_earlier("node_0", Earlier::Running(CallId::new()));
        assert!(e.rerun_for_secrets().is_empty());
    }

    #[test]
    fn only_the_secrets_of_steps_still_to_run_are_needed_and_given_ones_are_not() {
        let mut e = Execution::from_doc(DeploymentId::new(), doc());
        let slot = Slot {
            xpath: "App/On/start/admin/password".into(),
            set: 0,
        };
        assert_eq!(e.needs(), vec![("node_0".to_owned(), slot.clone())]);
        e.give_secret("node_0", &slot, Value::from("s3cret"));
        assert!(e.needs().is_empty());
        let mut done = Execution::from_doc(DeploymentId::new(), doc());
        done.set_earlier("node_0", Earlier::Done(None));
        assert!(done.needs().is_empty());
    }

    #[test]
    fn a_returned_secret_is_masked_where_it_is_shown() {
        let d = doc();
        let returned = Value::Map(
            [
                ("password".to_owned(), Value::from("p")),
                ("user".to_owned(), Value::from("app")),
            ]
            .into_iter()
            .collect(),
        );
        let shown = shown_returned(&d.steps, &d.steps[0], Some(&returned)).unwrap();
        let Value::Map(map) = shown else { panic!() };
        assert_eq!(
            map["password"],
            Value::from(armonic_lifecycle::secret::MASK)
        );
        assert_eq!(map["user"], Value::from("app"));
    }
}
