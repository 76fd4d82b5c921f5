//! Saving and restoring the state of lifecycles, and what a crash left in progress.

use std::collections::HashMap;

use super::Instance;
use crate::persist::{FORMAT, InProgress, StateFile};
use crate::value::Value;

impl Instance {
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
                        stack.entered.get(s)?.clone(),
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
        let mut state = self.write();
        state.states = stack;
        state.entered = entered;
        Ok(())
    }
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
