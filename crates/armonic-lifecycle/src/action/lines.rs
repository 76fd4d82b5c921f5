//! Cutting a command's output into log lines with bounded memory, whatever it prints.
//!
//! A line ends at `\n` or `\r\n`. A line longer than [`MAX_LINE`] comes out in pieces of at
//! most that size, never cut inside a UTF-8 character. A segment ended by a bare `\r` (a
//! progress bar redrawing itself) is shown at most once per [`PROGRESS_INTERVAL`]; the last
//! one before a line or the end of the output is always shown, so the final state is kept.

use std::time::{Duration, Instant};

/// Longest line sent to the logs; longer lines are split into pieces of this size.
pub const MAX_LINE: usize = 64 * 1024;
/// Least time between two progress segments shown.
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

/// Turns chunks of output into lines. Holds at most one line being read and one progress
/// segment not shown yet, each at most [`MAX_LINE`] bytes.
#[derive(Debug, Default)]
pub(crate) struct Splitter {
    /// The line being read.
    pending: Vec<u8>,
    /// When the last byte read was a `\r`, when it came: a line end if `\n` follows, a
    /// progress segment (of that time) if not.
    cr: Option<Instant>,
    /// The last progress segment, when it was not shown.
    held: Option<Vec<u8>>,
    /// When a progress segment was last shown.
    shown: Option<Instant>,
    /// The last segment was a progress segment (an empty line after it is not shown).
    after_progress: bool,
}

impl Splitter {
    /// Reads `bytes`, pushing every line they complete to `out`.
    pub fn push(&mut self, mut bytes: &[u8], now: Instant, out: &mut Vec<String>) {
        while let Some(&first) = bytes.first() {
            if let Some(at) = self.cr.take() {
                if first == b'\n' {
                    bytes = &bytes[1..];
                    self.end_line(out);
                    continue;
                }
                self.end_progress(at, out);
            }
            match bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(i) => {
                    self.extend(&bytes[..i], out);
                    if bytes[i] == b'\n' {
                        self.end_line(out);
                    } else {
                        self.cr = Some(now);
                    }
                    bytes = &bytes[i + 1..];
                }
                None => {
                    self.extend(bytes, out);
                    bytes = &[];
                }
            }
        }
    }

    /// The output ended: pushes what is left.
    pub fn finish(&mut self, out: &mut Vec<String>) {
        if let Some(at) = self.cr.take() {
            self.end_progress(at, out);
        }
        self.show_held(out);
        if !self.pending.is_empty() {
            out.push(decode(&std::mem::take(&mut self.pending)));
        }
    }

    /// Adds `bytes` to the line, sending pieces out as the line reaches [`MAX_LINE`].
    fn extend(&mut self, mut bytes: &[u8], out: &mut Vec<String>) {
        while self.pending.len() + bytes.len() > MAX_LINE {
            let room = MAX_LINE - self.pending.len();
            self.pending.extend_from_slice(&bytes[..room]);
            bytes = &bytes[room..];
            let cut = complete_prefix(&self.pending);
            let rest = self.pending.split_off(cut);
            let piece = std::mem::replace(&mut self.pending, rest);
            self.show_held(out);
            self.after_progress = false;
            out.push(decode(&piece));
        }
        self.pending.extend_from_slice(bytes);
    }

    fn end_line(&mut self, out: &mut Vec<String>) {
        let line = std::mem::take(&mut self.pending);
        self.show_held(out);
        // `50%\r\r\n` is a progress bar's last redraw, not an empty line of output.
        if !(line.is_empty() && self.after_progress) {
            out.push(decode(&line));
        }
        self.after_progress = false;
    }

    fn end_progress(&mut self, now: Instant, out: &mut Vec<String>) {
        let segment = std::mem::take(&mut self.pending);
        if segment.is_empty() {
            return;
        }
        self.after_progress = true;
        if self
            .shown
            .is_none_or(|t| now.duration_since(t) >= PROGRESS_INTERVAL)
        {
            self.held = None;
            self.shown = Some(now);
            out.push(decode(&segment));
        } else {
            self.held = Some(segment);
        }
    }

    fn show_held(&mut self, out: &mut Vec<String>) {
        if let Some(segment) = self.held.take() {
            out.push(decode(&segment));
        }
    }
}

/// The length of the longest prefix of `bytes` that does not end inside a UTF-8 character.
fn complete_prefix(bytes: &[u8]) -> usize {
    let n = bytes.len();
    for back in 1..=n.min(4) {
        let b = bytes[n - back];
        if b & 0xC0 != 0x80 {
            let len = match b {
                0xF0.. => 4,
                0xE0.. => 3,
                0xC0.. => 2,
                _ => 1,
            };
            return if len > back { n - back } else { n };
        }
    }
    // Only continuation bytes: not UTF-8 anyway, any cut will do.
    n
}

fn decode(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[(&[u8], u64)]) -> Vec<String> {
        let t0 = Instant::now();
        let mut s = Splitter::default();
        let mut out = Vec::new();
        for (bytes, ms) in chunks {
            s.push(bytes, t0 + Duration::from_millis(*ms), &mut out);
        }
        s.finish(&mut out);
        out
    }

    #[test]
    fn lines_end_at_lf_or_crlf_even_across_chunks() {
        assert_eq!(
            run(&[(b"a\nb\r", 0), (b"\nc\r\n\nd", 0)]),
            ["a", "b", "c", "", "d"]
        );
    }

    #[test]
    fn progress_segments_are_shown_once_per_second_and_the_last_before_a_line() {
        let out = run(&[
            (b"1%\r", 0),
            (b"2%\r", 300),
            (b"3%\r", 1100),
            (b"4%\r", 1200),
            (b"5%\r", 1300),
            (b"done\n", 1400),
        ]);
        assert_eq!(out, ["1%", "3%", "5%", "done"]);
    }

    #[test]
    fn the_redraw_before_a_crlf_is_not_an_empty_line() {
        assert_eq!(run(&[(b"1%\r2%\r\r\nnext\n", 0)]), ["1%", "2%", "next"]);
    }

    #[test]
    fn a_long_line_is_cut_before_a_character_that_does_not_fit() {
        let mut line = vec![b'a'];
        line.extend("é".repeat(MAX_LINE).as_bytes());
        let out = run(&[(&line, 0)]);
        assert_eq!(out[0].len(), MAX_LINE - 1);
        assert!(
            out.iter()
                .all(|l| l.len() <= MAX_LINE && !l.contains('\u{FFFD}'))
        );
        assert_eq!(out.concat().len(), line.len());
    }

    #[test]
    fn complete_prefix_keeps_whole_characters() {
        assert_eq!(complete_prefix(b"ab"), 2);
        assert_eq!(complete_prefix("aé".as_bytes()), 3);
        assert_eq!(complete_prefix(&"aé".as_bytes()[..2]), 1);
        assert_eq!(complete_prefix(&"a€".as_bytes()[..3]), 1);
        assert_eq!(complete_prefix(&[0x80, 0x80]), 2);
    }
}
