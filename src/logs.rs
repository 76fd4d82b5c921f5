//! Log output of the command line: action lines on stderr, in color on a terminal.

use std::io::{IsTerminal, Write};

use armonic_lifecycle::{Level, LogRecord, LogSink};

/// Prints log lines at or above a level to stderr.
#[derive(Debug, Clone)]
pub struct StderrSink {
    pub max: Level,
    pub color: bool,
    pub json: bool,
    /// Name the location of each line (deployments over several locations).
    pub show_location: bool,
}

impl StderrSink {
    /// A sink for `verbose` (-v count) and `quiet`.
    pub fn new(verbose: u8, quiet: bool, no_color: bool, json: bool) -> StderrSink {
        let max = match (quiet, verbose) {
            (true, _) => Level::Warning,
            (false, 0) => Level::Info,
            (false, 1) => Level::Event,
            _ => Level::Debug,
        };
        StderrSink {
            max,
            color: !no_color && !json && std::io::stderr().is_terminal(),
            json,
            show_location: false,
        }
    }
}

fn color(level: Level) -> &'static str {
    match level {
        Level::Error => "\x1b[31m",
        Level::Warning => "\x1b[33m",
        Level::Process => "\x1b[36m",
        Level::Info => "\x1b[0m",
        Level::Event => "\x1b[32m",
        Level::Debug => "\x1b[34m",
    }
}

impl LogSink for StderrSink {
    fn log(&self, r: &LogRecord) {
        if r.level > self.max {
            return;
        }
        let source = if self.show_location && !r.location.is_empty() {
            format!("{}/{}", r.location, r.lifecycle)
        } else {
            r.lifecycle.clone()
        };
        let mut err = std::io::stderr().lock();
        let level = r.level.as_str();
        let _ = if self.json {
            serde_json::to_string(r)
                .map(|s| writeln!(err, "{s}"))
                .unwrap_or(Ok(()))
        } else if self.color {
            let c = color(r.level);
            writeln!(err, "{c}{level:<8}\x1b[0m [{source}] {}", r.message)
        } else {
            writeln!(err, "{level:<8} [{source}] {}", r.message)
        };
    }
}

/// Library diagnostics (`tracing`): warnings by default, more with -v. An agent (`agent`)
/// also says each call it runs, as it begins and ends (its lines are in its journal).
pub fn init_tracing(verbose: u8, quiet: bool, no_color: bool, agent: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0 | 1) => "warn",
        (false, 2) => "debug",
        _ => "trace",
    };
    let calls = if agent && !quiet && verbose < 2 {
        ",armonic_journal::host=info"
    } else {
        ""
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ARMONIC_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},armonic::action=off{calls}"))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(!no_color && std::io::stderr().is_terminal())
        .with_target(false)
        .without_time()
        .try_init();
}
