//! Resolution: from one generic provide address to a complete deployment tree, asking the
//! frontend only what cannot be inferred (see `docs/deployments.md`).
//!
//! Steps per node, depth first: manage → location → specialize → requires → for each local
//! or external require: multiplicity and children (each resolved in turn) → validation →
//! call. A node's children are resolved (and will run) before it, like the original.

mod values;

use std::collections::{HashMap, HashSet};

use armonic_lifecycle::address::relative;
use armonic_lifecycle::info::{ProvideInfo, RequireType};
use armonic_lifecycle::paths::Move;
use armonic_lifecycle::{Nargs, Value};

use crate::agent::{Agent, Mesh};
use crate::error::Error;
use crate::question::{Answer, Choice, Event, Frontend, Question, Requirer};
use crate::record::{Key, Record, Replay};
use crate::tree::{Group, Node, Role, Var};
pub(crate) use values::effective;

/// Options of a deployment.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Identifier attached to every call and log line.
    pub id: armonic_proto::DeploymentId,
    /// Answers to replay.
    pub replay: Option<Record>,
    /// Manage every provide without asking.
    pub manage: bool,
    /// Replay a record made for another root or in an unknown format.
    pub force: bool,
}

pub(crate) struct Resolver<'a> {
    mesh: &'a dyn Mesh,
    fe: &'a mut dyn Frontend,
    pub nodes: Vec<Node>,
    pub vars: Vec<Var>,
    hosts: HashMap<String, String>,
    /// States that earlier calls will have entered, by (location, lifecycle).
    projected: HashMap<(String, String), HashSet<String>>,
    by_xpath: HashMap<String, Vec<usize>>,
    replay: Option<Replay>,
    pub record: Record,
    /// Positions of keys in the record's `lfm`, `variables` and `variables_host` sections.
    record_index: HashMap<(u8, Key), usize>,
    manage_all: bool,
}

fn state_of(provide_xpath: &str) -> &str {
    relative(provide_xpath)
        .split('/')
        .nth(1)
        .unwrap_or_default()
}

impl<'a> Resolver<'a> {
    pub fn new(
        mesh: &'a dyn Mesh,
        fe: &'a mut dyn Frontend,
        root: &str,
        options: &Options,
    ) -> Resolver<'a> {
        Resolver {
            mesh,
            fe,
            nodes: vec![Node::new("node_0".into(), 0, root.to_owned(), None)],
            vars: Vec::new(),
            hosts: HashMap::new(),
            projected: HashMap::new(),
            by_xpath: HashMap::new(),
            replay: options.replay.clone().map(Replay::new),
            record: Record::new(root),
            record_index: HashMap::new(),
            manage_all: options.manage,
        }
    }

    pub fn finish(mut self) -> (Vec<Node>, Vec<Var>, Record) {
        if let Some(r) = &self.replay {
            self.record.mapping = r.mapping.clone();
        }
        (self.nodes, self.vars, self.record)
    }

    fn agent(&self, location: &str) -> Result<Agent, Error> {
        self.mesh.agent(location).ok_or_else(|| Error::Agent {
            location: location.to_owned(),
            source: armonic_proto::ApiError::Unreachable {
                location: location.to_owned(),
                message: "no such location in the mesh".into(),
            },
        })
    }

    fn host(&mut self, location: &str) -> Result<String, Error> {
        if let Some(h) = self.hosts.get(location) {
            return Ok(h.clone());
        }
        let info = self
            .agent(location)?
            .info()
            .map_err(|source| Error::Agent {
                location: location.to_owned(),
                source,
            })?;
        self.hosts
            .insert(location.to_owned(), info.public_ip.clone());
        Ok(info.public_ip)
    }

    fn yes_no(&mut self, q: Question) -> Result<bool, Error> {
        loop {
            match self.fe.ask(&q)? {
                Answer::Yes => return Ok(true),
                Answer::No => return Ok(false),
                other => self
                    .fe
                    .notify(&Event::Notice(format!("expected yes or no, not {other}"))),
            }
        }
    }

    /// The chain of provides from the root to node `n` (relative xpath on location).
    fn ancestors(&self, n: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut up = self.nodes[n].parent.map(|p| p.0);
        while let Some(p) = up {
            out.push(p);
            up = self.nodes[p].parent.map(|x| x.0);
        }
        out.reverse();
        out
    }

    fn check_cycle(&self, n: usize) -> Result<(), Error> {
        let node = &self.nodes[n];
        let chain = self.ancestors(n);
        if chain
            .iter()
            .any(|&a| self.nodes[a].xpath == node.xpath && self.nodes[a].location == node.location)
        {
            let names: Vec<String> = chain
                .iter()
                .chain(std::iter::once(&n))
                .map(|&a| self.nodes[a].xpath.clone().unwrap_or_default())
                .collect();
            return Err(Error::Cycle {
                xpath: node.xpath.clone().unwrap_or_default(),
                location: node.location.clone().unwrap_or_default(),
                chain: names.join(" -> "),
            });
        }
        Ok(())
    }

    /// Resolves node `n` and everything below it.
    pub fn resolve(&mut self, n: usize) -> Result<(), Error> {
        if self.nodes[n].depth > crate::MAX_DEPTH {
            return Err(Error::TooDeep {
                xpath: self.nodes[n].generic.clone(),
                max: crate::MAX_DEPTH,
            });
        }
        let (id, depth, generic) = {
            let node = &self.nodes[n];
            (node.id.clone(), node.depth, node.generic.clone())
        };
        let key = self.nodes[n].key(&generic);

        // manage
        let replayed = self.replay.as_mut().and_then(|r| r.manage(&id, &generic));
        let manage = match replayed {
            _ if self.manage_all => true,
            Some(m) => m,
            None => self.yes_no(Question::Manage {
                node: id.clone(),
                depth,
                xpath: generic.clone(),
            })?,
        };
        self.nodes[n].manage = manage;
        self.record.manage.push((key.clone(), manage));
        if !manage {
            return Ok(());
        }

        // location and specialize
        if self.nodes[n].location.is_none() {
            let location = self.choose_location(n, None, None)?;
            self.nodes[n].location = Some(location);
        }
        let xpath = self.specialize(n)?;
        self.check_cycle(n)?;
        let location = self.nodes[n].location.clone().unwrap_or_default();
        let host = self.host(&location)?;
        self.nodes[n].host = Some(host);
        self.record_location(key.clone(), location.clone());
        self.record
            .specialize
            .push((key.clone(), Key::new(id.clone(), xpath.clone())));

        // requires
        self.build_requires(n, &location, &xpath)?;

        // multiplicity and children, one group at a time
        for g in 0..self.nodes[n].groups.len() {
            self.multiplicity(n, g)?;
            for child in self.nodes[n].groups[g].children.clone() {
                self.resolve(child)?;
            }
        }

        self.validate(n)?;

        // call
        let replayed = self.replay.as_mut().and_then(|r| r.call(&id, &generic));
        let call = match replayed {
            Some(c) => c,
            None => self.yes_no(Question::Call {
                node: id,
                depth,
                xpath: generic,
            })?,
        };
        self.nodes[n].call = call;
        self.record.call.push((key, call));
        if call {
            let lifecycle = self.nodes[n].lifecycle().to_owned();
            let enters = self.nodes[n].enters.clone();
            self.projected
                .entry((location, lifecycle))
                .or_default()
                .extend(enters);
        }
        Ok(())
    }

    /// Locations where `xpath` matches a provide, in mesh order.
    fn locations_with(&self, xpath: &str) -> Vec<String> {
        let known = self.mesh.locations();
        if let Some(mut offering) = self.mesh.offering(xpath) {
            // Catalogues answer for live locations; sorted so that runs are repeatable.
            offering.retain(|l| known.contains(l));
            offering.sort();
            return offering;
        }
        known
            .into_iter()
            .filter(|l| {
                self.mesh
                    .agent(l)
                    .is_some_and(|a| a.provide(xpath).is_ok_and(|m| !m.is_empty()))
            })
            .collect()
    }

    /// Asks where node `n` goes (replayed answers first; the only location when there is one).
    fn choose_location(
        &mut self,
        n: usize,
        suggestion: Option<String>,
        error: Option<String>,
    ) -> Result<String, Error> {
        let locations = self.mesh.locations();
        if locations.is_empty() {
            return Err(Error::NoLocations);
        }
        let (id, depth, generic) = (
            self.nodes[n].id.clone(),
            self.nodes[n].depth,
            self.nodes[n].generic.clone(),
        );
        if error.is_none() {
            if let Some(l) = self.replay.as_mut().and_then(|r| r.location(&id, &generic)) {
                if locations.contains(&l) {
                    self.nodes[n].location_chosen = true;
                    return Ok(l);
                }
                self.fe.notify(&Event::Notice(format!(
                    "recorded location {l} of {generic} is unknown"
                )));
            }
            if locations.len() == 1 {
                return Ok(locations[0].clone());
            }
        }
        // Only the locations offering the provide are proposed (all, when none does: the
        // error then says so on the location chosen).
        let offering = self.locations_with(&generic);
        let locations = if offering.is_empty() {
            locations
        } else {
            offering
        };
        let suggestion = suggestion
            .filter(|s| locations.contains(s))
            .or_else(|| locations.first().cloned());
        let required_by = self.requirer(n);
        let mut error = error;
        loop {
            let q = Question::Location {
                node: id.clone(),
                depth,
                xpath: generic.clone(),
                required_by: required_by.clone(),
                choices: locations.clone(),
                suggestion: suggestion.clone(),
                error: error.take(),
            };
            match self.fe.ask(&q)? {
                Answer::Location(l) if locations.contains(&l) => {
                    self.nodes[n].location_chosen = true;
                    return Ok(l);
                }
                Answer::Location(l) => {
                    error = Some(format!(
                        "unknown location {l} (known: {})",
                        locations.join(", ")
                    ))
                }
                other => error = Some(format!("expected a location, not {other}")),
            }
        }
    }

    /// The require that leads to node `n`, and which of its instances `n` is.
    fn requirer(&self, n: usize) -> Option<Requirer> {
        let (p, g, instance) = self.nodes[n].parent?;
        let group = &self.nodes[p].groups[g];
        Some(Requirer {
            provide: self.nodes[p].xpath.clone().unwrap_or_default(),
            require: group.info.name.clone(),
            instance,
            instances: group.children.len(),
        })
    }

    fn specialize(&mut self, n: usize) -> Result<String, Error> {
        let (id, depth, generic) = (
            self.nodes[n].id.clone(),
            self.nodes[n].depth,
            self.nodes[n].generic.clone(),
        );
        loop {
            let location = self.nodes[n].location.clone().unwrap_or_default();
            let agent = self.agent(&location)?;
            let matches = agent.provide(&generic).map_err(|source| Error::Agent {
                location: location.clone(),
                source,
            })?;
            let choice = match matches.len() {
                0 => {
                    let required_by = self.nodes[n]
                        .parent
                        .and_then(|(p, _, _)| self.nodes[p].xpath.clone());
                    let os = agent
                        .info()
                        .map(|i| format!("{} {}", i.os_type, i.os_release.unwrap_or_default()))
                        .unwrap_or_default();
                    let msg = format!(
                        "no provide matches {generic} on location {location} ({})",
                        os.trim()
                    );
                    if !self.nodes[n].location_chosen || self.mesh.locations().len() < 2 {
                        return Err(Error::NotFound {
                            xpath: generic,
                            location,
                            required_by,
                        });
                    }
                    self.fe.notify(&Event::Notice(msg.clone()));
                    let l = self.choose_location(n, None, Some(msg))?;
                    self.nodes[n].location = Some(l);
                    continue;
                }
                1 => matches.into_iter().next(),
                _ => {
                    let replayed = self
                        .replay
                        .as_mut()
                        .and_then(|r| r.specialize(&id, &generic));
                    let wanted = match replayed {
                        Some(x) => x,
                        None => {
                            let choices = matches
                                .iter()
                                .map(|m| Choice {
                                    xpath: relative(&m.xpath).to_owned(),
                                    label: m.label.clone(),
                                })
                                .collect();
                            match self.fe.ask(&Question::Specialize {
                                node: id.clone(),
                                depth,
                                xpath: generic.clone(),
                                location: location.clone(),
                                choices,
                            })? {
                                Answer::Choice(x) => x,
                                other => {
                                    return Err(Error::Aborted(format!(
                                        "expected a provide, not {other}"
                                    )));
                                }
                            }
                        }
                    };
                    let found = matches
                        .iter()
                        .find(|m| relative(&m.xpath) == wanted || m.xpath == wanted)
                        .cloned();
                    if found.is_none() {
                        self.fe.notify(&Event::Notice(format!(
                            "{wanted} is not one of the provides matching {generic}"
                        )));
                        continue;
                    }
                    found
                }
            };
            let Some(p) = choice else { continue };
            let xpath = relative(&p.xpath).to_owned();
            self.nodes[n].xpath = Some(xpath.clone());
            self.nodes[n].label = p.label.clone();
            self.nodes[n].secret_returns = p.secret_returns.clone();
            self.nodes[n].destructive.clear();
            if p.destructive {
                self.nodes[n].destructive.push(xpath.clone());
            }
            return Ok(xpath);
        }
    }

    fn build_requires(&mut self, n: usize, location: &str, xpath: &str) -> Result<(), Error> {
        let agent = self.agent(location)?;
        let err = |source| Error::Agent {
            location: location.to_owned(),
            source,
        };
        let lifecycle = xpath.split('/').next().unwrap_or_default().to_owned();
        let projected = self
            .projected
            .get(&(location.to_owned(), lifecycle))
            .cloned()
            .unwrap_or_default();
        let paths = agent.provide_call_path(xpath).map_err(err)?;
        let enters: Vec<String> = paths
            .first()
            .and_then(|p| p.paths.first())
            .map(|p| {
                p.iter()
                    .filter(|m| m.action == Move::Enter)
                    .map(|m| m.state.to_string())
                    .collect()
            })
            .unwrap_or_default();
        self.nodes[n].enters = enters
            .into_iter()
            .filter(|s| !projected.contains(s))
            .collect();
        let provides = agent.provide_call_requires(xpath, 0).map_err(err)?;
        let mut simple: Vec<(ProvideInfo, usize)> = Vec::new();
        for p in provides {
            if p.name == "enter" && projected.contains(state_of(&p.xpath)) {
                self.nodes[n].ignored.push(relative(&p.xpath).to_owned());
                continue;
            }
            let name = relative(&p.xpath).to_owned();
            if p.destructive && !self.nodes[n].destructive.contains(&name) {
                self.nodes[n].destructive.push(name);
            }
            for (ri, r) in p.requires.iter().enumerate() {
                if r.kind == RequireType::Simple {
                    simple.push((p.clone(), ri));
                } else {
                    self.nodes[n].groups.push(Group {
                        info: r.clone(),
                        require: relative(&r.xpath).to_owned(),
                        external: r.kind == RequireType::External,
                        children: Vec::new(),
                        vars: Vec::new(),
                    });
                }
            }
        }
        for (p, ri) in simple {
            let r = &p.requires[ri];
            let special = p.name == "enter";
            let sets = match r.nargs {
                Nargs::Optional | Nargs::Any => {
                    self.count(n, relative(&r.xpath), r.nargs_min, r.nargs_max, false, "")?
                        .0
                }
                _ => r.variables.len(),
            };
            for set in 0..sets {
                for v in &r.variables_skel {
                    self.new_var(n, v, set, Role::Plain, special);
                }
            }
        }
        Ok(())
    }

    /// Asks how many instances (and, for external requires, where).
    fn count(
        &mut self,
        n: usize,
        require: &str,
        min: u32,
        max: u32,
        external: bool,
        provide_xpath: &str,
    ) -> Result<(usize, Vec<String>), Error> {
        let (id, depth) = (self.nodes[n].id.clone(), self.nodes[n].depth);
        let key = self.nodes[n].key(require);
        let locations = self.mesh.locations();
        let check = |count: usize, locs: &[String]| -> Result<(), String> {
            if count < min as usize || count > max as usize {
                return Err(format!(
                    "between {min} and {max} instances are needed, not {count}"
                ));
            }
            match locs.iter().find(|l| !locations.contains(l)) {
                Some(l) => Err(format!(
                    "unknown location {l} (known: {})",
                    locations.join(", ")
                )),
                None => Ok(()),
            }
        };
        if let Some(v) = self
            .replay
            .as_mut()
            .and_then(|r| r.multiplicity(&id, require))
        {
            let parsed = match &v {
                serde_json::Value::Array(a) if external => {
                    let locs: Vec<String> = a
                        .iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect();
                    Some((locs.len(), locs))
                }
                serde_json::Value::Number(x) if !external => {
                    x.as_u64().map(|c| (c as usize, Vec::new()))
                }
                _ => None,
            };
            match parsed {
                Some((c, locs)) if check(c, &locs).is_ok() => {
                    self.record_count(key, external, c, &locs);
                    return Ok((c, locs));
                }
                _ => self.fe.notify(&Event::Notice(format!(
                    "recorded multiplicity {v} of {require} is not usable"
                ))),
            }
        }
        let suggestion = (min as usize).max(1).min(max as usize);
        // One proposal per possible instance (up to the number of locations), so a frontend
        // asking instance by instance has one for each; the first `suggestion` are the default.
        let proposals = suggestion.max(locations.len()).min(max as usize);
        let suggested_locations = if external {
            self.spread(n, provide_xpath, proposals)
        } else {
            Vec::new()
        };
        let mut error = None;
        loop {
            let q = Question::Multiplicity {
                node: id.clone(),
                depth,
                require: require.to_owned(),
                provide_xpath: provide_xpath.to_owned(),
                external,
                min,
                max,
                suggestion,
                choices: if external {
                    locations.clone()
                } else {
                    Vec::new()
                },
                suggested_locations: suggested_locations.clone(),
                error: error.take(),
            };
            let (c, locs) = match self.fe.ask(&q)? {
                Answer::Count(c) if !external => (c, Vec::new()),
                Answer::Locations(l) if external => (l.len(), l),
                other => {
                    error = Some(format!(
                        "expected {}, not {other}",
                        if external { "locations" } else { "a number" }
                    ));
                    continue;
                }
            };
            match check(c, &locs) {
                Ok(()) => {
                    self.record_count(key, external, c, &locs);
                    return Ok((c, locs));
                }
                Err(e) => error = Some(e),
            }
        }
    }

    fn record_count(&mut self, key: Key, external: bool, count: usize, locations: &[String]) {
        let value = if external {
            serde_json::json!(locations)
        } else {
            serde_json::json!(count)
        };
        self.record.multiplicity.push((key, value));
    }

    /// The location an earlier node of this deployment put `provide_xpath` on, for a
    /// requirer other than group `g` of node `n` (whose instances spread instead).
    fn placed_for_another(&self, n: usize, g: usize, provide_xpath: &str) -> Option<String> {
        self.nodes.iter().find_map(|m| {
            let sibling = matches!(m.parent, Some((p, pg, _)) if p == n && pg == g);
            (m.generic == provide_xpath && m.location_chosen && !sibling)
                .then(|| m.location.clone())
                .flatten()
        })
    }

    /// Proposed locations for `count` external instances: locations offering the provide,
    /// other than the requirer's first, each once while possible.
    fn spread(&self, n: usize, provide_xpath: &str, count: usize) -> Vec<String> {
        let mine = self.nodes[n].location.clone().unwrap_or_default();
        let mut offering = self.locations_with(provide_xpath);
        if offering.is_empty() {
            offering = vec![mine.clone()];
        }
        let mut order: Vec<String> = offering.iter().filter(|l| **l != mine).cloned().collect();
        if order.is_empty() {
            order = offering;
        }
        (0..count).map(|i| order[i % order.len()].clone()).collect()
    }

    fn multiplicity(&mut self, n: usize, g: usize) -> Result<(), Error> {
        let group = self.nodes[n].groups[g].clone();
        let nargs = group.info.nargs;
        let provide_xpath = group.info.provide_xpath.clone().unwrap_or_default();
        let (count, mut locations) = match (nargs, group.external) {
            (Nargs::Exactly(c), false) => (c as usize, Vec::new()),
            (Nargs::Exactly(c), true) => (c as usize, Vec::new()),
            _ => self.count(
                n,
                &group.require,
                group.info.nargs_min,
                group.info.nargs_max,
                group.external,
                &provide_xpath,
            )?,
        };
        for k in 0..count {
            let child_id = format!("{}_{}", self.nodes[n].id, self.nodes[n].next_child);
            self.nodes[n].next_child += 1;
            let mut child = Node::new(
                child_id,
                self.nodes[n].depth + 1,
                provide_xpath.clone(),
                Some((n, g, k)),
            );
            if !group.external {
                child.location = self.nodes[n].location.clone();
            }
            let c = self.nodes.len();
            self.nodes.push(child);
            self.nodes[n].groups[g].children.push(c);
            // Instance variables: host (external), arguments, returned values.
            let mut inst = Vec::new();
            let args = group.info.provide_args.len();
            for (i, v) in group.info.variables_skel.iter().enumerate() {
                let role = if group.external && i == 0 && v.name == "host" {
                    Role::Host {
                        group: g,
                        instance: k,
                    }
                } else if i < args {
                    Role::Arg {
                        group: g,
                        instance: k,
                    }
                } else {
                    Role::Ret {
                        group: g,
                        instance: k,
                    }
                };
                inst.push(self.new_var(n, v, k, role, false));
            }
            self.nodes[n].groups[g].vars.push(inst.clone());
            let mut scope = self.nodes[n].scope.clone();
            scope.extend(inst);
            self.nodes[c].scope = scope;
        }
        if group.external {
            // External instances get their locations now, so every sibling's host is known
            // before any of them is configured (armonic_hosts).
            let children = self.nodes[n].groups[g].children.clone();
            for (k, &c) in children.iter().enumerate() {
                let location = match locations.get(k) {
                    Some(l) => l.clone(),
                    None => {
                        // Where another requirer's instance of the same provide went (the
                        // one database of several backends), else spread over the others.
                        let suggestion = self
                            .placed_for_another(n, g, &provide_xpath)
                            .or_else(|| self.spread(n, &provide_xpath, k + 1).pop());
                        let l = self.choose_location(c, suggestion, None)?;
                        locations.push(l.clone());
                        l
                    }
                };
                self.nodes[c].location = Some(location.clone());
                self.nodes[c].location_chosen = true;
                let host = self.host(&location)?;
                self.nodes[c].host = Some(host.clone());
                let key = self.nodes[c].key(&provide_xpath);
                self.record_location(key, location);
                for &v in &self.nodes[n].groups[g].vars[k] {
                    if let Role::Host { .. } = self.vars[v].role {
                        self.vars[v].auto = Some(Value::Str(host.clone()));
                    }
                }
            }
        }
        Ok(())
    }
}
