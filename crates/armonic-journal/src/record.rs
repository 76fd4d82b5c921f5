//! How entries are written in the journal's files: one JSON object per line, its kind first,
//! short keys. A call's lines name the call by the position of its start (`c`), not by its
//! id, to keep them short; the reader puts the id back.

use armonic_lifecycle::{Level, LogRecord};
use armonic_proto::journal::{Entry, What};
use armonic_proto::{ApiError, CallId, Caller, DeploymentId, Request, Response};
use serde::{Deserialize, Serialize};

/// One line of a journal file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Record {
    /// A call that changes states began.
    Call {
        n: u64,
        t: u64,
        id: CallId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<Caller>,
        #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
        on_behalf_of: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dep: Option<DeploymentId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lc: Option<String>,
        req: Request,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plan: Option<std::sync::Arc<armonic_proto::DeploymentDoc>>,
    },
    /// A log line of the call that began at `c`.
    Line {
        n: u64,
        t: u64,
        c: u64,
        s: u64,
        v: Level,
        lc: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        st: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        p: Option<String>,
        m: String,
    },
    /// The end of the call that began at `c`.
    End {
        n: u64,
        t: u64,
        c: u64,
        lines: u64,
        ms: u64,
        res: Result<Response, ApiError>,
    },
    /// A read answered.
    Read {
        n: u64,
        t: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<Caller>,
        #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
        on_behalf_of: Option<String>,
        m: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        a: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        err: Option<String>,
    },
    /// Something of the agent itself.
    Agent { n: u64, t: u64, m: String },
    /// The first line of a file: the calls that were running when it began (their starts
    /// are in earlier files).
    Open { n: u64, t: u64, calls: Vec<u64> },
}

/// What the journal knows of a call, to rebuild its lines and end as entries.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Meta {
    pub id: CallId,
    pub deployment: Option<DeploymentId>,
    pub caller: Option<Caller>,
    pub on_behalf_of: Option<String>,
    /// The lifecycle it called, when the agent could tell.
    pub lifecycle: Option<String>,
}

impl Record {
    /// Its position.
    pub fn n(&self) -> u64 {
        match self {
            Record::Call { n, .. }
            | Record::Line { n, .. }
            | Record::End { n, .. }
            | Record::Read { n, .. }
            | Record::Agent { n, .. }
            | Record::Open { n, .. } => *n,
        }
    }

    /// About what it takes in memory, for a journal kept only there.
    pub fn size_in_memory(&self) -> usize {
        match self {
            Record::Line { lc, st, p, m, .. } => {
                128 + lc.len()
                    + m.len()
                    + st.as_ref().map_or(0, String::len)
                    + p.as_ref().map_or(0, String::len)
            }
            _ => 512,
        }
    }

    /// The call it is about, by the position of its start.
    pub fn key(&self) -> Option<u64> {
        match self {
            Record::Call { n, .. } => Some(*n),
            Record::Line { c, .. } | Record::End { c, .. } => Some(*c),
            _ => None,
        }
    }

    /// As an entry of the journal of `location`; `meta` gives what is known of the call of
    /// a line or an end (`None` when it is not known any more: the entry is then left out).
    pub fn entry(&self, location: &str, meta: Option<&Meta>) -> Option<Entry> {
        let (n, time_ms, what) = match self {
            Record::Call {
                n,
                t,
                id,
                by,
                on_behalf_of,
                dep,
                lc,
                req,
                step,
                plan,
            } => (
                *n,
                *t,
                What::Call {
                    id: id.clone(),
                    caller: by.clone(),
                    on_behalf_of: on_behalf_of.clone(),
                    deployment: dep.clone(),
                    lifecycle: lc.clone(),
                    request: req.clone(),
                    step: step.clone(),
                    plan: plan.clone(),
                },
            ),
            Record::Line {
                n,
                t,
                s,
                v,
                lc,
                st,
                p,
                m,
                ..
            } => {
                let meta = meta?;
                (
                    *n,
                    *t,
                    What::Line {
                        id: meta.id.clone(),
                        seq: *s,
                        record: LogRecord {
                            level: *v,
                            location: location.to_owned(),
                            lifecycle: lc.clone(),
                            state: st.clone(),
                            provide: p.clone(),
                            deployment: meta.deployment.as_ref().map(ToString::to_string),
                            message: m.clone(),
                        },
                    },
                )
            }
            Record::End {
                n,
                t,
                lines,
                ms,
                res,
                ..
            } => (
                *n,
                *t,
                What::End {
                    id: meta?.id.clone(),
                    lines: *lines,
                    millis: *ms,
                    result: res.clone(),
                },
            ),
            Record::Read {
                n,
                t,
                by,
                on_behalf_of,
                m,
                a,
                err,
            } => (
                *n,
                *t,
                What::Read {
                    caller: by.clone(),
                    on_behalf_of: on_behalf_of.clone(),
                    method: m.clone(),
                    address: a.clone(),
                    error: err.clone(),
                },
            ),
            Record::Agent { n, t, m } => (*n, *t, What::Agent { message: m.clone() }),
            Record::Open { .. } => return None,
        };
        Some(Entry { n, time_ms, what })
    }
}

/// The line a record is written as (with its newline).
pub(crate) fn to_line(record: &Record) -> Vec<u8> {
    let mut out = Vec::new();
    write_line(record, &mut out);
    out
}

/// Writes the line of `record` (with its newline) to `out`, emptied first.
pub(crate) fn write_line(record: &Record, out: &mut Vec<u8>) {
    out.clear();
    if let Err(e) = serde_json::to_writer(&mut *out, record) {
        // Everything in a record serializes; say so rather than lose the entry silently.
        out.clear();
        out.extend_from_slice(
            format!(
                r#"{{"agent":{{"n":{},"t":0,"m":"unwritable entry: {}"}}}}"#,
                record.n(),
                e.to_string().replace('"', "'")
            )
            .as_bytes(),
        );
    }
    out.push(b'\n');
}

/// The position a line of a journal file holds, read without decoding the rest of it:
/// `{"kind":{"n":123,…`.
pub(crate) fn position(line: &[u8]) -> Option<u64> {
    let start = line.windows(5).position(|w| w == b"{\"n\":")? + 5;
    let digits = line[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&line[start..start + digits])
        .ok()?
        .parse()
        .ok()
}

/// The kind of a line of a journal file, read without decoding the rest: `call`, `line`…
pub(crate) fn kind(line: &[u8]) -> Option<&str> {
    let rest = line.strip_prefix(b"{\"")?;
    let end = rest.iter().position(|b| *b == b'"')?;
    std::str::from_utf8(&rest[..end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_record_is_short_and_says_its_kind_and_position_first() {
        let r = Record::Line {
            n: 42,
            t: 1_700_000_000_000,
            c: 40,
            s: 1,
            v: Level::Process,
            lc: "Chatty".into(),
            st: Some("On".into()),
            p: Some("talk".into()),
            m: "hello \"you\"".into(),
        };
        let line = to_line(&r);
        let text = String::from_utf8(line.clone()).unwrap();
        assert_eq!(
            text,
            "{\"line\":{\"n\":42,\"t\":1700000000000,\"c\":40,\"s\":1,\"v\":\"process\",\"lc\":\"Chatty\",\"st\":\"On\",\"p\":\"talk\",\"m\":\"hello \\\"you\\\"\"}}\n"
        );
        assert_eq!(position(&line), Some(42));
        assert_eq!(kind(&line), Some("line"));
        let back: Record = serde_json::from_slice(&line).unwrap();
        assert_eq!(back.n(), 42);
        assert_eq!(back.key(), Some(40));
    }
}
