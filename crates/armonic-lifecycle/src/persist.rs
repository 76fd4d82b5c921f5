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

use std::io::Read;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::action::write_file;
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
}

/// A state directory.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

impl StateStore {
    /// Opens (creating it, owner-only) the state directory `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<StateStore> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        let dir = dir.into();
        let lifecycles = dir.join("lifecycles");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&lifecycles)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        Ok(StateStore { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of lifecycle `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join("lifecycles").join(format!("{name}.json"))
    }

    /// Names of the lifecycles with a saved state.
    pub fn saved(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("lifecycles")) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".json"))
                    .map(str::to_owned)
            })
            .collect();
        names.sort();
        names
    }

    /// Reads the state of `name`: `Ok(None)` when there is none, `Err(reason)` when the file
    /// is unreadable or malformed.
    pub fn load(&self, name: &str) -> Result<Option<StateFile>, String> {
        let path = self.path(name);
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
        let data = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
        write_file(&self.path(&state.lifecycle), &data, 0o600)
    }

    /// Moves the file of `name` aside and returns where it went.
    pub fn set_aside(&self, name: &str) -> std::io::Result<PathBuf> {
        let from = self.path(name);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_state_reads_back_and_bad_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(dir.path()).unwrap();
        let state = StateFile {
            format: FORMAT,
            lifecycle: "L".into(),
            stack: vec!["A".into()],
            entered: IndexMap::new(),
        };
        store.save(&state).unwrap();
        assert_eq!(store.load("L").unwrap(), Some(state));
        assert_eq!(store.load("M").unwrap(), None);
        std::fs::write(store.path("M"), "{oops").unwrap();
        assert!(
            store
                .load("M")
                .unwrap_err()
                .contains("not a valid state file")
        );
        let moved = store.set_aside("M").unwrap();
        assert!(moved.exists());
        assert!(!store.path("M").exists());
    }
}
