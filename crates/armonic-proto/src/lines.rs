//! Log lines of a call, as they travel: in order, lines in a row from the same place (the
//! same location, lifecycle, state, provide, deployment and level) sharing it, so that a line
//! costs on the wire little more than its text. Expanded into [`LogRecord`]s only by whoever
//! shows them.

use armonic_lifecycle::{Level, LogRecord};
use serde::{Deserialize, Serialize};

/// Lines in a row from one place: location, lifecycle, state, provide, deployment, level,
/// and their texts. A tuple: no field names on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Run(
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Level,
    Vec<String>,
);

impl Run {
    fn holds(&self, r: &LogRecord) -> bool {
        self.5 == r.level
            && self.1 == r.lifecycle
            && self.2 == r.state
            && self.3 == r.provide
            && self.0 == r.location
            && self.4 == r.deployment
    }
}

/// Log lines, in order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LogBatch {
    runs: Vec<Run>,
}

/// One line of a [`LogBatch`], as borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineRef<'a> {
    /// Importance.
    pub level: Level,
    /// The location.
    pub location: &'a str,
    /// The lifecycle.
    pub lifecycle: &'a str,
    /// The state, when known.
    pub state: Option<&'a str>,
    /// The provide, when known.
    pub provide: Option<&'a str>,
    /// The deployment, when the call has one.
    pub deployment: Option<&'a str>,
    /// The text.
    pub message: &'a str,
}

impl LineRef<'_> {
    /// The line as a record of its own.
    pub fn record(&self) -> LogRecord {
        LogRecord {
            level: self.level,
            location: self.location.to_owned(),
            lifecycle: self.lifecycle.to_owned(),
            state: self.state.map(str::to_owned),
            provide: self.provide.map(str::to_owned),
            deployment: self.deployment.map(str::to_owned),
            message: self.message.to_owned(),
        }
    }
}

impl LogBatch {
    /// No line.
    pub fn new() -> LogBatch {
        LogBatch::default()
    }

    /// Adds a line from `(level, location, lifecycle, state, provide, deployment)` saying
    /// `message`: the place is copied only when it differs from the line before.
    #[allow(clippy::too_many_arguments)]
    pub fn push_parts(
        &mut self,
        level: Level,
        location: &str,
        lifecycle: &str,
        state: Option<&str>,
        provide: Option<&str>,
        deployment: Option<&str>,
        message: String,
    ) {
        if let Some(last) = self.runs.last_mut() {
            if last.5 == level
                && last.1 == lifecycle
                && last.2.as_deref() == state
                && last.3.as_deref() == provide
                && last.0 == location
                && last.4.as_deref() == deployment
            {
                last.6.push(message);
                return;
            }
        }
        self.runs.push(Run(
            location.to_owned(),
            lifecycle.to_owned(),
            state.map(str::to_owned),
            provide.map(str::to_owned),
            deployment.map(str::to_owned),
            level,
            vec![message],
        ));
    }

    /// Adds `record`.
    pub fn push(&mut self, record: LogRecord) {
        match self.runs.last_mut() {
            Some(last) if last.holds(&record) => last.6.push(record.message),
            _ => self.runs.push(Run(
                record.location,
                record.lifecycle,
                record.state,
                record.provide,
                record.deployment,
                record.level,
                vec![record.message],
            )),
        }
    }

    /// How many lines.
    pub fn len(&self) -> usize {
        self.runs.iter().map(|r| r.6.len()).sum()
    }

    /// Whether there is no line.
    pub fn is_empty(&self) -> bool {
        self.runs.iter().all(|r| r.6.is_empty())
    }

    /// The lines, in order, borrowed.
    pub fn iter(&self) -> impl Iterator<Item = LineRef<'_>> {
        self.runs.iter().flat_map(|r| {
            r.6.iter().map(move |m| LineRef {
                level: r.5,
                location: &r.0,
                lifecycle: &r.1,
                state: r.2.as_deref(),
                provide: r.3.as_deref(),
                deployment: r.4.as_deref(),
                message: m,
            })
        })
    }

    /// The lines, in order, as records of their own.
    pub fn records(&self) -> impl Iterator<Item = LogRecord> + '_ {
        self.iter().map(|l| l.record())
    }

    /// The batch cut into batches of about `bytes` of text at most (never less than a line),
    /// in order.
    pub fn split(self, bytes: usize) -> Vec<LogBatch> {
        let mut out = Vec::new();
        let mut current = LogBatch::new();
        let mut size = 0;
        for run in self.runs {
            let Run(location, lifecycle, state, provide, deployment, level, messages) = run;
            let mut part = Vec::new();
            for m in messages {
                size += m.len() + 2;
                part.push(m);
                if size >= bytes {
                    current.runs.push(Run(
                        location.clone(),
                        lifecycle.clone(),
                        state.clone(),
                        provide.clone(),
                        deployment.clone(),
                        level,
                        std::mem::take(&mut part),
                    ));
                    out.push(std::mem::take(&mut current));
                    size = 0;
                }
            }
            if !part.is_empty() {
                current.runs.push(Run(
                    location, lifecycle, state, provide, deployment, level, part,
                ));
            }
        }
        if !current.is_empty() {
            out.push(current);
        }
        out
    }
}

impl FromIterator<LogRecord> for LogBatch {
    fn from_iter<I: IntoIterator<Item = LogRecord>>(iter: I) -> LogBatch {
        let mut b = LogBatch::new();
        for r in iter {
            b.push(r);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(lifecycle: &str, message: &str) -> LogRecord {
        LogRecord {
            level: Level::Process,
            location: "web2".into(),
            lifecycle: lifecycle.into(),
            state: Some("On".into()),
            provide: Some("talk".into()),
            deployment: Some("d".into()),
            message: message.into(),
        }
    }

    #[test]
    fn lines_from_one_place_share_it_and_come_back_as_they_went() {
        let records = vec![
            line("A", "1"),
            line("A", "2"),
            line("B", "3"),
            line("A", "4"),
        ];
        let batch: LogBatch = records.iter().cloned().collect();
        assert_eq!(batch.runs.len(), 3);
        assert_eq!(batch.len(), 4);
        assert_eq!(batch.records().collect::<Vec<_>>(), records);
        let bytes = crate::frame::encode(&batch, crate::frame::MAX_FRAME).unwrap();
        let back: LogBatch = crate::frame::decode(&bytes[crate::frame::HEADER..]).unwrap();
        assert_eq!(back, batch);
    }

    #[test]
    fn a_line_costs_little_more_than_its_text_on_the_wire() {
        let text = ".".repeat(72);
        let batch: LogBatch = (0..1000).map(|_| line("Chatty", &text)).collect();
        let bytes = crate::frame::encode(&batch, crate::frame::MAX_FRAME).unwrap();
        assert!(bytes.len() < 1000 * 76, "{} bytes", bytes.len());
    }

    #[test]
    fn a_batch_is_cut_in_order_into_pieces_of_about_a_size() {
        let batch: LogBatch = (0..100)
            .map(|i| line(if i < 50 { "A" } else { "B" }, &format!("{i:08}")))
            .collect();
        let parts = batch.clone().split(100);
        assert!(parts.len() > 5);
        let again: Vec<LogRecord> = parts.iter().flat_map(|p| p.records()).collect();
        assert_eq!(again, batch.records().collect::<Vec<_>>());
    }
}
