//! Log lines produced by actions and by the engine, delivered to a [`LogSink`].
//!
//! Every line names the lifecycle, state and provide it comes from, so that a driver watching
//! a deployment sees what each location does, live.

use std::fmt;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// Importance of a line, from most to least severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Something failed.
    Error,
    /// Something looks wrong.
    Warning,
    /// Output of a command run by an action.
    Process,
    /// What an action reports (`log` steps).
    Info,
    /// Engine events: states entered and left, provides called.
    Event,
    /// Details.
    Debug,
}

impl Level {
    /// Parses `error`, `warning`, `info`, `debug`…
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_lowercase().as_str() {
            "error" => Level::Error,
            "warning" | "warn" => Level::Warning,
            "process" => Level::Process,
            "info" => Level::Info,
            "event" => Level::Event,
            "debug" => Level::Debug,
            _ => return None,
        })
    }

    /// Upper-case name, as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warning => "WARNING",
            Level::Process => "PROCESS",
            Level::Info => "INFO",
            Level::Event => "EVENT",
            Level::Debug => "DEBUG",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One log line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Importance.
    pub level: Level,
    /// The location (agent) name.
    pub location: String,
    /// The lifecycle the line comes from.
    pub lifecycle: String,
    /// The state, when known.
    pub state: Option<String>,
    /// The provide (`enter`, `leave`, `cross` or a custom provide), when known.
    pub provide: Option<String>,
    /// The deployment the call belongs to, when it has one.
    pub deployment: Option<String>,
    /// The text.
    pub message: String,
}

/// Receives log lines. Implementations must be cheap: they are called while an action runs.
pub trait LogSink: Send + Sync {
    /// Takes one line.
    fn log(&self, record: &LogRecord);
}

/// Emits lines as `tracing` events (target `armonic::action`); the default sink.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingSink;

impl LogSink for TracingSink {
    fn log(&self, r: &LogRecord) {
        let lf = r.lifecycle.as_str();
        match r.level {
            Level::Error => {
                tracing::error!(target: "armonic::action", lifecycle = lf, "{}", r.message)
            }
            Level::Warning => {
                tracing::warn!(target: "armonic::action", lifecycle = lf, "{}", r.message)
            }
            Level::Process | Level::Info => {
                tracing::info!(target: "armonic::action", lifecycle = lf, "{}", r.message)
            }
            Level::Event | Level::Debug => {
                tracing::debug!(target: "armonic::action", lifecycle = lf, "{}", r.message)
            }
        }
    }
}

/// Keeps every line in memory; handy in tests and to attach logs to a result.
#[derive(Debug, Default, Clone)]
pub struct MemorySink {
    records: Arc<Mutex<Vec<LogRecord>>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    /// A copy of the lines received so far.
    pub fn records(&self) -> Vec<LogRecord> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The messages of the lines at `level`.
    pub fn messages(&self, level: Level) -> Vec<String> {
        self.records()
            .into_iter()
            .filter(|r| r.level == level)
            .map(|r| r.message)
            .collect()
    }

    /// Forgets every line.
    pub fn clear(&self) {
        if let Ok(mut r) = self.records.lock() {
            r.clear();
        }
    }
}

impl LogSink for MemorySink {
    fn log(&self, record: &LogRecord) {
        if let Ok(mut r) = self.records.lock() {
            r.push(record.clone());
        }
    }
}
