//! Benchmark: resolve and plan a synthetic deployment of 1,000 provide calls over 100
//! locations (and 10,000 over 100), with every answer given.
//!
//! `cargo bench -p armonic-smart` prints the figures. Target: under 50 ms for 1,000 calls,
//! and 10,000 calls within 12 times that.
//!
//! Then many lifecycles on one location: a binary tree of lifecycles, each `start` requiring
//! its two children's `start` and returning what the left one returned, deployed unattended
//! (resolve, plan and run with no-op actions). Targets: 1,023 calls under 100 ms, 16,383
//! under 2 s.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use armonic_lifecycle::{Config, Location, OsType, format};
use armonic_smart::{
    Abort, Answer, Autofill, Embedded, Event, Frontend, Options, Question, resolve,
};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const LEAVES: usize = 9;

fn lifecycles() -> Vec<armonic_lifecycle::LifecycleDef> {
    let mut texts = vec![format!(
        "name = \"Root\"\ninitial = \"Off\"\ntransitions = [[\"Off\", \"On\"]]\n[states.Off]\n\
         [states.On.provides.start]\n[states.On.provides.start.requires.mids]\ntype = \"external\"\n\
         xpath = \"//Mid//start\"\nnargs = \"*\"\nprovide_ret.v = {{ type = \"str\" }}\n"
    )];
    let mut mid = String::from(
        "name = \"Mid\"\ninitial = \"Off\"\ntransitions = [[\"Off\", \"On\"]]\n[states.Off]\n\
         [states.On.enter.requires.conf.variables]\nport = { type = \"port\", default = 80 }\n\
         [states.On.provides.start]\nreturn = { v = \"mid\" }\n",
    );
    for i in 0..LEAVES {
        mid.push_str(&format!(
            "[states.On.provides.start.requires.leaf{i}]\ntype = \"local\"\nxpath = \"//Leaf{i}//start\"\n\
             provide_args.path = {{ type = \"str\", default = \"/srv/{i}\" }}\n"
        ));
        texts.push(format!(
            "name = \"Leaf{i}\"\ninitial = \"Off\"\ntransitions = [[\"Off\", \"Conf\"], [\"Conf\", \"On\"]]\n[states.Off]\n\
             [states.Conf.enter.requires.conf.variables]\nhost = {{ type = \"host\", default = \"localhost\" }}\n\
             [states.On.provides.start.requires.target.variables]\npath = {{ type = \"str\" }}\n"
        ));
    }
    texts.push(mid);
    texts
        .iter()
        .map(|t| format::parse(t, Path::new("bench.toml")).expect("valid lifecycle"))
        .collect()
}

fn mesh(locations: usize) -> Embedded {
    let defs = lifecycles();
    Embedded::new(
        (0..locations)
            .map(|i| {
                let config = Config {
                    name: format!("loc{i}"),
                    os: OsType::all(),
                    public_ip: format!("10.0.{}.{}", i / 250, i % 250 + 1),
                    ..Config::default()
                };
                Location::builder(config)
                    .sink(Arc::new(armonic_lifecycle::MemorySink::new()))
                    .build(defs.clone())
                    .expect("location")
            })
            .collect(),
    )
    .expect("journals in memory open")
}

/// Answers: the root on loc0, `mids` Mid instances spread over every location, the rest by
/// suggestion.
struct Given {
    mids: usize,
    locations: Vec<String>,
}

impl Frontend for Given {
    fn ask(&mut self, q: &Question) -> Result<Answer, Abort> {
        match q {
            Question::Location { .. } => Ok(Answer::Location(self.locations[0].clone())),
            Question::Multiplicity { .. } => Ok(Answer::Locations(
                (0..self.mids)
                    .map(|i| self.locations[i % self.locations.len()].clone())
                    .collect(),
            )),
            other => other.suggested().ok_or_else(|| Abort("no answer".into())),
        }
    }
    fn notify(&mut self, _: &Event) {}
}

fn bench(c: &mut Criterion) {
    use armonic_smart::Mesh;
    let m = mesh(100);
    let locations = m.locations();
    for (mids, name) in [
        (100, "resolve and plan 1,000 calls over 100 locations"),
        (1000, "resolve and plan 10,000 calls over 100 locations"),
    ] {
        let mut group = c.benchmark_group("resolve");
        group.sample_size(10);
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut fe = Given {
                    mids,
                    locations: locations.clone(),
                };
                let plan =
                    resolve(&m, "//Root//start", &mut fe, &Options::default()).expect("resolves");
                assert_eq!(plan.steps().len(), 1 + mids * (1 + LEAVES));
                black_box(plan)
            })
        });
        group.finish();
    }
}

/// Lifecycle `N_i` of a binary tree of `n` lifecycles: `start` requires, on the same
/// location, the `start` of `N_{2i+1}` and `N_{2i+2}` and returns what the left one returned;
/// a leaf returns its own name.
fn tree_lifecycles(n: usize) -> Vec<armonic_lifecycle::LifecycleDef> {
    (0..n)
        .map(|i| {
            let mut text = format!(
                "name = \"N_{i}\"\ninitial = \"Off\"\ntransitions = [[\"Off\", \"On\"]]\n[states.Off]\n\
                 [states.On.provides.start]\n"
            );
            let (left, right) = (2 * i + 1, 2 * i + 2);
            if right < n {
                text.push_str("return = { v = \"{{ left.v }}\" }\n");
                for (name, child) in [("left", left), ("right", right)] {
                    text.push_str(&format!(
                        "[states.On.provides.start.requires.{name}]\ntype = \"local\"\n\
                         xpath = \"//N_{child}//start\"\nprovide_ret.v = {{ type = \"str\" }}\n"
                    ));
                }
            } else {
                text.push_str(&format!("return = {{ v = \"leaf {i}\" }}\n"));
            }
            format::parse(&text, Path::new("tree.toml")).expect("valid lifecycle")
        })
        .collect()
}

fn tree(c: &mut Criterion) {
    let mut group = c.benchmark_group("tree");
    group.sample_size(10);
    for n in [1023, 16383] {
        let defs = tree_lifecycles(n);
        // What the leftmost leaf returns flows up to the root.
        let expected = format!(r#"{{"v":"leaf {}"}}"#, (n - 1) / 2);
        group.bench_function(
            format!("deploy a tree of {n} calls on one location (resolve, plan, run)"),
            |b| {
                b.iter_batched(
                    || {
                        let config = Config {
                            name: "here".into(),
                            os: OsType::all(),
                            ..Config::default()
                        };
                        Embedded::new(vec![
                            Location::builder(config)
                                .sink(Arc::new(armonic_lifecycle::MemorySink::new()))
                                .build(defs.clone())
                                .expect("location"),
                        ])
                        .expect("a journal in memory opens")
                    },
                    |mesh| {
                        let mut fe = Autofill::default();
                        let mut plan = resolve(&mesh, "//N_0//start", &mut fe, &Options::default())
                            .expect("resolves");
                        assert_eq!(plan.steps().len(), n);
                        let outcome = plan.execute(&mesh, &mut fe, 4);
                        assert!(outcome.succeeded);
                        let result = outcome.result.as_ref().map(ToString::to_string);
                        assert_eq!(result.as_deref(), Some(expected.as_str()));
                        black_box(outcome);
                        mesh
                    },
                    BatchSize::PerIteration,
                )
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench, tree);
criterion_main!(benches);
