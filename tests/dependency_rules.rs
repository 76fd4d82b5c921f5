//! The workspace's dependency rules (docs/architecture.md): the model, the resolver, the
//! wire types and the journal stay free of tokio and libp2p.
//!
//! The graph comes from `cargo tree` for the host platform: it needs only the crates a build
//! of this machine has downloaded (unlike `cargo metadata`, which wants every platform's).

use std::process::Command;

const PURE_CRATES: &[&str] = &[
    "armonic-lifecycle",
    "armonic-smart",
    "armonic-proto",
    "armonic-journal",
];
const FORBIDDEN: &[&str] = &["tokio", "libp2p", "async-std"];

/// Workspace members, by package name.
fn members() -> Vec<String> {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--workspace", "--depth", "0", "-e", "normal"])
        .args(["--prefix", "none", "--format", "{p}", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Every normal (non-dev, non-build) dependency of `krate`, transitively, on this platform.
fn dependencies(krate: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "-p", krate, "-e", "normal", "--prefix", "none"])
        .args(["--format", "{p}", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn pure_crates_never_depend_on_tokio_or_libp2p() {
    let members = members();
    assert!(
        members.iter().any(|m| m == "armonic-lifecycle"),
        "{members:?}"
    );
    for krate in PURE_CRATES
        .iter()
        .filter(|c| members.iter().any(|m| m == *c))
    {
        let deps = dependencies(krate);
        assert!(deps.len() > 1, "{krate}: no dependency listed");
        let bad: Vec<&String> = deps
            .iter()
            .filter(|d| FORBIDDEN.iter().any(|f| d.starts_with(f)))
            .collect();
        assert!(bad.is_empty(), "{krate} depends on {bad:?}");
    }
}
