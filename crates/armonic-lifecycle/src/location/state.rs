//! Saving and restoring the state of lifecycles.

use std::collections::HashMap;

use super::Instance;
use crate::persist::{FORMAT, StateFile};

impl Instance {
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
        Ok(())
    }
}
