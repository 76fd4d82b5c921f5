//! Log lines of a call, on their way to the deployment's room as the original's `log`
//! messages.

use armonic_lifecycle::{Level, LogRecord};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::{Lang, Message};

use crate::stanza;

/// The groupchat message carrying one log line to `room`: a `<log>` payload with the
/// original's level number and name, and the text without terminal escapes as the body (cut
/// at [`LOG_LINE_BYTES`](crate::limits::LOG_LINE_BYTES), saying its size).
pub fn message(room: &BareJid, record: &LogRecord, deployment: &str) -> Message {
    Message::groupchat(Some(Jid::from(room.clone())))
        .with_body(
            Lang::new(),
            crate::limits::cut(
                &stanza::strip_ansi(&record.message),
                crate::limits::LOG_LINE_BYTES,
            ),
        )
        .with_payloads(vec![stanza::log(record.level, deployment)])
}

/// A warning line saying `count` lines of a call were no longer kept when the room got to
/// them (its agent's journal had moved on).
pub fn missed(location: &str, count: u64, deployment: &str) -> LogRecord {
    LogRecord {
        level: Level::Warning,
        location: location.to_owned(),
        lifecycle: String::new(),
        state: None,
        provide: None,
        deployment: Some(deployment.to_owned()),
        message: format!(
            "{count} log lines of this call were no longer kept when this room got to them"
        ),
    }
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
}
