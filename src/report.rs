//! How a failed command ends: one line on stderr (or a JSON error on stdout with
//! `--format json`) and an exit status that tells why (docs/cli.md).

use std::process::ExitCode;

use armonic_lifecycle::Interrupt;

use crate::cli::Format;

/// Writes to standard output like `print!`, returning the error instead of panicking (a
/// closed pipe, as with `armonic journal | head`, ends the command quietly: see [`failure`]).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// Writes a line to standard output like `println!`, returning the error instead of
/// panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

pub(crate) use {out, outln};

/// The exit status of a command whose output was closed under it (`| head`): what a
/// process killed by SIGPIPE gets, without a word.
const CLOSED_OUTPUT: u8 = 128 + 13;

/// Whether `e` comes from standard output closed by its reader.
fn closed_output(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// A command line that cannot be used as given (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// The error's message with its causes, each said once: a cause whose text the message
/// already holds is not repeated.
pub fn message(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

/// A stable name of the kind of error, for scripts.
pub fn kind(e: &anyhow::Error, interrupt: &Interrupt) -> &'static str {
    if interrupt.is_stopping() {
        return "interrupted";
    }
    for cause in e.chain() {
        if cause.is::<Usage>() {
            return "usage";
        }
        if let Some(e) = cause.downcast_ref::<armonic_proto::ApiError>() {
            return e.kind();
        }
        if let Some(e) = cause.downcast_ref::<armonic_lifecycle::Error>() {
            return e.kind();
        }
        if cause.is::<armonic_agent::ConnectError>() {
            return "unreachable";
        }
        if let Some(e) = cause.downcast_ref::<armonic_smart::Error>() {
            return match e {
                armonic_smart::Error::Aborted(_) => "aborted",
                armonic_smart::Error::Agent { source, .. } => source.kind(),
                _ => "deployment",
            };
        }
    }
    "error"
}

/// The exit status of an interrupted command: 128 + the signal (130 for Ctrl-C, 143 for
/// SIGTERM).
pub fn interrupted_status(interrupt: &Interrupt) -> Option<ExitCode> {
    if !interrupt.is_stopping() {
        return None;
    }
    let signal = interrupt.signal().unwrap_or(2);
    Some(ExitCode::from(u8::try_from(128 + signal).unwrap_or(130)))
}

/// Prints `e` and returns the exit status.
pub fn failure(e: &anyhow::Error, format: Format, interrupt: &Interrupt) -> ExitCode {
    if closed_output(e) {
        return ExitCode::from(CLOSED_OUTPUT);
    }
    let kind = kind(e, interrupt);
    let message = message(e);
    match format {
        Format::Json => {
            // Nowhere left to say it if this fails too.
            let _ = outln!(
                "{}",
                serde_json::json!({ "error": { "kind": kind, "message": message } })
            );
        }
        Format::Text => eprintln!("error: {message}"),
    }
    if let Some(code) = interrupted_status(interrupt) {
        return code;
    }
    if kind == "usage" {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_already_in_the_message_are_said_once() {
        let io = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let text = io.to_string();
        let e = anyhow::Error::new(io).context(format!("cannot write /x: {text}"));
        assert_eq!(message(&e), format!("cannot write /x: {text}"));
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(message(&e), "outer: inner");
    }
}
