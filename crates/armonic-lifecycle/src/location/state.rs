//! Where a lifecycle stands: entering and leaving states, saving and restoring, and what a
//! crash left in progress.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use super::call::require_value;
use super::{Instance, Stack};
use crate::info::PathMove;
use crate::model::LifecycleDef;
use crate::paths::Path;
use crate::persist::{FORMAT, InProgress, StateFile};
use crate::value::Value;
use crate::values::ProvideValues;

impl Stack {
    /// State `s` of `def` is entered with `values`.
    pub(super) fn push(&mut self, def: &LifecycleDef, s: usize, values: ProvideValues) {
        let entry = state_context(def, s, Some(&values));
        self.states.push(s);
        self.entered.insert(s, values);
        // Actions are over: nothing else holds the map, which is then changed in place.
        Arc::make_mut(&mut self.context).insert(def.states[s].name.clone(), entry);
    }

    /// State `s` of `def` is left: popped when on top, and its values forgotten.
    pub(super) fn leave(&mut self, def: &LifecycleDef, s: usize) {
        let name = &def.states[s].name;
        if self.states.last() == Some(&s) {
            self.states.pop();
            Arc::make_mut(&mut self.context).remove(name);
        } else if self.states.contains(&s) {
            let entry = state_context(def, s, None);
            Arc::make_mut(&mut self.context).insert(name.clone(), entry);
        }
        self.entered.remove(&s);
    }
}

/// What templates see of entered state `s`: each enter require with its values.
fn state_context(def: &LifecycleDef, s: usize, values: Option<&ProvideValues>) -> Value {
    let mut m = BTreeMap::new();
    for req in &def.states[s].enter.requires {
        let sets = values
            .and_then(|v| v.get(&req.name))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        m.insert(req.name.clone(), require_value(req, sets));
    }
    Value::Map(m)
}

impl Instance {
    /// `def` with nothing entered.
    pub(super) fn new(def: LifecycleDef) -> Instance {
        Instance {
            state_names: def
                .states
                .iter()
                .map(|s| Arc::from(s.name.as_str()))
                .collect(),
            def: Arc::new(def),
            changing: Mutex::new(()),
            state: RwLock::new(Stack::default()),
        }
    }

    /// `path` with state names.
    pub(super) fn named(&self, path: Path) -> Vec<PathMove> {
        path.into_iter()
            .map(|s| PathMove {
                state: Arc::clone(&self.state_names[s.state]),
                action: s.action,
            })
            .collect()
    }

    /// The state file of this lifecycle, with `in_progress` as the step running.
    pub(super) fn to_file(&self, in_progress: Option<&InProgress>) -> StateFile {
        let stack = self.read();
        StateFile {
            format: FORMAT,
            lifecycle: self.def.name.clone(),
            stack: stack
                .states
                .iter()
                .map(|&s| self.def.states[s].name.clone())
                .collect(),
            entered: stack
                .states
                .iter()
                .filter_map(|s| {
                    Some((
                        self.def.states[*s].name.clone(),
                        without_secrets(&self.def.states[*s], stack.entered.get(s)?),
                    ))
                })
                .filter(|(_, v)| !v.is_empty())
                .collect(),
            in_progress: in_progress.cloned(),
        }
    }

    /// Takes the stack and values of `sf`, after checking that they fit the lifecycle: a
    /// stack the engine could have built (the initial state first, then successors, each
    /// state once), values of existing variables of entered states, of their type.
    pub(super) fn restore(&self, sf: StateFile) -> Result<(), String> {
        let def = &self.def;
        let mut stack = Vec::with_capacity(sf.stack.len());
        for name in &sf.stack {
            let s = def
                .state_index(name)
                .ok_or_else(|| format!("saved stack names unknown state {name}"))?;
            if stack.contains(&s) {
                return Err(format!("saved stack holds state {name} twice"));
            }
            if let Some(&below) = stack.last() {
                if !def.successors(below).contains(&s) {
                    return Err(format!(
                        "saved stack goes from {} to {name}, which no transition allows",
                        def.states[below].name
                    ));
                }
            } else if s != def.initial {
                return Err(format!(
                    "saved stack starts at {name}, not at the initial state {}",
                    def.states[def.initial].name
                ));
            }
            stack.push(s);
        }
        if stack.is_empty() {
            return Err("saved stack is empty".into());
        }
        let mut entered = HashMap::new();
        for (name, values) in sf.entered {
            let s = match def.state_index(&name) {
                Some(s) if stack.contains(&s) => s,
                _ => {
                    return Err(format!(
                        "saved values belong to state {name}, which is not entered"
                    ));
                }
            };
            let enter = &def.states[s].enter;
            for (req_name, sets) in &values {
                let req = enter.require(req_name).ok_or_else(|| {
                    format!("saved values of {name} name require {req_name}, which its enter does not have")
                })?;
                if sets.len() > req.nargs.max() as usize {
                    return Err(format!(
                        "saved values of {name} have {} sets of {req_name} (nargs {})",
                        sets.len(),
                        req.nargs
                    ));
                }
                for set in sets {
                    for (var_name, value) in set {
                        let var = req.variable(var_name).ok_or_else(|| {
                            format!("saved values of {name} name variable {req_name}/{var_name}, which does not exist")
                        })?;
                        if !matches!(value, Value::Null) {
                            var.check(value).map_err(|e| {
                                format!(
                                    "saved value of {name} {req_name}/{var_name} does not fit: {e}"
                                )
                            })?;
                        }
                    }
                }
            }
            entered.insert(s, values);
        }
        if let Some(p) = &sf.in_progress {
            if def.state_index(&p.state).is_none() {
                return Err(format!(
                    "the step in progress names unknown state {}",
                    p.state
                ));
            }
        }
        let context = stack
            .iter()
            .map(|&s| {
                (
                    def.states[s].name.clone(),
                    state_context(def, s, entered.get(&s)),
                )
            })
            .collect();
        let mut state = self.write();
        state.states = stack;
        state.entered = entered;
        state.context = Arc::new(context);
        Ok(())
    }
}

/// `values` without the values of secret variables, which are never written: a state
/// entered with a secret keeps it in memory only, and after a restart a template reading it
/// fails as reading any unknown name does (the state is entered again to give it again).
fn without_secrets(state: &crate::model::StateDef, values: &ProvideValues) -> ProvideValues {
    values
        .iter()
        .map(|(req_name, sets)| {
            let secret = |var: &str| {
                state
                    .enter
                    .require(req_name)
                    .and_then(|r| r.variable(var))
                    .is_some_and(|v| v.secret)
            };
            let sets = sets
                .iter()
                .map(|set| {
                    set.iter()
                        .filter(|(var, _)| !secret(var))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .collect();
            (req_name.clone(), sets)
        })
        .collect()
}

/// What to say of a step a previous process left in progress.
pub(super) fn interrupted_message(lifecycle: &str, p: &InProgress) -> String {
    format!(
        "{lifecycle} was interrupted while {} at {}; the step may have partly run",
        p.describe(),
        crate::persist::format_time(p.since)
    )
}

/// What to say of such a step whose commands still run.
pub(super) fn still_running_message(lifecycle: &str, p: &InProgress, pgid: u32) -> String {
    format!(
        "{lifecycle} was interrupted while {} at {} and its command still runs as process \
         group {pgid}: state changes of {lifecycle} are refused until it ends \
         (to stop it: kill -- -{pgid})",
        p.describe(),
        crate::persist::format_time(p.since)
    )
}
