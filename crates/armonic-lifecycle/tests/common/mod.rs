//! Shared helpers: locations built from inline lifecycle files, with logs kept in memory.
#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use armonic_lifecycle::{
    CallOptions, CommandOutcome, CommandRunner, CommandSpec, Config, Level, Location, MemorySink,
    OsType, Stream, Supervision, Values, format,
};

/// A location named `vm` on `os`, with `files` (lifecycle TOML texts) and an optional state dir.
pub struct Harness {
    pub loc: Location,
    pub logs: MemorySink,
}

pub fn config(os: &str, state_dir: Option<&Path>) -> Config {
    Config {
        name: "vm".into(),
        os: OsType::parse(os),
        public_ip: "localhost".into(),
        simulation: false,
        validate_on_call: true,
        state_dir: state_dir.map(Path::to_path_buf),
        lock_wait: Default::default(),
    }
}

pub fn parse(text: &str) -> armonic_lifecycle::LifecycleDef {
    format::parse(text, Path::new("inline.toml")).unwrap_or_else(|e| panic!("{e}"))
}

pub fn location(files: &[&str]) -> Harness {
    with_config(files, config("debian:12", None))
}

pub fn with_config(files: &[&str], config: Config) -> Harness {
    let logs = MemorySink::new();
    let loc = Location::builder(config)
        .sink(Arc::new(logs.clone()))
        .build(files.iter().map(|f| parse(f)).collect())
        .expect("location starts");
    Harness { loc, logs }
}

pub fn with_runner(files: &[&str], runner: Arc<dyn CommandRunner>) -> Harness {
    let logs = MemorySink::new();
    let loc = Location::builder(config("debian:12", None))
        .sink(Arc::new(logs.clone()))
        .runner(runner)
        .build(files.iter().map(|f| parse(f)).collect())
        .expect("location starts");
    Harness { loc, logs }
}

impl Harness {
    pub fn info_lines(&self) -> Vec<String> {
        self.logs.messages(Level::Info)
    }

    pub fn current(&self, lifecycle: &str) -> String {
        self.loc
            .stack(lifecycle)
            .and_then(|s| s.last().map(|s| s.to_string()))
            .unwrap_or_default()
    }
}

pub fn opts() -> CallOptions {
    CallOptions::default()
}

pub fn vals(pairs: &[(&str, &str)]) -> Values {
    pairs.iter().fold(Values::new(), |v, (k, x)| v.set(*k, *x))
}

/// Records commands instead of running them; fails those whose line contains `fail_on`
/// (only the first one with `fail_once`).
#[derive(Default)]
pub struct RecordingRunner {
    pub commands: Mutex<Vec<String>>,
    pub fail_on: Option<String>,
    pub fail_once: bool,
    pub failed: Mutex<usize>,
}

impl RecordingRunner {
    pub fn lines(&self) -> Vec<String> {
        self.commands.lock().unwrap().clone()
    }
}

impl CommandRunner for RecordingRunner {
    fn run(
        &self,
        spec: &CommandSpec,
        sup: &mut Supervision<'_>,
    ) -> std::io::Result<CommandOutcome> {
        let line = spec.display();
        self.commands.lock().unwrap().push(line.clone());
        (sup.output)(Stream::Stdout, &format!("ran {line}"));
        let mut failed = self.failed.lock().unwrap();
        let fail = self.fail_on.as_deref().is_some_and(|f| line.contains(f))
            && !(self.fail_once && *failed > 0);
        *failed += usize::from(fail);
        drop(failed);
        Ok(CommandOutcome {
            code: Some(if fail { 1 } else { 0 }),
            timed_out: false,
            interrupted: false,
            stderr_tail: if fail { vec!["boom".into()] } else { vec![] },
            output_left_open: false,
        })
    }
}
