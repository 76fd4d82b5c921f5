//! Log lines of a call, on their way to the deployment's room as the original's `log`
//! messages.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use armonic_lifecycle::{Level, LogRecord, LogSink};
use tokio::sync::mpsc;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::{Lang, Message};

use crate::stanza;

/// The groupchat message carrying one log line to `room`: a `<log>` payload with the
/// original's level number and name, and the text without terminal escapes as the body.
pub fn message(room: &BareJid, record: &LogRecord, deployment: &str) -> Message {
    Message::groupchat(Some(Jid::from(room.clone())))
        .with_body(Lang::new(), stanza::strip_ansi(&record.message))
        .with_payloads(vec![stanza::log(record.level, deployment)])
}

/// A warning line saying `count` lines could not be kept.
pub fn dropped(location: &str, count: usize, deployment: &str) -> LogRecord {
    LogRecord {
        level: Level::Warning,
        location: location.to_owned(),
        lifecycle: String::new(),
        state: None,
        provide: None,
        deployment: Some(deployment.to_owned()),
        message: format!(
            "{count} log lines of this call came too fast to be sent and were left out"
        ),
    }
}

/// A sink handing lines to a bounded channel without ever blocking the call: lines that do
/// not fit are counted, not kept.
pub struct ChannelSink {
    tx: Mutex<Option<mpsc::Sender<LogRecord>>>,
    dropped: AtomicUsize,
}

impl ChannelSink {
    /// A sink into `tx`.
    pub fn new(tx: mpsc::Sender<LogRecord>) -> ChannelSink {
        ChannelSink {
            tx: Mutex::new(Some(tx)),
            dropped: AtomicUsize::new(0),
        }
    }

    /// Takes no more lines: the channel closes once its lines are read. Returns how many lines
    /// were left out.
    pub fn close(&self) -> usize {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        self.dropped.load(Ordering::Relaxed)
    }
}

impl LogSink for ChannelSink {
    fn log(&self, record: &LogRecord) {
        let Ok(tx) = self.tx.lock() else {
            return;
        };
        if let Some(tx) = tx.as_ref()
            && tx.try_send(record.clone()).is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A sink that keeps nothing (calls whose lines go nowhere).
pub struct Discard;

impl LogSink for Discard {
    fn log(&self, _: &LogRecord) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(level: Level, message: &str) -> LogRecord {
        LogRecord {
            level,
            location: "vm".into(),
            lifecycle: "WebServer".into(),
            state: Some("Active".into()),
            provide: Some("enter".into()),
            deployment: Some("d-1".into()),
            message: message.into(),
        }
    }

    #[test]
    fn a_line_becomes_a_groupchat_message_with_the_originals_log_payload() {
        let room = BareJid::new("d-1@logs.example.com").unwrap();
        let m = message(
            &room,
            &record(Level::Info, "\x1b[32mWebserver listening on port 80\x1b[0m"),
            "d-1",
        );
        let xml = String::from(&xmpp_parsers::minidom::Element::from(m));
        assert!(xml.contains("type='groupchat'"), "{xml}");
        assert!(xml.contains("to='d-1@logs.example.com'"), "{xml}");
        assert!(
            xml.contains("<body>Webserver listening on port 80</body>"),
            "{xml}"
        );
        assert!(
            xml.contains(
                "<log xmlns='armonic'><level>20</level><level_name>info</level_name><deployment_id>d-1</deployment_id></log>"
            ),
            "{xml}"
        );
    }

    #[test]
    fn a_full_sink_counts_what_it_leaves_out_and_closes() {
        let (tx, mut rx) = mpsc::channel(2);
        let sink = ChannelSink::new(tx);
        for i in 0..5 {
            sink.log(&record(Level::Process, &format!("line {i}")));
        }
        assert_eq!(sink.close(), 3);
        sink.log(&record(Level::Info, "after close"));
        let mut got = Vec::new();
        while let Ok(r) = rx.try_recv() {
            got.push(r.message);
        }
        assert_eq!(got, ["line 0", "line 1"]);
        assert!(rx.is_closed());
    }
}
