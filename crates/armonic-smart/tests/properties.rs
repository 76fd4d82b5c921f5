//! Properties of plans over random lifecycle dependency graphs: the plan is acyclic, every
//! step runs after the steps it depends on, and replaying the record reproduces the plan.

mod common;

use std::collections::HashMap;

use armonic_lifecycle::MemorySink;
use armonic_smart::{Autofill, Event, Options, resolve};
use proptest::prelude::*;

/// Lifecycle `i` depends on some of the lifecycles before it: (index, external, nargs "*").
type Graph = Vec<Vec<(usize, bool, bool)>>;

fn graphs() -> impl Strategy<Value = Graph> {
    (2usize..6).prop_flat_map(|n| {
        let per_lifecycle: Vec<_> = (0..n)
            .map(|i| {
                proptest::collection::vec((0..i.max(1), any::<bool>(), any::<bool>()), 0..=i.min(3))
            })
            .collect();
        per_lifecycle.prop_map(|deps| {
            deps.into_iter()
                .enumerate()
                .map(|(i, d)| {
                    let mut seen = Vec::new();
                    d.into_iter()
                        .filter(|(j, _, _)| {
                            *j < i && !seen.contains(j) && {
                                seen.push(*j);
                                true
                            }
                        })
                        .collect()
                })
                .collect()
        })
    })
}

fn lifecycle(i: usize, deps: &[(usize, bool, bool)]) -> String {
    let mut s = format!(
        "name = \"L{i}\"\ninitial = \"Off\"\ntransitions = [[\"Off\", \"On\"]]\n[states.Off]\n\
         [states.On.enter.requires.conf.variables]\nn = {{ type = \"int\", default = {i} }}\n\
         [states.On.provides.start]\nreturn = {{ v = \"L{i}\" }}\n"
    );
    for (j, external, many) in deps {
        let kind = if *external { "external" } else { "local" };
        let nargs = if *many { "*" } else { "1" };
        s.push_str(&format!(
            "[states.On.provides.start.requires.d{j}]\ntype = \"{kind}\"\nxpath = \"//L{j}//start\"\nnargs = \"{nargs}\"\nprovide_ret.v = {{ type = \"str\" }}\n"
        ));
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn plans_are_acyclic_ordered_and_replayable(graph in graphs()) {
        let dir = tempfile::tempdir().unwrap();
        for (i, deps) in graph.iter().enumerate() {
            std::fs::write(dir.path().join(format!("l{i}.toml")), lifecycle(i, deps)).unwrap();
        }
        let root = format!("//L{}//start", graph.len() - 1);
        let logs = MemorySink::new();
        let mesh = common::mesh_of(dir.path().to_str().unwrap(), &["a", "b", "c"], &logs);
        let mut fe = Autofill::default();
        let mut plan = resolve(&mesh, &root, &mut fe, &Options::default()).unwrap();
        prop_assert!(plan.is_acyclic());
        let steps = plan.steps();
        let topo = plan.topological_order();
        let position: HashMap<&str, usize> = topo.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
        for s in &steps {
            for dep in &s.after {
                prop_assert!(position[dep.as_str()] < position[s.node.as_str()]);
            }
            // A node's children (ids extending its own) run before it.
            for other in &steps {
                if other.node.starts_with(&format!("{}_", s.node)) {
                    prop_assert!(position[other.node.as_str()] < position[s.node.as_str()]);
                }
            }
        }

        let outcome = plan.execute(&mesh, &mut fe, 3);
        prop_assert!(outcome.succeeded, "{:?}", outcome);
        let mut done: Vec<String> = Vec::new();
        for e in &fe.events {
            match e {
                Event::StepStarted { node, .. } => {
                    let step = steps.iter().find(|s| s.node == *node).unwrap();
                    for dep in &step.after {
                        prop_assert!(done.contains(dep), "{} started before {} finished", node, dep);
                    }
                }
                Event::StepDone { node, .. } => done.push(node.clone()),
                _ => {}
            }
        }

        let mesh2 = common::mesh_of(dir.path().to_str().unwrap(), &["a", "b", "c"], &logs);
        let mut silent = common::Script::new(vec![]);
        let options = Options { replay: Some(plan.record.clone()), ..Options::default() };
        let plan2 = resolve(&mesh2, &root, &mut silent, &options).unwrap();
        prop_assert_eq!(plan2.steps(), steps);
    }
}
