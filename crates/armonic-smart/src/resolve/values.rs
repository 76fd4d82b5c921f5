//! Variables of the tree: creating them with their links, asking and validating their values,
//! and recording them.

use armonic_lifecycle::address::relative;
use armonic_lifecycle::info::VariableInfo;
use armonic_lifecycle::{Value, Values};

use super::Resolver;
use crate::error::Error;
use crate::question::{Answer, Event, Question, VariableQuestion};
use crate::record::Key;
use crate::tree::{Node, Role, Var};

impl Resolver<'_> {
    pub(super) fn new_var(
        &mut self,
        n: usize,
        info: &VariableInfo,
        set: usize,
        role: Role,
        special: bool,
    ) -> usize {
        let id = self.vars.len();
        let xpath = relative(&info.xpath).to_owned();
        let mut var = Var {
            node: n,
            xpath: xpath.clone(),
            set,
            info: info.clone(),
            role,
            answer: None,
            auto: None,
            suggest: None,
            mirror: None,
            returned: None,
            error: None,
            forced: false,
        };
        let host = self.nodes[n].host.clone().map(Value::Str);
        match (info.ty.as_str(), role) {
            ("armonic_this_host", _) | ("armonic_host", Role::Plain) => var.auto = host,
            ("armonic_hosts", _) => {
                let hosts: Vec<Value> = match self.nodes[n].parent {
                    Some((p, g, _)) => self.nodes[p].groups[g]
                        .children
                        .iter()
                        .filter_map(|&c| self.nodes[c].host.clone().map(Value::Str))
                        .collect(),
                    None => host.into_iter().collect(),
                };
                var.auto = Some(Value::List(hosts));
            }
            _ => {}
        }
        // A `from_xpath` link is looked up when the value is proposed (`suggestion`): the
        // variable it names may belong to a dependency not created yet.
        if var.auto.is_none()
            && matches!(role, Role::Plain)
            && info.from_xpath.is_none()
            && !special
        {
            let found = self.nodes[n]
                .scope
                .iter()
                .rev()
                .copied()
                .find(|&s| self.vars[s].info.name == info.name);
            if let Some(s) = found {
                var.suggest = Some(s);
                // A value passed along a link is as secret as either end says.
                if var.info.secret || self.vars[s].info.secret {
                    var.info.secret = true;
                    self.vars[s].info.secret = true;
                }
                // The argument passed to this node by its requirer takes this node's value.
                if let (Some((p, g, k)), Role::Arg { group, instance }) =
                    (self.nodes[n].parent, self.vars[s].role)
                {
                    if self.vars[s].node == p && group == g && instance == k {
                        self.vars[s].mirror = Some(id);
                    }
                }
            }
        }
        self.by_xpath.entry(xpath).or_default().push(id);
        self.vars.push(var);
        self.nodes[n].vars.push(id);
        id
    }

    pub(super) fn child_of(&self, v: &Var) -> Option<usize> {
        match v.role {
            Role::Plain => None,
            Role::Host { group, instance }
            | Role::Arg { group, instance }
            | Role::Ret { group, instance } => self.nodes[v.node]
                .groups
                .get(group)
                .and_then(|g| g.children.get(instance))
                .copied(),
        }
    }

    /// Whether the user must give this variable's value.
    pub(crate) fn askable(&self, v: usize) -> bool {
        let var = &self.vars[v];
        if var.forced {
            return true;
        }
        if var.auto.is_some() {
            return false;
        }
        match var.role {
            Role::Plain | Role::Host { .. } => true,
            Role::Arg { .. } => var.mirror.is_none(),
            Role::Ret { .. } => !self
                .child_of(var)
                .is_some_and(|c| self.nodes[c].manage && self.nodes[c].call),
        }
    }

    /// The value proposed for `v`: the value of the variable it is linked to (its
    /// `from_xpath`, or a same-named one), else its default.
    pub(super) fn suggestion(&self, v: usize) -> Option<Value> {
        self.suggestion_along(v, &mut Vec::new())
    }

    // `from_xpath` links may loop: a variable met again on the way proposes nothing, so the
    // one linked to it proposes its own default.
    fn suggestion_along(&self, v: usize, path: &mut Vec<usize>) -> Option<Value> {
        path.push(v);
        let var = &self.vars[v];
        let linked = match var.info.from_xpath.as_deref() {
            Some(x) if matches!(var.role, Role::Plain) && var.auto.is_none() => self
                .by_xpath
                .get(x)
                .and_then(|found| found.iter().copied().find(|&f| f != v)),
            _ => var.suggest,
        };
        linked
            .filter(|s| !path.contains(s))
            .and_then(|s| {
                self.vars[s]
                    .answer
                    .clone()
                    .or_else(|| self.vars[s].auto.clone())
                    .or_else(|| self.suggestion_along(s, path))
            })
            .or_else(|| var.info.default.clone())
    }

    /// Whether `v` takes its value from a secret, along `from_xpath` links and suggestions
    /// (such a value is as secret as the variable it comes from).
    fn secret_along(&self, v: usize) -> bool {
        let mut path = vec![v];
        let mut at = v;
        loop {
            let var = &self.vars[at];
            if var.info.secret {
                return true;
            }
            let linked = match var.info.from_xpath.as_deref() {
                Some(x) if matches!(var.role, Role::Plain) && var.auto.is_none() => self
                    .by_xpath
                    .get(x)
                    .and_then(|found| found.iter().copied().find(|&f| f != at)),
                _ => var.suggest,
            };
            match linked.filter(|l| !path.contains(l)) {
                Some(l) => {
                    path.push(l);
                    at = l;
                }
                None => return false,
            }
        }
    }

    pub(super) fn ask_value(&mut self, v: usize) -> Result<(), Error> {
        if self.secret_along(v) {
            self.vars[v].info.secret = true;
        }
        let var = &self.vars[v];
        let node = &self.nodes[var.node];
        let suggestion = if var.error.is_some() {
            var.answer.clone().or_else(|| self.suggestion(v))
        } else {
            self.suggestion(v)
        };
        // One variable per value set of its require: their number is the number of sets.
        let sets = node
            .vars
            .iter()
            .filter(|&&o| self.vars[o].xpath == var.xpath)
            .count();
        let q = Question::Value {
            node: node.id.clone(),
            depth: node.depth,
            variable: VariableQuestion {
                xpath: var.xpath.clone(),
                index: var.set,
                sets,
                name: var.info.name.clone(),
                label: var.info.label().to_owned(),
                help: var
                    .info
                    .extra
                    .get("help")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                ty: var.info.ty.clone(),
                required: var.info.required,
                choices: var.info.choices.clone(),
                suggestion,
                error: var.error.clone(),
                secret: var.info.secret,
            },
        };
        loop {
            match self.fe.ask(&q)? {
                Answer::Value(value) => {
                    // Recorded at once, so an aborted deployment keeps what was typed.
                    let var = &self.vars[v];
                    let key = self.nodes[var.node].key(&var.xpath);
                    let set = var.set;
                    let secret = var.info.secret;
                    if !value.is_null() {
                        self.record_variable(false, key, set, value.clone());
                        if secret {
                            self.record_secret(
                                &self.nodes[self.vars[v].node].key(&self.vars[v].xpath),
                            );
                        }
                    }
                    self.vars[v].answer = Some(value);
                    return Ok(());
                }
                other => self
                    .fe
                    .notify(&Event::Notice(format!("expected a value, not {other}"))),
            }
        }
    }

    pub(super) fn validate(&mut self, n: usize) -> Result<(), Error> {
        let id = self.nodes[n].id.clone();
        let vars = self.nodes[n].vars.clone();
        let mut first = true;
        loop {
            for &v in &vars {
                if !self.askable(v)
                    || (self.vars[v].answer.is_some() && self.vars[v].error.is_none())
                {
                    continue;
                }
                if first {
                    let (xpath, set) = (self.vars[v].xpath.clone(), self.vars[v].set);
                    if let Some(sets) = self.replay.as_mut().and_then(|r| r.variable(&id, &xpath)) {
                        if let Some(value) = sets.get(&set.to_string()) {
                            self.vars[v].answer = Some(value.clone());
                            continue;
                        }
                    }
                }
                self.ask_value(v)?;
            }
            first = false;
            let location = self.nodes[n].location.clone().unwrap_or_default();
            let xpath = self.nodes[n].xpath.clone().unwrap_or_default();
            let values = self.values(&vars);
            let result = self
                .agent(&location)?
                .provide_call_validate(&xpath, &values, 0)
                .map_err(|source| Error::Agent {
                    location: location.clone(),
                    source,
                })?;
            for &v in &vars {
                self.vars[v].error = None;
            }
            let mut unfixable = Vec::new();
            for e in result.error_list() {
                let rel = relative(&e.xpath);
                if self.nodes[n]
                    .ignored
                    .iter()
                    .any(|p| rel.starts_with(&format!("{p}/")))
                {
                    continue;
                }
                let found = vars
                    .iter()
                    .copied()
                    .find(|&v| self.vars[v].xpath == rel && self.vars[v].set == e.index);
                match found {
                    // Returned values only exist once the child ran: checked when called.
                    Some(v)
                        if matches!(self.vars[v].role, Role::Ret { .. }) && !self.askable(v) => {}
                    Some(v) => {
                        if !self.askable(v) {
                            self.vars[v].forced = true;
                        }
                        self.vars[v].error = Some(e.message.clone());
                    }
                    None => unfixable.push(format!("{rel}: {}", e.message)),
                }
            }
            if !unfixable.is_empty() {
                return Err(Error::Refused {
                    location,
                    xpath,
                    errors: unfixable.join("; "),
                });
            }
            if vars.iter().all(|&v| self.vars[v].error.is_none()) {
                break;
            }
        }
        self.record_values(n);
        Ok(())
    }

    /// The values of `vars` known now, as sent to agents.
    pub(crate) fn values(&self, vars: &[usize]) -> Values {
        values_of(&self.nodes, &self.vars, vars)
    }

    pub(super) fn record_location(&mut self, key: Key, location: String) {
        match self.record_index.get(&(0, key.clone())) {
            Some(&i) => self.record.lfm[i].1 = location,
            None => {
                self.record_index
                    .insert((0, key.clone()), self.record.lfm.len());
                self.record.lfm.push((key, location));
            }
        }
    }

    /// Adds a value to the `variables` (or `variables_host`) section, merging value sets.
    pub(super) fn record_variable(&mut self, host: bool, key: Key, set: usize, value: Value) {
        let kind = if host { 2 } else { 1 };
        let section = if host {
            &mut self.record.variables_host
        } else {
            &mut self.record.variables
        };
        match self.record_index.get(&(kind, key.clone())) {
            Some(&i) => {
                section[i].1.insert(set.to_string(), value);
            }
            None => {
                self.record_index.insert((kind, key.clone()), section.len());
                section.push((
                    key,
                    std::collections::BTreeMap::from([(set.to_string(), value)]),
                ));
            }
        }
    }

    /// Marks the value recorded under `key` as a secret (kept only with `--save-secrets`).
    pub(super) fn record_secret(&mut self, key: &Key) {
        if !self.record.secrets.contains(key) {
            self.record.secrets.push(key.clone());
        }
    }

    pub(super) fn record_values(&mut self, n: usize) {
        for &v in &self.nodes[n].vars.clone() {
            let var = &self.vars[v];
            let key = self.nodes[n].key(&var.xpath);
            if matches!(var.role, Role::Ret { .. }) && !self.askable(v) {
                if let Some(c) = self.child_of(var) {
                    let child = &self.nodes[c];
                    let from = format!(
                        "{}/{}/return/{}",
                        child.id,
                        child.xpath.clone().unwrap_or_default(),
                        var.info.name
                    );
                    self.record.provide_ret.push((key, from));
                }
                continue;
            }
            let Some(value) = effective(&self.nodes, &self.vars, v) else {
                continue;
            };
            let host_type = matches!(
                var.info.ty.as_str(),
                "armonic_host" | "host" | "armonic_this_host" | "armonic_hosts"
            );
            let set = var.set;
            // Besides answers, an argument that takes its dependency's value is recorded too:
            // a replay where that dependency is not managed asks for it.
            let host = host_type && !self.askable(v);
            if var.info.secret {
                self.record_secret(&key);
            }
            self.record_variable(host, key, set, value);
        }
    }
}

/// The value of a variable as it stands: answered, known by the engine, taken from the child
/// it is passed to, or returned by it.
pub(crate) fn effective(nodes: &[Node], vars: &[Var], v: usize) -> Option<Value> {
    let var = &vars[v];
    var.answer
        .clone()
        .or_else(|| var.auto.clone())
        .or_else(|| {
            var.mirror
                .filter(|&m| nodes[vars[m].node].manage)
                .and_then(|m| effective(nodes, vars, m))
        })
        .or_else(|| var.returned.clone())
        .filter(|value| !value.is_null())
}

pub(crate) fn values_of(nodes: &[Node], vars: &[Var], ids: &[usize]) -> Values {
    let mut out = Values::new();
    for &v in ids {
        if let Some(value) = effective(nodes, vars, v) {
            out = out.set_at(vars[v].xpath.clone(), vars[v].set, value);
        }
    }
    out
}
