//! Helpers shared by the end-to-end tests: signals to processes and process groups.
#![allow(dead_code)]

pub use nix::sys::signal::Signal;
use nix::sys::signal::{kill, killpg};
use nix::unistd::Pid;

fn pid(id: u32) -> Pid {
    Pid::from_raw(i32::try_from(id).expect("a pid"))
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
