//! Path search: how to go from the current state to another one.
//!
//! A path is a list of moves, each entering or leaving one state. Three cases, tried in order:
//!
//! 1. **Rewind**: the target is in the stack and the search starts at the current state: leave
//!    every state above the target (the target being current gives one empty path).
//! 2. **Forward**: every path following allowed transitions from the start to the target, each
//!    state at most once, in depth-first order of the transitions as declared (so `path_idx`
//!    is deterministic). Cycles are safe.
//! 3. **Leave, then enter another branch**: starting at the current state with no forward path,
//!    leave states from the top of the stack until a state from which the target is reachable.
//!
//! A transition is allowed when both of its states support the location's OS. At most
//! [`MAX_PATHS`] paths are listed.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::model::LifecycleDef;
use crate::os::OsType;

/// Most paths returned by one search.
pub const MAX_PATHS: usize = 16;

/// Entering or leaving a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Move {
    /// Run the state's enter provide and push it.
    Enter,
    /// Run the state's leave action and pop it.
    Leave,
}

/// One move of a path: a state index and what to do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathStep {
    /// Index of the state in [`LifecycleDef::states`].
    pub state: usize,
    /// Enter or leave.
    pub action: Move,
}

/// A sequence of moves.
pub type Path = Vec<PathStep>;

/// The search context: a lifecycle, the location's OS and the current stack.
pub struct Search<'a> {
    def: &'a LifecycleDef,
    os: &'a OsType,
    stack: &'a [usize],
}

impl<'a> Search<'a> {
    /// A search over `def` on a location running `os`, with `stack` entered.
    pub fn new(def: &'a LifecycleDef, os: &'a OsType, stack: &'a [usize]) -> Search<'a> {
        Search { def, os, stack }
    }

    fn allowed(&self, state: usize) -> bool {
        self.def.states[state].supports(self.os)
    }

    /// All paths from `from` to `to`, at most `limit`.
    pub fn paths(&self, from: usize, to: usize, limit: usize) -> Vec<Path> {
        let current = self.stack.last().copied();
        if current == Some(from) {
            if let Some(pos) = self.stack.iter().position(|&s| s == to) {
                return vec![self.leaves(pos)];
            }
        }
        let forward = self.forward(from, to, current == Some(from), limit);
        if !forward.is_empty() || current != Some(from) {
            return forward;
        }
        // Leave states from the top until one from which the target can be entered.
        for pivot in (0..self.stack.len().saturating_sub(1)).rev() {
            let tails = self.forward_avoiding(self.stack[pivot], to, &self.stack[..=pivot], limit);
            if !tails.is_empty() {
                let leaves = self.leaves(pivot);
                return tails
                    .into_iter()
                    .map(|tail| leaves.iter().copied().chain(tail).collect())
                    .collect();
            }
        }
        Vec::new()
    }

    /// Leave every state of the stack above position `keep`.
    fn leaves(&self, keep: usize) -> Path {
        self.stack[keep + 1..]
            .iter()
            .rev()
            .map(|&state| PathStep {
                state,
                action: Move::Leave,
            })
            .collect()
    }

    fn forward(&self, from: usize, to: usize, from_current: bool, limit: usize) -> Vec<Path> {
        let avoid: &[usize] = if from_current {
            self.stack
        } else {
            std::slice::from_ref(&from)
        };
        self.forward_avoiding(from, to, avoid, limit)
    }

    /// Depth-first enumeration of simple paths from `from` to `to`, never entering a state of
    /// `avoid`, pruned to the states from which `to` is reachable.
    fn forward_avoiding(&self, from: usize, to: usize, avoid: &[usize], limit: usize) -> Vec<Path> {
        let n = self.def.states.len();
        if !self.allowed(from) || !self.allowed(to) {
            return Vec::new();
        }
        let useful = self.reaching(to);
        if !useful[from] {
            return Vec::new();
        }
        let mut on_path = vec![false; n];
        for &s in avoid {
            on_path[s] = true;
        }
        on_path[from] = true;
        let mut paths = Vec::new();
        let mut path: Vec<usize> = Vec::new();
        // Each frame: a state and the index of its next successor to try.
        let mut frames: Vec<(usize, usize)> = vec![(from, 0)];
        while let Some(frame) = frames.last_mut() {
            let (state, next) = *frame;
            let succ = self.def.successors(state);
            if next >= succ.len() {
                frames.pop();
                if let Some(s) = path.pop() {
                    on_path[s] = false;
                }
                continue;
            }
            frame.1 += 1;
            let dst = succ[next];
            if on_path[dst] || !useful[dst] || !self.allowed(dst) {
                continue;
            }
            if dst == to {
                let mut found: Path = path
                    .iter()
                    .map(|&state| PathStep {
                        state,
                        action: Move::Enter,
                    })
                    .collect();
                found.push(PathStep {
                    state: to,
                    action: Move::Enter,
                });
                paths.push(found);
                if paths.len() >= limit {
                    break;
                }
                continue;
            }
            on_path[dst] = true;
            path.push(dst);
            frames.push((dst, 0));
        }
        paths
    }

    /// Which states can reach `to` through allowed transitions (breadth-first, backwards).
    fn reaching(&self, to: usize) -> Vec<bool> {
        let n = self.def.states.len();
        let mut seen = vec![false; n];
        seen[to] = true;
        let mut queue = VecDeque::from([to]);
        while let Some(s) = queue.pop_front() {
            if !self.allowed(s) {
                continue;
            }
            for &p in self.def.predecessors(s) {
                if !seen[p] {
                    seen[p] = true;
                    queue.push_back(p);
                }
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StateDef;

    fn lf(states: &[&str], transitions: &[(&str, &str)]) -> LifecycleDef {
        LifecycleDef::new(
            "T",
            states.iter().map(|s| StateDef::new(*s)).collect(),
            transitions,
            states[0],
        )
        .unwrap()
    }

    fn names(def: &LifecycleDef, paths: &[Path]) -> Vec<Vec<String>> {
        paths
            .iter()
            .map(|p| {
                p.iter()
                    .map(|s| {
                        let m = if s.action == Move::Enter { "" } else { "-" };
                        format!("{m}{}", def.states[s.state].name)
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn cyclic_graphs_terminate() {
        let def = lf(
            &["a", "b", "c", "z"],
            &[("a", "b"), ("b", "c"), ("c", "a"), ("c", "b")],
        );
        let os = OsType::all();
        let s = Search::new(&def, &os, &[0]);
        assert!(s.paths(0, 3, MAX_PATHS).is_empty());
        assert_eq!(names(&def, &s.paths(0, 2, MAX_PATHS)), vec![vec!["b", "c"]]);
    }

    #[test]
    fn leaves_states_to_enter_a_sibling_branch() {
        let def = lf(&["A", "B", "D"], &[("A", "B"), ("A", "D")]);
        let os = OsType::all();
        let s = Search::new(&def, &os, &[0, 1]);
        assert_eq!(
            names(&def, &s.paths(1, 2, MAX_PATHS)),
            vec![vec!["-B", "D"]]
        );
    }

    #[test]
    fn long_chains_do_not_overflow_the_stack() {
        let n = 20_000;
        let names_: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
        let states = names_.iter().map(|s| StateDef::new(s.clone())).collect();
        let t: Vec<(&str, &str)> = (1..n)
            .map(|i| (names_[i - 1].as_str(), names_[i].as_str()))
            .collect();
        let def = LifecycleDef::new("T", states, &t, "s0").unwrap();
        let os = OsType::all();
        let paths = Search::new(&def, &os, &[0]).paths(0, n - 1, MAX_PATHS);
        assert_eq!(paths.len(), 1);
        assert_eq!(paths[0].len(), n - 1);
    }
}
