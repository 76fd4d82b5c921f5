//! Benchmarks of the engine: loading lifecycle files, path search, and the overhead of a call.
//!
//! `cargo bench -p armonic-lifecycle` prints the figures. Targets: 1,000 files under 200 ms,
//! a file of a chain of 10,000 states under 1 s (loading is linear in the size of a file),
//! path search in 10,000 states under 10 ms, a no-op provide call under 50 µs, `state_goto`
//! along a chain of 10,000 states under 50 ms plus what its actions cost.

use std::hint::black_box;
use std::path::Path;

use armonic_lifecycle::model::{LifecycleDef, StateDef};
use armonic_lifecycle::paths::{MAX_PATHS, Search};
use armonic_lifecycle::{CallOptions, Config, Location, OsType, Values, format, load_dirs};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn lifecycle_file(i: usize) -> String {
    format!(
        r#"name = "Service{i}"
doc = "Generated service {i}"
initial = "NotInstalled"
transitions = [["NotInstalled", "Installed"], ["Installed", "Configured"], ["Configured", "Active"]]
[states.NotInstalled]
[states.Installed]
enter.do = [{{ log = "installing {i}" }}]
[states.Configured.enter]
do = [{{ log = "port {{{{ conf.port }}}}" }}]
[states.Configured.enter.requires.conf.variables]
port = {{ type = "port", default = 80 }}
host = {{ type = "host", default = "localhost" }}
[states.Active.provides.start]
label = "Start"
tags = ["bench"]
return = {{ url = "http://{{{{ location.public_ip }}}}:{{{{ states.Configured.conf.port }}}}" }}
"#
    )
}

fn load_files(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    for i in 0..1000 {
        std::fs::write(
            dir.path().join(format!("service{i:04}.toml")),
            lifecycle_file(i),
        )
        .expect("write");
    }
    c.bench_function("load 1000 lifecycle files", |b| {
        b.iter(|| {
            let catalog = load_dirs(&[dir.path()]);
            assert_eq!(catalog.lifecycles.len(), 1000);
            black_box(catalog)
        })
    });
    c.bench_function(
        "load 1000 lifecycle files and start a location on them",
        |b| {
            b.iter(|| {
                let catalog = load_dirs(&[dir.path()]);
                let config = Config {
                    name: "bench".into(),
                    os: OsType::all(),
                    ..Config::default()
                };
                let sink = std::sync::Arc::new(armonic_lifecycle::MemorySink::new());
                black_box(
                    Location::builder(config)
                        .sink(sink)
                        .build(catalog.lifecycles)
                        .expect("location"),
                )
            })
        },
    );
}

fn big_lifecycle(n: usize) -> LifecycleDef {
    let names: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
    let mut transitions: Vec<(&str, &str)> = Vec::new();
    for i in 1..n {
        transitions.push((&names[i - 1], &names[i]));
        // Shortcuts and dead ends make the search work for its answer.
        if i % 10 == 0 && i + 1 < n {
            transitions.push((&names[i - 1], &names[i + 1]));
        }
        if i % 7 == 0 {
            transitions.push((&names[i], &names[i - 5]));
        }
    }
    let states = names.iter().map(|s| StateDef::new(s.clone())).collect();
    LifecycleDef::new("Big", states, &transitions, "s0").expect("valid lifecycle")
}

fn path_search(c: &mut Criterion) {
    let n = 10_000;
    let def = big_lifecycle(n);
    let os = OsType::all();
    c.bench_function(
        "path search in 10000 states (first path, as a call takes)",
        |b| {
            b.iter(|| {
                let paths = Search::new(&def, &os, &[0]).paths(0, n - 1, 1);
                assert_eq!(paths.len(), 1);
                black_box(paths)
            })
        },
    );
    c.bench_function("path search in 10000 states (16 paths, as listed)", |b| {
        b.iter(|| {
            let paths = Search::new(&def, &os, &[0]).paths(0, n - 1, MAX_PATHS);
            assert_eq!(paths.len(), MAX_PATHS);
            black_box(paths)
        })
    });
    let config = Config {
        name: "bench".into(),
        os: OsType::all(),
        ..Config::default()
    };
    let loc = Location::builder(config)
        .build(vec![big_lifecycle(n)])
        .expect("location");
    c.bench_function("state_goto_path in 10000 states (API)", |b| {
        b.iter(|| black_box(loc.state_goto_path("/bench/Big/s9999").expect("paths")))
    });
}

/// A chain of `n` states `s0 → s1 → …`; with `log`, entering each state logs one line.
fn chain_lifecycle(n: usize, log: bool) -> LifecycleDef {
    format::parse(&chain_text(n, log), Path::new("chain.toml")).expect("valid lifecycle")
}

/// The file of [`chain_lifecycle`].
fn chain_text(n: usize, log: bool) -> String {
    let mut text = String::from("name = \"Chain\"\ninitial = \"s0\"\ntransitions = [\n");
    for i in 1..n {
        text.push_str(&format!("  [\"s{}\", \"s{i}\"],\n", i - 1));
    }
    text.push_str("]\n");
    for i in 0..n {
        text.push_str(&format!("[states.s{i}]\n"));
        if log && i > 0 {
            text.push_str("enter.do = [{ log = \"entering {{ state }}\" }]\n");
        }
    }
    text
}

/// Loading one file holding a chain of states, each logging as it is entered: every state
/// is checked, every template against a context that names every state.
fn chain_load(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("chain");
    group.sample_size(10);
    for n in [1_000, 10_000, 20_000] {
        let file = dir.path().join(format!("chain{n}.toml"));
        std::fs::write(&file, chain_text(n, true)).expect("write");
        group.bench_function(format!("load a file of a chain of {n} states"), |b| {
            b.iter(|| {
                let def = format::load_file(&file).expect("valid lifecycle");
                assert_eq!(def.states.len(), n);
                black_box(def)
            })
        });
    }
    group.finish();
}

fn chain_goto(c: &mut Criterion) {
    let n = 10_000;
    let mut group = c.benchmark_group("chain");
    group.sample_size(10);
    for (log, saved, name) in [
        (
            false,
            false,
            "state_goto along 10000 states without actions",
        ),
        (
            true,
            false,
            "state_goto along 10000 states logging on each enter",
        ),
        (
            false,
            true,
            "state_goto along 10000 states without actions, saving states",
        ),
        (
            true,
            true,
            "state_goto along 10000 states logging on each enter, saving states",
        ),
    ] {
        let def = chain_lifecycle(n, log);
        let values = Values::new();
        let opts = CallOptions::default();
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    // A fresh state directory each time, or the location would start at the end.
                    let dir = tempfile::tempdir().expect("temp dir");
                    let config = Config {
                        name: "bench".into(),
                        os: OsType::all(),
                        state_dir: saved.then(|| dir.path().to_path_buf()),
                        ..Config::default()
                    };
                    let loc = Location::builder(config)
                        .sink(std::sync::Arc::new(NullSink))
                        .build(vec![def.clone()])
                        .expect("location");
                    (loc, dir)
                },
                |(loc, dir)| {
                    loc.state_goto("/bench/Chain/s9999", &values, &opts)
                        .expect("goto");
                    (loc, dir)
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// A chain of 500 states, each running `/bin/true` as it is entered: what a step running a
/// command costs beyond the command, against the cost of spawning it alone.
fn shell_steps(c: &mut Criterion) {
    let n = 500;
    let mut text = String::from("name = \"Shell\"\ninitial = \"s0\"\ntransitions = [\n");
    for i in 1..n {
        text.push_str(&format!("  [\"s{}\", \"s{i}\"],\n", i - 1));
    }
    text.push_str("]\n[states.s0]\n");
    for i in 1..n {
        text.push_str(&format!(
            "[states.s{i}]\nenter.do = [{{ run = \"/bin/true\" }}]\n"
        ));
    }
    let def = format::parse(&text, Path::new("shell.toml")).expect("valid lifecycle");
    let values = Values::new();
    let opts = CallOptions::default();
    let mut group = c.benchmark_group("shell");
    group.sample_size(10);
    group.bench_function("state_goto along 500 states running /bin/true each", |b| {
        b.iter_batched(
            || {
                let config = Config {
                    name: "bench".into(),
                    os: OsType::all(),
                    ..Config::default()
                };
                Location::builder(config)
                    .sink(std::sync::Arc::new(NullSink))
                    .build(vec![def.clone()])
                    .expect("location")
            },
            |loc| {
                loc.state_goto("/bench/Shell/s499", &values, &opts)
                    .expect("goto");
                loc
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("spawning /bin/true 500 times (the floor)", |b| {
        b.iter(|| {
            for _ in 0..499 {
                std::process::Command::new("/bin/true")
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .status()
                    .expect("true runs");
            }
        })
    });
    group.finish();
}

/// Drops log lines: the benchmarks measure the engine, not a sink.
struct NullSink;

impl armonic_lifecycle::LogSink for NullSink {
    fn log(&self, _: &armonic_lifecycle::LogRecord) {}
}

fn noop_call(c: &mut Criterion) {
    let text = r#"
name = "Noop"
initial = "A"
[states.A.provides.noop]
"#;
    let mut defs = vec![format::parse(text, Path::new("noop.toml")).expect("parse")];
    // The demo lifecycles beside it, as on a real location.
    defs.extend(load_dirs(&[concat!(env!("CARGO_MANIFEST_DIR"), "/../../lifecycles")]).lifecycles);
    let config = Config {
        name: "bench".into(),
        os: OsType::all(),
        ..Config::default()
    };
    let loc = Location::builder(config).build(defs).expect("location");
    let values = Values::new();
    let opts = CallOptions::default();
    c.bench_function("provide_call of a no-op provide", |b| {
        b.iter(|| {
            black_box(
                loc.provide_call("//Noop/A/noop", &values, &opts)
                    .expect("call"),
            )
        })
    });
    let values = Values::new().set("//WebServer//port", 8080);
    c.bench_function("provide_call_validate of WebServer start", |b| {
        b.iter(|| {
            black_box(
                loc.provide_call_validate("//WebServer//start", &values, 0)
                    .expect("validate"),
            )
        })
    });
}

criterion_group!(
    benches,
    load_files,
    chain_load,
    path_search,
    chain_goto,
    noop_call,
    shell_steps
);
criterion_main!(benches);
