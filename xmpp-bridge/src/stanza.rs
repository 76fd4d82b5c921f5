//! The payloads of the original's protocol, namespace `armonic`: `<call>`, `<status>`,
//! `<result>`, `<exception>` (in IQs) and `<log>` (in groupchat messages).

use armonic_lifecycle::Level;
use serde_json::Value as Json;
use xmpp_parsers::minidom::Element;

use crate::original::Fault;

/// The namespace of every payload.
pub const NS: &str = "armonic";

/// The status of a call that started running.
pub const EXECUTING: &str = "executing";
/// The status a caller acknowledges a result with.
pub const RECEIVED: &str = "received";
/// The status of a call of a method that does not exist.
pub const NOT_FOUND: &str = "not found";

/// The longest `<deployment_id>` taken, in bytes (the original's are UUIDs, 36 bytes): the
/// id is said back with every answer and names a room.
pub const MAX_DEPLOYMENT_ID: usize = 200;

/// A `<call>`: `<method>`, `<params>` (JSON `{"args": [...], "kwargs": {...}}`) and
/// `<deployment_id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallPayload {
    /// The method's name.
    pub method: String,
    /// The JSON text of the arguments (may be empty).
    pub params: String,
    /// The deployment the call belongs to, if any.
    pub deployment: Option<String>,
}

fn child_text(element: &Element, name: &str) -> Option<String> {
    element.get_child(name, NS).map(Element::text)
}

fn text_element(name: &str, text: impl Into<String>) -> Element {
    Element::builder(name, NS).append(text.into()).build()
}

/// Whether `payload` is an element `name` of the namespace.
pub fn is(payload: &Element, name: &str) -> bool {
    payload.is(name, NS)
}

/// Reads a `<call>`. `None` when the payload is not one; a fault when it is one without a
/// method.
pub fn parse_call(payload: &Element) -> Option<Result<CallPayload, Fault>> {
    if !is(payload, "call") {
        return None;
    }
    let deployment = child_text(payload, "deployment_id").filter(|d| !d.trim().is_empty());
    if let Some(d) = deployment.as_ref().filter(|d| d.len() > MAX_DEPLOYMENT_ID) {
        return Some(Err(Fault::new(
            "ValueError",
            format!(
                "deployment_id {} is too long: at most {MAX_DEPLOYMENT_ID} bytes",
                crate::limits::quote(d)
            ),
        )));
    }
    Some(match child_text(payload, "method") {
        Some(method) if !method.trim().is_empty() => Ok(CallPayload {
            method: method.trim().to_owned(),
            params: child_text(payload, "params").unwrap_or_default(),
            deployment,
        }),
        _ => Err(Fault::new("ValueError", "the call names no method")),
    })
}

/// A `<call>` (what clients send).
pub fn call(method: &str, params: &Json, deployment: Option<&str>) -> Element {
    let mut e = Element::builder("call", NS)
        .append(text_element("method", method))
        .append(text_element("params", params.to_string()))
        .build();
    if let Some(d) = deployment {
        e.append_child(text_element("deployment_id", d));
    }
    e
}

fn with_deployment(mut e: Element, deployment: Option<&str>) -> Element {
    if let Some(d) = deployment {
        e.append_child(text_element("deployment_id", d));
    }
    e
}

/// `<status><value>…</value><deployment_id>…</deployment_id></status>`.
pub fn status(value: &str, deployment: Option<&str>) -> Element {
    with_deployment(
        Element::builder("status", NS)
            .append(text_element("value", value))
            .build(),
        deployment,
    )
}

/// `<result><value>JSON</value><deployment_id>…</deployment_id></result>`.
pub fn result(value: &Json, deployment: Option<&str>) -> Element {
    with_deployment(
        Element::builder("result", NS)
            .append(text_element("value", value.to_string()))
            .build(),
        deployment,
    )
}

/// `<exception><code>Class</code><message>…</message><deployment_id>…</deployment_id></exception>`.
pub fn exception(fault: &Fault, deployment: Option<&str>) -> Element {
    with_deployment(
        Element::builder("exception", NS)
            .append(text_element("code", fault.code.clone()))
            .append(text_element("message", fault.message.clone()))
            .build(),
        deployment,
    )
}

/// `<log><level>20</level><level_name>info</level_name><deployment_id>…</deployment_id></log>`.
pub fn log(level: Level, deployment: &str) -> Element {
    Element::builder("log", NS)
        .append(text_element("level", level_number(level).to_string()))
        .append(text_element("level_name", level_name(level)))
        .append(text_element("deployment_id", deployment))
        .build()
}

/// The value of a `<status>`.
pub fn status_value(payload: &Element) -> Option<String> {
    is(payload, "status")
        .then(|| child_text(payload, "value"))
        .flatten()
}

/// The JSON value of a `<result>` (`Null` if its text is not JSON).
pub fn result_value(payload: &Element) -> Option<Json> {
    if !is(payload, "result") {
        return None;
    }
    let text = child_text(payload, "value").unwrap_or_default();
    Some(serde_json::from_str(&text).unwrap_or(Json::Null))
}

/// The fault an `<exception>` carries.
pub fn exception_fault(payload: &Element) -> Option<Fault> {
    is(payload, "exception").then(|| Fault {
        code: child_text(payload, "code").unwrap_or_default(),
        message: child_text(payload, "message").unwrap_or_default(),
    })
}

/// The `<deployment_id>` of any payload.
pub fn deployment_of(payload: &Element) -> Option<String> {
    child_text(payload, "deployment_id")
}

/// The original's number of a level (Python's logging numbers, and its own `PROCESS` 25 and
/// `EVENT` 15).
pub fn level_number(level: Level) -> u8 {
    match level {
        Level::Error => 40,
        Level::Warning => 30,
        Level::Process => 25,
        Level::Info => 20,
        Level::Event => 15,
        Level::Debug => 10,
    }
}

/// The original's lower-case name of a level.
pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Process => "process",
        Level::Info => "info",
        Level::Event => "event",
        Level::Debug => "debug",
    }
}

/// `text` without terminal escape sequences (colours, cursor moves, titles).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // CSI: parameters and intermediates, then one final byte in @..~.
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ESC \.
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\x07' {
                        break;
                    }
                    if c == '\x1b' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            // Two-character sequences (ESC c, ESC 7…).
            Some(_) | None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    #[test]
    fn a_call_as_the_original_clients_send_it_is_read() {
        let e = parse(
            r#"<call xmlns="armonic"><method>provide_call</method><params>{"args": [], "kwargs": {"provide_xpath_uri": "//WebServer//start"}}</params><deployment_id>d-1</deployment_id></call>"#,
        );
        let c = parse_call(&e).unwrap().unwrap();
        assert_eq!(c.method, "provide_call");
        assert_eq!(c.deployment.as_deref(), Some("d-1"));
        let params: Json = serde_json::from_str(&c.params).unwrap();
        assert_eq!(
            params["kwargs"]["provide_xpath_uri"],
            json!("//WebServer//start")
        );
    }

    #[test]
    fn a_call_without_method_is_a_fault_and_other_payloads_are_not_calls() {
        let e = parse(r#"<call xmlns="armonic"><params>{}</params></call>"#);
        assert_eq!(parse_call(&e).unwrap().unwrap_err().code, "ValueError");
        let other = parse(r#"<call xmlns="elsewhere"><method>info</method></call>"#);
        assert!(parse_call(&other).is_none());
        let empty = parse(r#"<call xmlns="armonic"><method>info</method><deployment_id/></call>"#);
        assert_eq!(parse_call(&empty).unwrap().unwrap().deployment, None);
    }

    #[test]
    fn replies_are_written_as_the_original_wrote_them() {
        let s = status(EXECUTING, Some("d-1"));
        assert_eq!(
            String::from(&s),
            "<status xmlns='armonic'><value>executing</value><deployment_id>d-1</deployment_id></status>"
        );
        let r = result(&json!({"url": "http://vm:80"}), None);
        assert_eq!(result_value(&r), Some(json!({"url": "http://vm:80"})));
        let f = Fault::new("XpathNotMatch", "//X matches nothing");
        let x = exception(&f, Some("d-2"));
        assert_eq!(exception_fault(&x), Some(f));
        assert_eq!(deployment_of(&x).as_deref(), Some("d-2"));
        assert_eq!(status_value(&s).as_deref(), Some("executing"));
    }

    #[test]
    fn log_payloads_carry_the_originals_level_numbers_and_names() {
        let e = log(Level::Process, "d-1");
        assert_eq!(
            String::from(&e),
            "<log xmlns='armonic'><level>25</level><level_name>process</level_name><deployment_id>d-1</deployment_id></log>"
        );
        let numbers: Vec<u8> = [
            Level::Error,
            Level::Warning,
            Level::Process,
            Level::Info,
            Level::Event,
            Level::Debug,
        ]
        .into_iter()
        .map(level_number)
        .collect();
        assert_eq!(numbers, [40, 30, 25, 20, 15, 10]);
    }

    #[test]
    fn terminal_escapes_are_stripped_from_log_text() {
        assert_eq!(strip_ansi("\x1b[1;32mOK\x1b[0m done"), "OK done");
        assert_eq!(strip_ansi("\x1b]0;title\x07text"), "text");
        assert_eq!(strip_ansi("\x1b]0;title\x1b\\text"), "text");
        assert_eq!(strip_ansi("plain é"), "plain é");
        assert_eq!(strip_ansi("cut\x1b"), "cut");
    }

    #[test]
    fn a_call_built_here_reads_back() {
        let e = call("info", &json!({"args": [], "kwargs": {}}), Some("d"));
        let c = parse_call(&e).unwrap().unwrap();
        assert_eq!(c.method, "info");
        assert_eq!(c.deployment.as_deref(), Some("d"));
    }
}
