//! `armonic watch ID`: a deployment's log lines, from every live agent of the mesh, those
//! written before the watch began included, until Ctrl-C.

use std::process::ExitCode;

use anyhow::Result;
use armonic_lifecycle::{Level, LogRecord};
use armonic_proto::DeploymentId;
use armonic_proto::journal::{Query, What};
use armonic_proto::serve::{ReadEvent, ReadRequest};

use super::Ctx;
use crate::backend::{follow, me};

/// Follows deployment `id` until Ctrl-C.
pub fn run(cx: &Ctx<'_>, id: &str) -> Result<ExitCode> {
    let backend = cx.backend()?;
    let logs = backend.logs().clone();
    let read = ReadRequest {
        query: Query {
            deployment: Some(DeploymentId::from_text(id)),
            no_reads: true,
            follow: true,
            ..Query::default()
        },
        location: None,
        all: true,
        caller: me(),
    };
    let mut failed = None;
    follow(backend.read(read)?, cx.interrupt, |event| {
        match event {
            ReadEvent::Entries { location, entries } => {
                for e in entries {
                    match e.what {
                        What::Line { record, .. } => logs.log(&record),
                        What::Call { request, .. } => logs.log(&LogRecord {
                            level: Level::Event,
                            location: location.clone(),
                            lifecycle: String::new(),
                            state: None,
                            provide: None,
                            deployment: Some(id.to_owned()),
                            message: format!(
                                "{} {} begins on {location}",
                                request.method(),
                                request
                                    .address()
                                    .map(ToString::to_string)
                                    .unwrap_or_default()
                            ),
                        }),
                        What::End { result, .. } => logs.log(&LogRecord {
                            level: if result.is_ok() {
                                Level::Event
                            } else {
                                Level::Error
                            },
                            location: location.clone(),
                            lifecycle: String::new(),
                            state: None,
                            provide: None,
                            deployment: Some(id.to_owned()),
                            message: match result {
                                Ok(_) => format!("the call on {location} ended"),
                                Err(e) => format!("the call on {location} failed: {e}"),
                            },
                        }),
                        What::Read { .. } | What::Agent { .. } => {}
                    }
                }
            }
            ReadEvent::Missed { count } => {
                eprintln!("warning: {count} entries of the deployment were no longer kept");
            }
            ReadEvent::Unread { location, error } => {
                eprintln!("warning: the journal of {location} could not be read: {error}");
            }
            ReadEvent::CaughtUp => {}
            ReadEvent::Ended(error) => failed = error,
        }
        Ok(())
    })?;
    if let Some(code) = crate::report::interrupted_status(cx.interrupt) {
        return Ok(code);
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}
