//! The workspace's dependency rules (docs/architecture.md): the model, the resolver and the
//! wire types stay free of tokio and libp2p.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

const PURE_CRATES: &[&str] = &["armonic-lifecycle", "armonic-smart", "armonic-proto"];
const FORBIDDEN: &[&str] = &["tokio", "libp2p", "async-std"];

/// Normal (non-dev, non-build) dependencies of every package, by package name.
fn dependency_graph() -> (HashMap<String, Vec<String>>, BTreeSet<String>) {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
        ])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let name_of: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().expect("id"),
                p["name"].as_str().expect("name"),
            )
        })
        .collect();
    let members: BTreeSet<String> = meta["workspace_members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|id| name_of[id.as_str().expect("id")].to_owned())
        .collect();
    let mut graph: HashMap<String, Vec<String>> = HashMap::new();
    for node in meta["resolve"]["nodes"].as_array().expect("nodes") {
        let name = name_of[node["id"].as_str().expect("id")].to_owned();
        let deps = node["deps"]
            .as_array()
            .expect("deps")
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k["kind"].is_null()))
            })
            .map(|d| name_of[d["pkg"].as_str().expect("pkg")].to_owned())
            .collect();
        graph.entry(name).or_default().extend::<Vec<String>>(deps);
    }
    (graph, members)
}

#[test]
fn pure_crates_never_depend_on_tokio_or_libp2p() {
    let (graph, members) = dependency_graph();
    for krate in PURE_CRATES.iter().filter(|c| members.contains(**c)) {
        let mut seen = BTreeSet::new();
        let mut todo = vec![krate.to_string()];
        while let Some(n) = todo.pop() {
            if seen.insert(n.clone()) {
                todo.extend(graph.get(&n).cloned().unwrap_or_default());
            }
        }
        let bad: Vec<&String> = seen
            .iter()
            .filter(|d| FORBIDDEN.iter().any(|f| d.starts_with(f)))
            .collect();
        assert!(bad.is_empty(), "{krate} depends on {bad:?}");
    }
    assert!(members.contains("armonic-lifecycle"));
}
