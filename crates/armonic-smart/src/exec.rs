//! Running a plan: steps in dependency order, independent branches at the same time.
//!
//! Each step is one `provide_call` on its location. Returned values flow into the requirer's
//! variables before it starts. After a failure no new step starts; running steps finish, and
//! the outcome tells which steps ran, which failed and which never started.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::sync::{Mutex, mpsc};

use armonic_lifecycle::{Interrupt, LogRecord, LogSink, Value, Values};
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

/// A step handed to a worker.
struct Job {
    node: usize,
    location: String,
    xpath: String,
    values: Values,
}

enum Msg {
    Log(LogRecord),
    Done(usize, Result<Option<Value>, String>),
}

struct ChannelSink(mpsc::Sender<Msg>);

impl LogSink for ChannelSink {
    fn log(&self, record: &LogRecord) {
        // The receiver lives until every step has reported; a closed channel means the run
        // is over and there is nobody left to show the line to.
        let _ = self.0.send(Msg::Log(record.clone()));
    }
}

impl Plan {
    /// Runs the plan, at most `parallelism` steps at a time, reporting to `fe`.
    pub fn execute(
        &mut self,
        mesh: &dyn Mesh,
        fe: &mut dyn Frontend,
        parallelism: usize,
    ) -> Outcome {
        self.execute_until(mesh, fe, parallelism, &Interrupt::default())
    }

    /// Like [`Plan::execute`], but once `interrupt` is requested no step starts; running
    /// steps are the agents' to stop (they share the interrupt when they are embedded).
    pub fn execute_until(
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
        let mut status: HashMap<usize, Status> = HashMap::new();
        let mut stopped = false;
        let (tx, rx) = mpsc::channel::<Msg>();
        let sink: Arc<dyn LogSink> = Arc::new(ChannelSink(tx.clone()));
        // A pool of `parallelism` workers: starting a thread per step would cost more than
        // a step does on a large plan. The main thread hands out at most that many jobs.
        let (jobs, queue) = mpsc::sync_channel::<Job>(parallelism);
        let queue = Mutex::new(queue);
        let id = self.id.clone();
        std::thread::scope(|scope| {
            for _ in 0..parallelism.min(self.order.len()) {
                let (tx, sink, queue, id) = (tx.clone(), Arc::clone(&sink), &queue, &id);
                scope.spawn(move || {
                    loop {
                        // One worker waits on the queue at a time; it closes when the run is over.
                        let next = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(_) => break,
                        };
                        let Ok(job) = next else { break };
                        let result = match mesh.agent(&job.location) {
                            Some(agent) => agent
                                .provide_call(&job.xpath, &job.values, id, Arc::clone(&sink))
                                .map_err(|e| e.to_string()),
                            None => Err(format!("no location {}", job.location)),
                        };
                        let _ = tx.send(Msg::Done(job.node, result));
                    }
                });
            }
            let mut running = 0usize;
            loop {
                while !stopped && !interrupt.is_stopping() && running < parallelism {
                    let Some(Reverse(r)) = ready.pop() else { break };
                    let n = self.order[r];
                    let node = &self.nodes[n];
                    let location = node.location.clone().unwrap_or_default();
                    let xpath = node.xpath.clone().unwrap_or_default();
                    let values = self.node_values(n);
                    fe.notify(&Event::StepStarted {
                        node: node.id.clone(),
                        location: location.clone(),
                        xpath: xpath.clone(),
                    });
                    let job = Job {
                        node: n,
                        location,
                        xpath,
                        values,
                    };
                    // Never blocks: at most `parallelism` jobs are out at once. It fails only
                    // once the queue is gone, which it is not before this function returns.
                    if jobs.send(job).is_err() {
                        break;
                    }
                    running += 1;
                }
                if running == 0 {
                    break;
                }
                // A tick a second while steps run, so a frontend can show they are alive.
                let msg = match rx.recv_timeout(std::time::Duration::from_secs(1)) {
                    Ok(msg) => msg,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        fe.notify(&Event::Tick);
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                };
                match msg {
                    Msg::Log(record) => fe.notify(&Event::Log(record)),
                    Msg::Done(n, result) => {
                        running -= 1;
                        let node_id = self.nodes[n].id.clone();
                        let xpath = self.nodes[n].xpath.clone().unwrap_or_default();
                        match result {
                            Ok(returned) => {
                                self.take_returned(n, returned.as_ref());
                                fe.notify(&Event::StepDone {
                                    node: node_id,
                                    xpath,
                                    returned: returned.clone(),
                                });
                                status.insert(n, Status::Done { returned });
                                for succ in self.graph.neighbors_directed(
                                    self.index[&n],
                                    petgraph::Direction::Outgoing,
                                ) {
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
                                fe.notify(&Event::StepFailed {
                                    node: node_id,
                                    xpath,
                                    error: error.clone(),
                                });
                                let s = if interrupt.is_stopping() {
                                    Status::Interrupted { error }
                                } else {
                                    Status::Failed { error }
                                };
                                status.insert(n, s);
                                stopped = true;
                            }
                        }
                    }
                }
            }
            drop(jobs);
        });
        // Lines sent after the last step reported.
        while let Ok(Msg::Log(record)) = rx.try_recv() {
            fe.notify(&Event::Log(record));
        }
        let steps: Vec<StepOutcome> = self
            .order
            .iter()
            .map(|n| StepOutcome {
                node: self.nodes[*n].id.clone(),
                xpath: self.nodes[*n].xpath.clone().unwrap_or_default(),
                location: self.nodes[*n].location.clone().unwrap_or_default(),
                status: status.remove(n).unwrap_or(Status::NotStarted),
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
