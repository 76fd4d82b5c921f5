//! `armonic journal`: the journal of an agent (or of every agent of the mesh): the calls it
//! ran, who asked, their log lines and outcomes, and the reads it answered.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use armonic_proto::journal::{Entry, Query, What};
use armonic_proto::serve::{ReadEvent, ReadRequest};
use armonic_proto::{CallId, DeploymentId};

use super::Ctx;
use crate::backend::{follow, me};
use crate::cli::{Format, JournalArgs};
use crate::render;
use crate::report::Usage;

/// A time given on the command line: RFC 3339, or a duration ago; in ms since the epoch.
fn time(text: &str, what: &str) -> Result<u64> {
    let at = match humantime::parse_duration(text) {
        Ok(ago) => SystemTime::now()
            .checked_sub(ago)
            .unwrap_or(UNIX_EPOCH),
        Err(_) => humantime::parse_rfc3339_weak(text).map_err(|_| {
            Usage(format!(
                "{what} {text}: give a time (2026-12-06T10:00:00Z, 2026-12-06 10:00:00) or a time ago (30s, 10m, 2h, 1d)"
            ))
        })?,
    };
    Ok(at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)))
}

/// The query `args` describe.
fn query(args: &JournalArgs) -> Result<Query> {
    Ok(Query {
        deployment: args.deployment.as_ref().map(DeploymentId::from_text),
        call: args.call.as_ref().map(CallId::from_text),
        lifecycle: args.lifecycle.clone(),
        caller: args.caller.clone(),
        since_ms: args
            .since
            .as_deref()
            .map(|t| time(t, "--since"))
            .transpose()?,
        until_ms: args
            .until
            .as_deref()
            .map(|t| time(t, "--until"))
            .transpose()?,
        no_lines: args.no_lines,
        no_reads: !args.reads,
        follow: args.follow,
    })
}

/// `2026-12-06T10:49:47.123Z`.
pub fn when(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// An entry of the journal of `location`, as a line for people.
pub fn line(location: &str, e: &Entry) -> String {
    let at = when(e.time_ms);
    match &e.what {
        What::Call {
            id,
            caller,
            on_behalf_of,
            deployment,
            request,
            ..
        } => {
            let who = caller
                .as_ref()
                .map_or_else(|| "someone".to_owned(), ToString::to_string);
            let mut text = format!(
                "{at} {location} call {id}: {} {} by {who}",
                request.method(),
                request
                    .address()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            );
            if let Some(o) = on_behalf_of {
                text.push_str(&format!(" for {o}"));
            }
            if let Some(d) = deployment {
                text.push_str(&format!(", deployment {d}"));
            }
            text
        }
        What::Line { record, .. } => {
            let source = match (&record.state, &record.provide) {
                (Some(s), Some(p)) => format!("{}/{s}/{p}", record.lifecycle),
                (Some(s), None) => format!("{}/{s}", record.lifecycle),
                _ => record.lifecycle.clone(),
            };
            format!(
                "{at} {location}   {:<8} [{source}] {}",
                record.level.as_str(),
                record.message
            )
        }
        What::End {
            id,
            lines,
            millis,
            result,
        } => {
            let outcome = match result {
                Ok(r) => match r {
                    armonic_proto::Response::ProvideCall(Some(v)) => {
                        format!("done: returned {}", render::value(v))
                    }
                    _ => "done".to_owned(),
                },
                Err(e) => format!("failed ({}): {e}", e.kind()),
            };
            let plural = if *lines == 1 { "" } else { "s" };
            format!(
                "{at} {location} end {id}: {outcome} ({lines} line{plural}, {:.1} s)",
                *millis as f64 / 1000.0
            )
        }
        What::Read {
            caller,
            on_behalf_of,
            method,
            address,
            error,
        } => {
            let who = caller
                .as_ref()
                .map_or_else(|| "someone".to_owned(), ToString::to_string);
            let mut text = format!(
                "{at} {location} read {method} {} by {who}",
                address.as_deref().unwrap_or("")
            );
            if let Some(o) = on_behalf_of {
                text.push_str(&format!(" for {o}"));
            }
            if let Some(k) = error {
                text.push_str(&format!(": {k}"));
            }
            text
        }
        What::Agent { message } => format!("{at} {location} agent {message}"),
    }
}

/// Shows the journal as `args` says.
pub fn run(cx: &Ctx<'_>, args: &JournalArgs) -> Result<ExitCode> {
    let backend = cx.backend()?;
    let read = ReadRequest {
        query: query(args)?,
        location: args.agent.clone(),
        all: args.all,
        caller: me(),
    };
    let json = cx.format() == Format::Json;
    let mut out = std::io::stdout().lock();
    let mut failed = None;
    follow(backend.read(read)?, cx.interrupt, |event| {
        match event {
            ReadEvent::Entries { location, entries } => {
                for e in &entries {
                    if json {
                        let mut v = serde_json::to_value(e)?;
                        if let Some(map) = v.as_object_mut() {
                            map.insert("location".into(), location.clone().into());
                        }
                        writeln!(out, "{v}")?;
                    } else {
                        writeln!(out, "{}", line(&location, e))?;
                    }
                }
            }
            ReadEvent::Missed { count } => eprintln!(
                "warning: {count} entries were no longer kept (the journal keeps so much: see docs/agent.md)"
            ),
            ReadEvent::Unread { location, error } => {
                eprintln!("warning: the journal of {location} could not be read: {error}");
            }
            ReadEvent::CaughtUp => out.flush()?,
            ReadEvent::Ended(error) => failed = error,
        }
        Ok(())
    })?;
    out.flush()?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    if let Some(code) = crate::report::interrupted_status(cx.interrupt) {
        // Following ends with Ctrl-C: that is how it is left.
        if args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        return Ok(code);
    }
    Ok(ExitCode::SUCCESS)
}
