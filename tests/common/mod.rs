//! Helpers shared by the end-to-end tests: signals to processes and process groups, a mesh
//! of agents.
#![allow(dead_code)]

pub mod hosts;
pub mod mesh;

pub use nix::sys::signal::Signal;
use nix::sys::signal::{kill, killpg};
use nix::unistd::Pid;

fn pid(id: u32) -> Pid {
    Pid::from_raw(i32::try_from(id).expect("a pid"))
}

/// Starts the agent command `c` (its standard output piped) and waits for its first line,
/// which must say it is ready; `name` names it in the failure.
pub fn start_ready(mut c: std::process::Command, name: &str) -> std::process::Child {
    use std::io::BufRead;
    let mut child = c.spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains(" ready: "), "{name}: {line:?}");
    child
}

/// Says why a test cannot run here and lets it skip, unless `ARMONIC_REQUIRE_ALL_TESTS` is
/// set (the test command sets it where it installs everything): then it fails.
pub fn skip(why: &str) {
    let required =
        std::env::var_os("ARMONIC_REQUIRE_ALL_TESTS").is_some_and(|v| !v.is_empty() && v != "0");
    assert!(
        !required,
        "cannot run here: {why} (and ARMONIC_REQUIRE_ALL_TESTS is set)"
    );
    eprintln!("skipped: {why}");
}

/// Sends `signal` to process `id`.
pub fn signal(id: u32, signal: Signal) {
    kill(pid(id), signal).expect("the signal is sent");
}

/// Sends `signal` to every process of group `pgid`.
pub fn signal_group(pgid: u32, signal: Signal) {
    let _ = killpg(pid(pgid), signal);
}

/// Whether a process of group `pgid` still exists.
pub fn group_exists(pgid: u32) -> bool {
    killpg(pid(pgid), None).is_ok()
}

/// A process's output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Waits until `f` holds, or fails the test after 15 s.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `DIR/lifecycles` holding the shipped lifecycles and `extra` (file name, text).
pub fn lifecycles(dir: &std::path::Path, extra: &[(&str, &str)]) -> std::path::PathBuf {
    let out = dir.join("lifecycles");
    std::fs::create_dir_all(&out).expect("lifecycle directory made");
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lifecycles");
    copy_tree(&shipped, &out);
    for (name, text) in extra {
        std::fs::write(out.join(name), text).expect("written");
    }
    out
}

/// Copies the files of `from` into `to`, sub-directories too (the files an application's
/// lifecycle ships beside it).
pub fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("directory made");
    for entry in std::fs::read_dir(from).expect("directory read") {
        let p = entry.expect("an entry").path();
        let dest = to.join(p.file_name().expect("a name"));
        if p.is_dir() {
            copy_tree(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).expect("copied");
        }
    }
}

/// A new swarm key at `path`, made by `armonic key generate`.
pub fn swarm_key(path: &std::path::Path) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_armonic"))
        .args(["key", "generate", "--output"])
        .arg(path)
        .output()
        .expect("armonic runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Resident memory of process `pid`, in bytes (0 once it is gone).
pub fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// A connection to an agent's socket that greeted it properly (reads time out after 10 s).
pub fn greeted(socket: &std::path::Path) -> std::os::unix::net::UnixStream {
    use armonic_proto::frame;
    let mut s = std::os::unix::net::UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    frame::write_frame(&mut s, &armonic_proto::Hello::new("test"), frame::MAX_FRAME).unwrap();
    let hello = frame::read_frame(&mut s, frame::MAX_FRAME)
        .unwrap()
        .unwrap();
    frame::decode::<armonic_proto::Hello>(&hello).unwrap();
    s
}

/// The next message the agent sends on `s`, if one comes and decodes.
pub fn next_message(
    s: &mut std::os::unix::net::UnixStream,
) -> Option<armonic_proto::ServerMessage> {
    use armonic_proto::frame;
    let payload = frame::read_frame(s, frame::MAX_FRAME).ok()??;
    frame::decode(&payload).ok()
}
