//! Benchmark: resolve and plan a synthetic deployment of 1,000 provide calls over 100
//! locations (and 10,000 over 100), with every answer given.
//!
//! `cargo bench -p armonic-smart` prints the figures. Target: under 50 ms for 1,000 calls,
//! and 10,000 calls within 12 times that.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use armonic_lifecycle::{Config, Location, OsType, format};
use armonic_smart::{Abort, Answer, Embedded, Event, Frontend, Options, Question, resolve};
use criterion::{Criterion, criterion_group, criterion_main};

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

criterion_group!(benches, bench);
criterion_main!(benches);
