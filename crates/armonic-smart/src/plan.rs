//! The plan: the resolved deployment as a DAG of provide calls with their final values.

use std::collections::HashMap;
use std::fmt::Write;

use armonic_lifecycle::Values;
use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;

use crate::record::Record;
use crate::resolve::effective;
use crate::tree::{Node, Role, Var};

/// One provide call of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Node id (`node_0_1`).
    pub node: String,
    /// The generic address it answers.
    pub generic: String,
    /// The provide called, relative (`WebServer/Active/start`).
    pub xpath: String,
    /// Location.
    pub location: String,
    /// States the call enters, as planned.
    pub enters: Vec<String>,
    /// Node ids of the steps that must finish first.
    pub after: Vec<String>,
    /// The destructive provides it runs: a deployment asks first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub destructive: Vec<String>,
}

/// A resolved deployment, ready to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The deployment id.
    pub id: armonic_proto::DeploymentId,
    /// The generic address deployed.
    pub root: String,
    pub(crate) nodes: Vec<Node>,
    pub(crate) vars: Vec<Var>,
    /// Steps, in the order the original ran them (children before parents).
    pub(crate) order: Vec<usize>,
    pub(crate) graph: DiGraph<usize, ()>,
    pub(crate) index: HashMap<usize, NodeIndex>,
    /// Every answer, to save and replay.
    pub record: Record,
    /// The location driving it, said with each call (the agent the command goes through,
    /// or this process's machine).
    pub driver: String,
}

impl Plan {
    pub(crate) fn new(
        id: armonic_proto::DeploymentId,
        root: String,
        nodes: Vec<Node>,
        vars: Vec<Var>,
        record: Record,
    ) -> Plan {
        let mut order = Vec::new();
        post_order(&nodes, 0, &mut order);
        let steps: Vec<usize> = order
            .into_iter()
            .filter(|&n| nodes[n].manage && nodes[n].call)
            .collect();
        let mut graph = DiGraph::new();
        let index: HashMap<usize, NodeIndex> =
            steps.iter().map(|&n| (n, graph.add_node(n))).collect();
        // A step runs after the steps below it in the tree.
        for &n in &steps {
            let mut up = nodes[n].parent.map(|p| p.0);
            while let Some(p) = up {
                if let Some(&pi) = index.get(&p) {
                    graph.update_edge(index[&n], pi, ());
                    break;
                }
                up = nodes[p].parent.map(|x| x.0);
            }
        }
        // Steps on the same lifecycle of the same location run in tree order: each was planned
        // knowing what the earlier ones enter.
        let mut last: HashMap<(String, String), usize> = HashMap::new();
        for &n in &steps {
            let key = (
                nodes[n].location.clone().unwrap_or_default(),
                nodes[n].lifecycle().to_owned(),
            );
            if let Some(prev) = last.insert(key, n) {
                graph.update_edge(index[&prev], index[&n], ());
            }
        }
        Plan {
            id,
            root,
            nodes,
            vars,
            order: steps,
            graph,
            index,
            record,
            driver: armonic_lifecycle::hostname(),
        }
    }

    /// True when nothing will be called (the root was declined).
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Whether the root provide is called.
    pub fn root_called(&self) -> bool {
        self.nodes[0].manage && self.nodes[0].call
    }

    /// The root provide's relative address, once chosen.
    pub fn root_xpath(&self) -> Option<&str> {
        self.nodes[0].xpath.as_deref()
    }

    /// The steps, children before parents.
    pub fn steps(&self) -> Vec<Step> {
        self.order
            .iter()
            .map(|&n| {
                let node = &self.nodes[n];
                let after = self
                    .graph
                    .neighbors_directed(self.index[&n], petgraph::Direction::Incoming)
                    .map(|i| self.nodes[self.graph[i]].id.clone())
                    .collect::<Vec<_>>();
                let mut after = after;
                after.sort();
                Step {
                    node: node.id.clone(),
                    generic: node.generic.clone(),
                    xpath: node.xpath.clone().unwrap_or_default(),
                    location: node.location.clone().unwrap_or_default(),
                    enters: node.enters.clone(),
                    after,
                    destructive: node.destructive.clone(),
                }
            })
            .collect()
    }

    /// Node ids in an order where every step comes after the steps it depends on.
    pub fn topological_order(&self) -> Vec<String> {
        match toposort(&self.graph, None) {
            Ok(order) => order
                .into_iter()
                .map(|i| self.nodes[self.graph[i]].id.clone())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Whether the dependency graph has no cycle (always true by construction).
    pub fn is_acyclic(&self) -> bool {
        toposort(&self.graph, None).is_ok()
    }

    /// The deployment as its calls carry it, beginning now (every value but secrets), and
    /// the secrets of each step, by node id, which go only in that step's call.
    pub fn doc(&self) -> (armonic_proto::DeploymentDoc, HashMap<String, Values>) {
        let mut secrets = HashMap::new();
        let steps = self
            .order
            .iter()
            .map(|&n| {
                let (step, secret) = self.planned_step(n);
                if !secret.is_empty() {
                    secrets.insert(step.node.clone(), secret);
                }
                step
            })
            .collect();
        let record = serde_json::to_value(self.record.without_secrets())
            .ok()
            .and_then(|r| serde_json::from_value(r).ok());
        let mut doc = armonic_proto::DeploymentDoc {
            root: self.root.clone(),
            driver: self.driver.clone(),
            started_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            steps,
            record,
            hash: String::new(),
            catalogues: Vec::new(),
        };
        doc.hash = crate::exec::doc_hash(&doc);
        (doc, secrets)
    }

    /// Step `n` as the deployment document holds it, and its secret values.
    fn planned_step(&self, n: usize) -> (armonic_proto::PlannedStep, Values) {
        let node = &self.nodes[n];
        let mut after: Vec<String> = self
            .graph
            .neighbors_directed(self.index[&n], petgraph::Direction::Incoming)
            .map(|i| self.nodes[self.graph[i]].id.clone())
            .collect();
        after.sort();
        let mut values = Values::new();
        let mut secrets = Values::new();
        let mut withheld = Vec::new();
        let mut takes = Vec::new();
        for &v in &node.vars {
            let var = &self.vars[v];
            let slot = armonic_proto::Slot {
                xpath: var.xpath.clone(),
                set: var.set,
            };
            match effective(&self.nodes, &self.vars, v) {
                Some(value) if var.info.secret => {
                    secrets = secrets.set_at(slot.xpath.clone(), slot.set, value);
                    withheld.push(slot);
                }
                Some(value) => values = values.set_at(slot.xpath, slot.set, value),
                None => {
                    // A value a step below returns, once it ran.
                    let Role::Ret { group, instance } = var.role else {
                        continue;
                    };
                    let Some(&child) = node
                        .groups
                        .get(group)
                        .and_then(|g| g.children.get(instance))
                    else {
                        continue;
                    };
                    if self.index.contains_key(&child) {
                        takes.push(armonic_proto::Take {
                            from: self.nodes[child].id.clone(),
                            name: var.info.name.clone(),
                            to: slot,
                            secret: var.info.secret,
                        });
                    }
                }
            }
        }
        let returns_to = node
            .parent
            .map(|(p, _, _)| p)
            .filter(|p| self.index.contains_key(p))
            .map(|p| self.nodes[p].id.clone());
        let step = armonic_proto::PlannedStep {
            node: node.id.clone(),
            xpath: node.xpath.clone().unwrap_or_default(),
            location: node.location.clone().unwrap_or_default(),
            after,
            returns_to,
            made_for: self.made_for(n),
            values,
            withheld,
            takes,
            secret_returns: node.secret_returns.clone(),
            destructive: node.destructive.clone(),
        };
        (step, secrets)
    }

    /// The location node `n`'s call is made for: its parent's (the consumer of what it
    /// provides), none for the root (the calling machine).
    pub(crate) fn made_for(&self, n: usize) -> Option<armonic_lifecycle::CallerLocation> {
        let (parent, _, _) = self.nodes[n].parent?;
        let parent = &self.nodes[parent];
        Some(armonic_lifecycle::CallerLocation {
            name: parent.location.clone()?,
            address: parent.host.clone()?,
        })
    }

    /// The plan as a tree: each node with its location, the states it enters and its values.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Deployment of {} ({} call{})",
            self.root,
            self.order.len(),
            if self.order.len() == 1 { "" } else { "s" }
        );
        self.render_node(0, &mut out);
        let order: Vec<String> = self
            .order
            .iter()
            .map(|&n| self.nodes[n].id.clone())
            .collect();
        let _ = writeln!(out, "Order: {}", order.join(", "));
        let managed = || self.order.iter().map(|&n| &self.nodes[n]);
        if managed().all(|n| n.enters.is_empty() && n.ignored.is_empty()) {
            let _ = writeln!(
                out,
                "Every state these calls need is reached: nothing is entered, the provides are only called."
            );
        }
        out
    }

    fn render_node(&self, n: usize, out: &mut String) {
        let node = &self.nodes[n];
        let pad = "  ".repeat(node.depth);
        if !node.manage {
            let _ = writeln!(out, "{pad}{} {} (not managed)", node.id, node.generic);
            return;
        }
        let xpath = node.xpath.as_deref().unwrap_or(&node.generic);
        let location = node.location.as_deref().unwrap_or("?");
        let called = if node.call { "" } else { " (not called)" };
        let destructive = if node.destructive.is_empty() || !node.call {
            String::new()
        } else {
            format!(" (destructive: {})", node.destructive.join(", "))
        };
        let _ = writeln!(
            out,
            "{pad}{} {xpath} on {location}{called}{destructive}",
            node.id
        );
        if !node.enters.is_empty() {
            let _ = writeln!(out, "{pad}  enters: {}", node.enters.join(", "));
        }
        for &v in &node.vars {
            let var = &self.vars[v];
            let set = if var.set > 0 {
                format!("[{}]", var.set)
            } else {
                String::new()
            };
            let what = match (var.role, effective(&self.nodes, &self.vars, v)) {
                (Role::Ret { group, instance }, None) => {
                    let child = node
                        .groups
                        .get(group)
                        .and_then(|g| g.children.get(instance));
                    format!(
                        "returned by {}",
                        child.map_or("?", |&c| self.nodes[c].id.as_str())
                    )
                }
                (_, Some(_)) if var.info.secret => armonic_lifecycle::secret::MASK.into(),
                (_, Some(value)) => value.to_string(),
                (_, None) => "(default)".into(),
            };
            let _ = writeln!(out, "{pad}  {}{set} = {what}", var.xpath);
        }
        for g in &node.groups {
            for &c in &g.children {
                self.render_node(c, out);
            }
        }
    }
}

fn post_order(nodes: &[Node], n: usize, out: &mut Vec<usize>) {
    for g in &nodes[n].groups {
        for &c in &g.children {
            post_order(nodes, c, out);
        }
    }
    out.push(n);
}
