//! How much the bridge says at once: inputs quoted in messages are shortened, messages have a
//! longest length, and no stanza it sends is larger than the server accepts.
//!
//! An XMPP server closes the stream of a client that sends a stanza over its size limit
//! (Prosody's and ejabberd's default: 256 KiB): for an agent's client, that is the agent
//! offline for everyone. So every stanza built from data (answers, errors, forms, log lines)
//! is kept within [`Config::stanza_limit`](crate::Config::stanza_limit), by the code that
//! builds it (shortened text, a clear marker of what was left out) and, as a last resort, by
//! the client that sends it ([`fits`]).

use xmpp_parsers::minidom::Element;

/// The stanza size limit of Prosody and ejabberd when not configured otherwise.
pub const DEFAULT_STANZA_LIMIT: usize = 256 * 1024;

/// The smallest stanza limit the bridge accepts (its own errors must fit).
pub const MIN_STANZA_LIMIT: usize = 4 * 1024;

/// What is kept for the envelope of a payload (the IQ or message around it, the addresses).
pub const ENVELOPE: usize = 1024;

/// Most characters of an input quoted in a message.
pub const QUOTED_CHARS: usize = 200;

/// Longest text of a message (an exception's, a note's, an error's), in bytes.
pub const MESSAGE_BYTES: usize = 4096;

/// Longest body of a log line in a room, in bytes.
pub const LOG_LINE_BYTES: usize = 32 * 1024;

/// `input` quoted for a message: `'…'` whole when short, else its first
/// [`QUOTED_CHARS`] characters and its size: `'abc…' (45000 bytes)`.
pub fn quote(input: &str) -> String {
    match input.char_indices().nth(QUOTED_CHARS) {
        None => format!("'{input}'"),
        Some((end, _)) => format!("'{}…' ({} bytes)", &input[..end], input.len()),
    }
}

/// The largest index at most `at` that is a character boundary of `text`.
fn floor_boundary(text: &str, at: usize) -> usize {
    let mut i = at.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest index at least `at` that is a character boundary of `text`.
fn ceil_boundary(text: &str, at: usize) -> usize {
    let mut i = at.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// `text` in at most about `max` bytes: whole when it fits, else its beginning and its end
/// around a marker saying how much was left out (the end of a failed command's output says
/// most).
pub fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let room = max.saturating_sub(64);
    let head = floor_boundary(text, room / 4);
    let tail = ceil_boundary(text, text.len() - (room - room / 4));
    let tail = tail.max(head);
    format!(
        "{}… ({} bytes left out) …{}",
        &text[..head],
        tail - head,
        &text[tail..]
    )
}

/// `text` in at most about `max` bytes, from its beginning: `…(N bytes in all)` marks a cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let end = floor_boundary(text, max.saturating_sub(32));
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

/// Counts the bytes written to it.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The size of `element` written out as XML, in bytes.
pub fn size(element: &Element) -> usize {
    let mut c = Counter(0);
    match element.write_to(&mut c) {
        Ok(()) => c.0,
        // Not writable: it will not be sent whole either.
        Err(_) => usize::MAX,
    }
}

/// Whether `element` (a whole stanza) fits under `limit`.
pub fn fits(element: &Element, limit: usize) -> bool {
    size(element) <= limit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_input_is_quoted_whole_and_a_long_one_shortened_with_its_size() {
        assert_eq!(quote("//a[b"), "'//a[b'");
        let long = "é".repeat(30_000);
        let q = quote(&long);
        assert!(q.len() < 500, "{}", q.len());
        assert!(q.ends_with("…' (60000 bytes)"), "{q}");
        assert_eq!(q.matches('é').count(), QUOTED_CHARS);
    }

    #[test]
    fn clipped_text_keeps_its_beginning_and_its_end_and_says_what_was_left_out() {
        assert_eq!(clip("short", 100), "short");
        let text = format!(
            "{}{}{}",
            "a".repeat(1000),
            "b".repeat(100_000),
            "c".repeat(1000)
        );
        let c = clip(&text, MESSAGE_BYTES);
        assert!(c.len() <= MESSAGE_BYTES + 64, "{}", c.len());
        assert!(c.starts_with("aaa") && c.ends_with("ccc"), "{c}");
        assert!(c.contains("bytes left out"), "{c}");
        let multibyte = "é".repeat(10_000);
        assert!(clip(&multibyte, 101).len() <= 101 + 64);
    }

    #[test]
    fn cut_text_keeps_its_beginning_and_says_its_size() {
        assert_eq!(cut("short", 100), "short");
        let c = cut(&"x".repeat(10_000), 1000);
        assert!(c.len() <= 1000 + 32, "{}", c.len());
        assert!(c.ends_with("… (10000 bytes in all)"), "{c}");
    }

    #[test]
    fn sizes_are_the_bytes_of_the_written_xml() {
        let e: Element = "<a xmlns='x'><b>text</b></a>".parse().unwrap();
        assert_eq!(size(&e), String::from(&e).len());
        assert!(fits(&e, 100));
        assert!(!fits(&e, 10));
    }
}
