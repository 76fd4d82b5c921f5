//! The state directory: each lifecycle's stack and entered values, saved atomically.
//!
//! One JSON file per lifecycle, `<dir>/lifecycles/<Name>.json`:
//!
//! ```json
//! {"format": 1, "lifecycle": "WebServer",
//!  "stack": ["NotInstalled", "Installed", "Configured"],
//!  "entered": {"Configured": {"conf": [{"port": 8080}]}}}
//! ```
//!
//! A file that cannot be read back is moved aside (`<Name>.json.bad-<seconds>`) and reported,
//! never silently dropped.
//!
//! Before a step that runs something starts, the file also records the move in progress
//! (`in_progress`: what, which state, the process group of its command, when), so that after
//! a crash of the process the next one knows what may have partly run.
//!
//! One process at a time uses a state directory: [`StateStore::open`] takes an exclusive
//! lock (`flock` on `<dir>/lock`, which holds the owner's pid) for the life of the store.

use std::fmt;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::names;
use crate::values::ProvideValues;

/// Version of the file format.
pub const FORMAT: u32 = 1;
/// Largest state file read.
const MAX_STATE_FILE: u64 = 16 * 1024 * 1024;

/// What is saved for one lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateFile {
    /// Format version ([`FORMAT`]).
    pub format: u32,
    /// Lifecycle name.
    pub lifecycle: String,
    /// Entered states, bottom first.
    pub stack: Vec<String>,
    /// The values each entered state was entered with.
    #[serde(default)]
    pub entered: IndexMap<String, ProvideValues>,
    /// The step running when the file was written, if one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress: Option<InProgress>,
}

/// What a step does to its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// Entering a state.
    Enter,
    /// Leaving a state.
    Leave,
    /// Calling a custom provide.
    Provide,
    /// Running the cross action of a state after a provide call.
    Cross,
}

impl StepKind {
    /// `entering Configured`, `calling start of Active`… for messages.
    pub fn describe(self, state: &str, provide: &str) -> String {
        match self {
            StepKind::Enter => format!("entering {state}"),
            StepKind::Leave => format!("leaving {state}"),
            StepKind::Provide => format!("calling {provide} of {state}"),
            StepKind::Cross => format!("running the cross action of {state}"),
        }
    }
}

/// A step in progress, as recorded before it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InProgress {
    /// What the step does.
    pub step: StepKind,
    /// The state it concerns.
    pub state: String,
    /// The provide it runs (`enter`, `leave`, `cross` or a custom provide).
    pub provide: String,
    /// The process that runs it.
    pub pid: u32,
    /// The process group of the command it runs, once one started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_group: Option<u32>,
    /// When that process group started, in clock ticks since boot (tells a reused id apart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_started: Option<u64>,
    /// When the step started, in seconds since the Unix epoch.
    pub since: u64,
}

impl InProgress {
    /// A step starting now in this process.
    pub fn now(step: StepKind, state: &str, provide: &str) -> InProgress {
        InProgress {
            step,
            state: state.to_owned(),
            provide: provide.to_owned(),
            pid: std::process::id(),
            process_group: None,
            group_started: None,
            since: unix_now(),
        }
    }

    /// Records that the step's command runs as process group `pgid`.
    pub fn set_group(&mut self, pgid: u32) {
        self.process_group = Some(pgid);
        self.group_started = process_start(pgid);
    }

    /// The process group of the step, if one of its processes still lives.
    pub fn live_group(&self) -> Option<u32> {
        let pgid = self.process_group?;
        let group = nix::unistd::Pid::from_raw(i32::try_from(pgid).ok()?);
        nix::sys::signal::killpg(group, None).ok()?;
        // The group's leader, if still there, must be the process recorded: otherwise its id
        // was reused by an unrelated process.
        match (process_start(pgid), self.group_started) {
            (Some(now), Some(then)) if now != then => None,
            _ => Some(pgid),
        }
    }

    /// `entering Configured`, `calling start of Active`…
    pub fn describe(&self) -> String {
        self.step.describe(&self.state, &self.provide)
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `2026-11-28 11:02:03 UTC` for seconds since the Unix epoch.
pub fn format_time(secs: u64) -> String {
    let days = secs / 86_400;
    let rest = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// When process `pid` started, in clock ticks since boot (`/proc/<pid>/stat`, field 22).
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Something found in the state directory that could not be used as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreIssue {
    /// The lifecycle (file name without extension).
    pub lifecycle: String,
    /// The file.
    pub file: PathBuf,
    /// What is wrong.
    pub message: String,
    /// Where the file was moved, if it was.
    pub moved_to: Option<PathBuf>,
    /// Whether it is about a step interrupted by the end of the process that ran it (the
    /// message then stands alone, without the file).
    #[serde(default)]
    pub interrupted: bool,
}

impl fmt::Display for RestoreIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.interrupted {
            return f.write_str(&self.message);
        }
        write!(f, "{}: {}", self.file.display(), self.message)?;
        if let Some(to) = &self.moved_to {
            write!(f, " (moved to {})", to.display())?;
        }
        Ok(())
    }
}

/// Why a state directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process holds the directory's lock.
    #[error("state directory {} is in use by {}: wait for it to end, or add --wait", .dir.display(), holder(*.pid))]
    Locked {
        /// The directory.
        dir: PathBuf,
        /// The process holding it, when it could be read.
        pid: Option<u32>,
    },
    /// Waiting for the lock was given up.
    #[error("gave up waiting for state directory {} (in use by {})", .dir.display(), holder(*.pid))]
    GaveUp {
        /// The directory.
        dir: PathBuf,
        /// The process holding it, when it could be read.
        pid: Option<u32>,
    },
    /// The directory or its lock could not be created or opened.
    #[error("cannot use state directory {}: {source}", .dir.display())]
    Io {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The directory could be changed by another user.
    #[error("refusing state directory {}: {source}", .dir.display())]
    Unsafe {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: crate::safefs::UnsafeDir,
    },
}

fn holder(pid: Option<u32>) -> String {
    pid.map_or_else(
        || "another armonic process".to_owned(),
        |p| format!("another armonic process (pid {p})"),
    )
}

/// How to behave when another process uses the state directory.
#[derive(Clone, Default)]
pub enum LockWait {
    /// Fail at once.
    #[default]
    No,
    /// Wait until it is free, checking `give_up` now and then (an interrupt, say).
    Until(Arc<dyn Fn() -> bool + Send + Sync>),
}

impl fmt::Debug for LockWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockWait::No => f.write_str("No"),
            LockWait::Until(_) => f.write_str("Until(..)"),
        }
    }
}

/// A state directory, locked for this process while the store lives.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
    _lock: Arc<nix::fcntl::Flock<std::fs::File>>,
}

impl StateStore {
    /// Opens (creating it, owner-only) the state directory `dir` and takes its lock.
    pub fn open(dir: impl Into<PathBuf>, wait: &LockWait) -> Result<StateStore, OpenError> {
        let dir = dir.into();
        let io = |source| OpenError::Io {
            dir: dir.clone(),
            source,
        };
        let unsafe_dir = |source| OpenError::Unsafe {
            dir: dir.clone(),
            source,
        };
        // Private, all the way down: what root writes here nobody else can replace.
        crate::safefs::private_dir(&dir).map_err(unsafe_dir)?;
        crate::safefs::private_dir(&dir.join("lifecycles")).map_err(unsafe_dir)?;
        let path = dir.join("lock");
        let mut file = crate::safefs::open_private_file(&path).map_err(io)?;
        let mut lock = loop {
            match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
                Ok(lock) => break lock,
                Err((f, nix::errno::Errno::EWOULDBLOCK)) => {
                    let pid = read_pid(&path);
                    match wait {
                        LockWait::No => return Err(OpenError::Locked { dir, pid }),
                        LockWait::Until(give_up) => {
                            if give_up() {
                                return Err(OpenError::GaveUp { dir, pid });
                            }
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                    file = f;
                }
                Err((_, e)) => return Err(io(std::io::Error::from(e))),
            }
        };
        // The holder's pid, for the message of whoever finds the directory in use.
        let written = lock
            .set_len(0)
            .and_then(|()| lock.rewind())
            .and_then(|()| writeln!(lock, "{}", std::process::id()));
        written.map_err(io)?;
        Ok(StateStore {
            dir,
            _lock: Arc::new(lock),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of lifecycle `name`; a name that is not an identifier (it could lead out of
    /// the directory) has none.
    pub fn path(&self, name: &str) -> Option<PathBuf> {
        names::check(name)
            .ok()
            .map(|()| self.dir.join("lifecycles").join(format!("{name}.json")))
    }

    /// Names of the lifecycles with a saved state.
    pub fn saved(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("lifecycles")) else {
            return Vec::new();
        };
        let mut found: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".json"))
                    .filter(|n| names::check(n).is_ok())
                    .map(str::to_owned)
            })
            .collect();
        found.sort();
        found
    }

    /// Reads the state of `name`: `Ok(None)` when there is none, `Err(reason)` when the file
    /// is unreadable or malformed.
    pub fn load(&self, name: &str) -> Result<Option<StateFile>, String> {
        let Some(path) = self.path(name) else {
            return Ok(None);
        };
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read: {e}")),
        };
        let mut text = String::new();
        file.take(MAX_STATE_FILE)
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read: {e}"))?;
        let state: StateFile =
            serde_json::from_str(&text).map_err(|e| format!("not a valid state file: {e}"))?;
        if state.format != FORMAT {
            return Err(format!(
                "unknown state file format {} (this version reads {FORMAT})",
                state.format
            ));
        }
        if state.lifecycle != name {
            return Err(format!(
                "the file holds the state of {}, not {name}",
                state.lifecycle
            ));
        }
        Ok(Some(state))
    }

    /// Saves `state` atomically.
    pub fn save(&self, state: &StateFile) -> std::io::Result<()> {
        let path = self.path(&state.lifecycle).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("'{}' is not a valid lifecycle name", state.lifecycle),
            )
        })?;
        let data = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
        crate::safefs::replace_file(&path, &data, 0o600)
    }

    /// Moves the file of `name` aside and returns where it went.
    pub fn set_aside(&self, name: &str) -> std::io::Result<PathBuf> {
        let from = self
            .path(name)
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut to = from.with_extension(format!("json.bad-{secs}"));
        let mut n = 1;
        while to.exists() {
            to = from.with_extension(format!("json.bad-{secs}-{n}"));
            n += 1;
        }
        std::fs::rename(&from, &to)?;
        Ok(to)
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_state_reads_back_and_bad_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(dir.path(), &LockWait::No).unwrap();
        let state = StateFile {
            format: FORMAT,
            lifecycle: "L".into(),
            stack: vec!["A".into()],
            entered: IndexMap::new(),
            in_progress: None,
        };
        store.save(&state).unwrap();
        assert_eq!(store.load("L").unwrap(), Some(state));
        assert_eq!(store.load("M").unwrap(), None);
        std::fs::write(store.path("M").unwrap(), "{oops").unwrap();
        assert!(
            store
                .load("M")
                .unwrap_err()
                .contains("not a valid state file")
        );
        let moved = store.set_aside("M").unwrap();
        assert!(moved.exists());
        assert!(!store.path("M").unwrap().exists());
    }

    #[test]
    fn a_second_store_on_a_directory_in_use_fails_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let _first = StateStore::open(dir.path(), &LockWait::No).unwrap();
        let second = StateStore::open(dir.path(), &LockWait::No).unwrap_err();
        let pid = std::process::id();
        assert!(
            second.to_string().contains(&format!("(pid {pid})")),
            "{second}"
        );
        let gave_up = StateStore::open(dir.path(), &LockWait::Until(Arc::new(|| true)));
        assert!(matches!(gave_up, Err(OpenError::GaveUp { .. })));
    }

    #[test]
    fn names_that_could_leave_the_directory_have_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(dir.path(), &LockWait::No).unwrap();
        for bad in ["..", ".", "a/b", "../x", ""] {
            assert_eq!(store.path(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_795_867_323), "2026-11-28 12:02:03 UTC");
    }
}
