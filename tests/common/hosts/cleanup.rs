//! What the hosts of a test leave on the machine, named after the test process
//! (`armh<PID>x<N>`): its cgroups, namespaces and directories, and their removal, also
//! for runs whose process died without cleaning up (killed, or timed out).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The prefix of every name the harness gives (namespaces, machines, cgroups, directories).
pub const PREFIX: &str = "armh";

/// Where the hosts' own files are (upper layers of their overlays, logs, the package).
pub const WORK_ROOT: &str = "/var/tmp/armonic-hosts";

/// Where nspawn keeps a directory per machine that it does not always remove.
const PROPAGATE: &str = "/run/systemd/nspawn/propagate";

/// The process that made `name` (`armh<PID>x...`), if it is one of ours.
fn owner(name: &str) -> Option<i32> {
    let rest = name.strip_prefix(PREFIX)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if rest[digits.len()..].starts_with('x') {
        digits.parse().ok()
    } else {
        None
    }
}

fn alive(pid: i32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// The cgroup hierarchies where systemd-nspawn places itself and its container: the
/// named `systemd` one and the unified one of a hybrid layout, or the unified root alone.
pub fn cgroup_roots() -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    let mut roots: Vec<PathBuf> = ["systemd", "unified"]
        .iter()
        .map(|h| base.join(h))
        .filter(|d| d.join("cgroup.procs").exists())
        .collect();
    if roots.is_empty() && base.join("cgroup.procs").exists() {
        roots.push(base.to_path_buf());
    }
    roots
}

/// The cgroup directories of machine `machine`, one per hierarchy (not made yet).
pub fn cgroups_of(machine: &str) -> Vec<PathBuf> {
    cgroup_roots()
        .into_iter()
        .map(|r| r.join("armonic-tests").join(machine))
        .collect()
}

/// Every directory below `dir`, `dir` included, deepest first.
fn tree(dir: &Path, into: &mut Vec<PathBuf>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                tree(&e.path(), into);
            }
        }
    }
    into.push(dir.to_path_buf());
}

/// Kills every process of cgroup `dir` and its children, then removes them (bounded).
pub fn remove_cgroup(dir: &Path) {
    if !dir.exists() {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut dirs = Vec::new();
        tree(dir, &mut dirs);
        let mut any = false;
        for d in &dirs {
            let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|p| p.trim().parse::<i32>().ok()) {
                any = true;
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        if !any {
            for d in &dirs {
                let _ = std::fs::remove_dir(d);
            }
        }
        if !dir.exists() || Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Removes a directory tree, never crossing into another file system.
pub fn remove_tree(dir: &Path) {
    if dir.exists() {
        let _ = super::run::checked(
            "rm",
            &["-rf", "--one-file-system", &dir.to_string_lossy()],
            Duration::from_secs(120),
        );
    }
}

/// Removes nspawn's leftover directory of machine `machine`.
pub fn remove_propagate(machine: &str) {
    let _ = std::fs::remove_dir(Path::new(PROPAGATE).join(machine));
}

/// Names in `dir` made by a test process that is gone.
fn orphans(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| owner(&e.file_name().to_string_lossy()).is_some_and(|pid| !alive(pid)))
        .map(|e| e.path())
        .collect()
}

/// Removes what test processes that are gone left behind: their containers (every process
/// of their cgroups) first, then their namespaces, directories and cgroups.
pub fn remove_leftovers() {
    for root in cgroup_roots() {
        for group in orphans(&root.join("armonic-tests")) {
            eprintln!(
                "hosts: removing {}, left by an earlier run",
                group.display()
            );
            remove_cgroup(&group);
        }
    }
    for ns in orphans(Path::new("/run/netns")) {
        let name = ns
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        eprintln!("hosts: removing network namespace {name}, left by an earlier run");
        super::net::remove_namespace(&name);
    }
    for dir in orphans(Path::new(WORK_ROOT)) {
        eprintln!("hosts: removing {}, left by an earlier run", dir.display());
        remove_tree(&dir);
    }
    for dir in orphans(Path::new(PROPAGATE)) {
        let _ = std::fs::remove_dir(dir);
    }
}
