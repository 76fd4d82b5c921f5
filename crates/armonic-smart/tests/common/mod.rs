//! Helpers: embedded meshes on the shipped lifecycles, and a frontend answering from a script.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::Arc;

use armonic_lifecycle::{Config, Level, Location, MemorySink, OsType, Value, load_dirs};
use armonic_smart::{Abort, Answer, Embedded, Event, Frontend, Question};

pub const LIFECYCLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../lifecycles");

/// Locations named `names` (public address = name, `vm` excepted: `localhost`) on `dir`.
pub fn mesh_of(dir: &str, names: &[&str], logs: &MemorySink) -> Embedded {
    let locations = names
        .iter()
        .map(|name| {
            let catalog = load_dirs(&[dir]);
            assert!(catalog.errors.is_empty(), "{:?}", catalog.errors);
            let ip = if *name == "vm" { "localhost" } else { name };
            let config = Config {
                name: (*name).into(),
                os: OsType::all(),
                public_ip: ip.into(),
                ..Config::default()
            };
            Location::builder(config)
                .sink(Arc::new(logs.clone()))
                .build(catalog.lifecycles)
                .unwrap()
        })
        .collect();
    Embedded::new(locations).expect("journals in memory open")
}

/// A temporary lifecycle directory with `files` (name, text) and locations `names` on it.
pub fn mesh_with_files(
    files: &[(&str, &str)],
    names: &[&str],
    logs: &MemorySink,
) -> (tempfile::TempDir, Embedded) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let mesh = mesh_of(dir.path().to_str().unwrap(), names, logs);
    (dir, mesh)
}

/// The demo's lifecycles (WebServer, WebSite, Proxy), the original's: the shipped directory
/// also holds real services, which these tests are not about.
pub fn demo_lifecycles() -> &'static str {
    static DIR: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo-lifecycles");
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["webserver.toml", "website.toml", "proxy.toml"] {
            // Test processes run at once: each file appears whole, by a rename.
            let tmp = dir.join(format!(".{name}.{}", std::process::id()));
            std::fs::copy(format!("{LIFECYCLES}/{name}"), &tmp).unwrap();
            std::fs::rename(&tmp, dir.join(name)).unwrap();
        }
        dir.to_str().unwrap().to_owned()
    })
}

pub fn mesh(names: &[&str], logs: &MemorySink) -> Embedded {
    mesh_of(demo_lifecycles(), names, logs)
}

/// Answers from a list, checking each question against what the test expects; or, keyed,
/// answers some questions and takes the suggestion for the others.
#[derive(Default)]
pub struct Script {
    pub answers: VecDeque<(String, Answer)>,
    pub keyed: Vec<(String, Answer)>,
    pub asked: Vec<Question>,
    pub events: Vec<Event>,
    pub fallback_autofill: bool,
}

impl Script {
    pub fn new(answers: Vec<(&str, Answer)>) -> Script {
        Script {
            answers: answers
                .into_iter()
                .map(|(k, a)| (k.to_owned(), a))
                .collect(),
            ..Script::default()
        }
    }

    pub fn keyed(answers: Vec<(&str, Answer)>) -> Script {
        Script {
            keyed: answers
                .into_iter()
                .map(|(k, a)| (k.to_owned(), a))
                .collect(),
            fallback_autofill: true,
            ..Script::default()
        }
    }

    pub fn questions(&self) -> Vec<String> {
        self.asked.iter().map(describe).collect()
    }

    pub fn logs(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Log(r) if r.level == Level::Info => {
                    Some(format!("{}: {}", r.location, r.message))
                }
                _ => None,
            })
            .collect()
    }
}

pub fn describe(q: &Question) -> String {
    match q {
        Question::Manage { xpath, .. } => format!("manage {xpath}"),
        Question::Location { xpath, .. } => format!("location {xpath}"),
        Question::Specialize { xpath, .. } => format!("specialize {xpath}"),
        Question::Multiplicity { require, .. } => format!("multiplicity {require}"),
        Question::Value { variable, .. } => format!("value {}", variable.xpath),
        Question::Call { xpath, .. } => format!("call {xpath}"),
    }
}

impl Frontend for Script {
    fn ask(&mut self, q: &Question) -> Result<Answer, Abort> {
        self.asked.push(q.clone());
        let what = describe(q);
        if let Some(i) = self.keyed.iter().position(|(k, _)| *k == what) {
            return Ok(self.keyed.remove(i).1);
        }
        match self.answers.pop_front() {
            Some((expected, answer)) => {
                assert_eq!(what, expected, "unexpected question");
                Ok(answer)
            }
            None if self.fallback_autofill => q.suggested().ok_or(Abort(what)),
            None => Err(Abort(format!("no answer for {what}"))),
        }
    }

    fn notify(&mut self, event: &Event) {
        self.events.push(event.clone());
    }
}

pub fn url(s: &str) -> Value {
    Value::Map([("url".to_owned(), Value::from(s))].into())
}
