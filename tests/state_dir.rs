//! The state directory and the control socket as root sees them: a directory another user
//! can change is refused, never repaired; a socket another user could have put there is never
//! talked to (it would receive root's values and could answer anything).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::text;

fn armonic(state_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_armonic"))
        .arg("--state-dir")
        .arg(state_dir)
        .args(args)
        .env_remove("ARMONIC_CONFIG")
        .output()
        .unwrap()
}

fn mode_of(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn private(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn an_agent_refuses_a_state_directory_others_can_write_and_leaves_it_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("tmp");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let o = armonic(&shared, &["--name", "vm", "agent", "--no-mesh"]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("refusing state directory") && err.contains("can be written by other users"),
        "{err}"
    );
    assert_eq!(
        mode_of(&shared),
        0o1777,
        "--state-dir /tmp must not break the machine"
    );
    assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0);
}

#[test]
fn local_commands_refuse_a_state_directory_others_can_write() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("open");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = armonic(&shared, &["--local", "status"]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("can be written by other users"), "{err}");
    assert_eq!(mode_of(&shared), 0o777);
}

/// A socket at the agent's place, bound by this test: the command must not connect to it.
fn planted(dir: &Path) -> UnixListener {
    let l = UnixListener::bind(dir.join(armonic_agent::SOCKET)).unwrap();
    l.set_nonblocking(true).unwrap();
    l
}

fn never_connected(l: &UnixListener) {
    match l.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the command connected to the planted socket: {other:?}"),
    }
}

#[test]
fn the_command_line_never_talks_to_a_socket_in_a_directory_others_can_write() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    let l = planted(&state);
    let o = armonic(&state, &["status"]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("refusing the agent's socket")
            && err.contains("can be written by other users"),
        "{err}"
    );
    never_connected(&l);
}

#[test]
fn the_command_line_never_talks_to_a_socket_of_another_user() {
    if !rustix::process::geteuid().is_root() {
        common::skip("giving a socket to another user needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    private(&state);
    let l = planted(&state);
    std::os::unix::fs::lchown(state.join(armonic_agent::SOCKET), Some(65534), Some(65534)).unwrap();
    let o = armonic(&state, &["status"]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("refusing the agent's socket") && err.contains("belongs to user 65534"),
        "{err}"
    );
    never_connected(&l);
}

#[test]
fn the_command_line_says_no_agent_runs_when_the_state_directory_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let o = armonic(&dir.path().join("none"), &["status"]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("no agent is running"), "{err}");
}
