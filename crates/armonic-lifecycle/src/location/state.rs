//! Where a lifecycle stands: entering and leaving states, saving and restoring.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::Instance;
use super::call::require_value;
use crate::info::PathMove;
use crate::model::LifecycleDef;
use crate::paths::Path;
use crate::persist::{FORMAT, StateFile};
use crate::value::Value;
use crate::values::ProvideValues;

impl Instance {
    /// `def` with nothing entered.
    pub(super) fn new(def: Arc<LifecycleDef>) -> Instance {
        Instance {
            state_names: def
                .states
                .iter()
                .map(|s| Arc::from(s.name.as_str()))
                .collect(),
            def,
            stack: Vec::new(),
            entered: HashMap::new(),
            states: Arc::default(),
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

    /// State `s` is entered with `values`.
    pub(super) fn push(&mut self, s: usize, values: ProvideValues) {
        self.stack.push(s);
        self.entered.insert(s, values);
        let entry = self.state_context(s);
        // Actions are over: nothing else holds the map, which is then changed in place.
        Arc::make_mut(&mut self.states).insert(self.def.states[s].name.clone(), entry);
    }

    /// State `s` is left: popped when on top, and its values forgotten.
    pub(super) fn leave(&mut self, s: usize) {
        let name = &self.def.states[s].name;
        if self.stack.last() == Some(&s) {
            self.stack.pop();
            Arc::make_mut(&mut self.states).remove(name);
        } else if self.stack.contains(&s) {
            let entry = state_context(&self.def, s, None);
            Arc::make_mut(&mut self.states).insert(name.clone(), entry);
        }
        self.entered.remove(&s);
    }

    /// What templates see of entered state `s`: each enter require with its values.
    fn state_context(&self, s: usize) -> Value {
        state_context(&self.def, s, self.entered.get(&s))
    }

    pub(super) fn to_file(&self) -> StateFile {
        StateFile {
            format: FORMAT,
            lifecycle: self.def.name.clone(),
            stack: self
                .stack
                .iter()
                .map(|&s| self.def.states[s].name.clone())
                .collect(),
            entered: self
                .stack
                .iter()
                .filter_map(|s| {
                    Some((
                        self.def.states[*s].name.clone(),
                        self.entered.get(s)?.clone(),
                    ))
                })
                .filter(|(_, v)| !v.is_empty())
                .collect(),
        }
    }

    pub(super) fn restore(&mut self, sf: StateFile) -> Result<(), String> {
        let mut stack = Vec::with_capacity(sf.stack.len());
        for name in &sf.stack {
            let s = self
                .def
                .state_index(name)
                .ok_or_else(|| format!("saved stack names unknown state {name}"))?;
            stack.push(s);
        }
        if stack.is_empty() {
            return Err("saved stack is empty".into());
        }
        let mut entered = HashMap::new();
        for (name, values) in sf.entered {
            match self.def.state_index(&name) {
                Some(s) if stack.contains(&s) => {
                    entered.insert(s, values);
                }
                _ => {
                    return Err(format!(
                        "saved values belong to state {name}, which is not entered"
                    ));
                }
            }
        }
        self.stack = stack;
        self.entered = entered;
        let states = self
            .stack
            .iter()
            .map(|&s| (self.def.states[s].name.clone(), self.state_context(s)))
            .collect();
        self.states = Arc::new(states);
        Ok(())
    }
}

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
