//! Frames over any asynchronous byte stream (a Unix socket, a stream of the mesh): read with
//! a size cap checked before anything is read, into memory that grows only as bytes arrive,
//! within a [`Budget`] shared by every connection of an agent.
//!
//! [`FrameReader::poll_frame`] keeps its progress in the reader, so a read abandoned for
//! something else (a `select`) loses nothing.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use futures::{AsyncRead, AsyncWrite, AsyncWriteExt};
use serde::Serialize;

use crate::error::ApiError;
use crate::frame::{self, HEADER, ReadError};

/// Bytes of frames being read at once, shared by every connection of an agent: a peer
/// sending large frames slowly on many streams cannot hold more than this.
#[derive(Debug, Clone)]
pub struct Budget {
    used: Arc<AtomicUsize>,
    max: usize,
}

impl Budget {
    /// A budget of `max` bytes.
    pub fn new(max: usize) -> Budget {
        Budget {
            used: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// Takes `n` bytes, if there is room.
    fn take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| {
                u.checked_add(n).filter(|t| *t <= self.max)
            })
            .is_ok()
    }

    fn give(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::SeqCst);
    }

    /// Bytes taken now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }
}

/// Most bytes read at once.
const CHUNK: usize = 16 * 1024;

/// Reads frames from `R`.
pub struct FrameReader<R> {
    io: R,
    max: u32,
    budget: Option<Budget>,
    header: [u8; HEADER],
    got: usize,
    /// The payload's length, once its header is read.
    want: Option<usize>,
    payload: Vec<u8>,
    /// Bytes taken from the budget for the frame being read.
    held: usize,
}

impl<R> FrameReader<R> {
    /// Frames of at most `max` bytes from `io`, within `budget` if one is given.
    pub fn new(io: R, max: u32, budget: Option<Budget>) -> FrameReader<R> {
        FrameReader {
            io,
            max,
            budget,
            header: [0; HEADER],
            got: 0,
            want: None,
            payload: Vec::new(),
            held: 0,
        }
    }

    fn release(&mut self) {
        if let Some(b) = &self.budget {
            b.give(self.held);
        }
        self.held = 0;
    }
}

impl<R> Drop for FrameReader<R> {
    fn drop(&mut self) {
        self.release();
    }
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// The next frame's payload; `None` when the stream ends cleanly between frames.
    pub fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Vec<u8>>, ReadError>> {
        loop {
            let Some(want) = self.want else {
                let mut header = self.header;
                let n = match Pin::new(&mut self.io).poll_read(cx, &mut header[self.got..]) {
                    Poll::Ready(Ok(n)) => n,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                    Poll::Pending => return Poll::Pending,
                };
                self.header = header;
                if n == 0 {
                    return Poll::Ready(if self.got == 0 {
                        Ok(None)
                    } else {
                        Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into())
                    });
                }
                self.got += n;
                if self.got == HEADER {
                    let len = frame::payload_len(self.header, self.max).map_err(ReadError::Refused);
                    match len {
                        Ok(len) => self.want = Some(len),
                        Err(e) => return Poll::Ready(Err(e)),
                    }
                }
                continue;
            };
            if self.payload.len() == want {
                let payload = std::mem::take(&mut self.payload);
                self.want = None;
                self.got = 0;
                self.release();
                return Poll::Ready(Ok(Some(payload)));
            }
            let chunk = CHUNK.min(want - self.payload.len());
            if let Some(b) = &self.budget {
                if !b.take(chunk) {
                    return Poll::Ready(Err(ReadError::Refused(ApiError::Busy {
                        message: "the agent is reading too much at once: try again shortly".into(),
                    })));
                }
                self.held += chunk;
            }
            let start = self.payload.len();
            self.payload.resize(start + chunk, 0);
            let read = Pin::new(&mut self.io).poll_read(cx, &mut self.payload[start..]);
            let n = match read {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Pending => 0,
            };
            self.payload.truncate(start + n);
            if let Some(b) = &self.budget {
                // Only what arrived stays taken.
                b.give(chunk - n);
                self.held -= chunk - n;
            }
            if matches!(read, Poll::Pending) {
                return Poll::Pending;
            }
            if n == 0 {
                return Poll::Ready(Err(
                    std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into()
                ));
            }
        }
    }

    /// The next frame's payload; `None` when the stream ends cleanly between frames.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>, ReadError> {
        futures::future::poll_fn(|cx| self.poll_frame(cx)).await
    }
}

/// Writes `msg` as one frame of at most `max` bytes, and flushes.
pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    msg: &T,
    max: u32,
) -> Result<(), ApiError> {
    let bytes = frame::encode(msg, max)?;
    let lost = |e: std::io::Error| ApiError::Protocol {
        message: format!("cannot send a message: {e}"),
    };
    w.write_all(&bytes).await.map_err(lost)?;
    w.flush().await.map_err(lost)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::MAX_FRAME;

    #[test]
    fn frames_are_read_whole_however_the_bytes_come_and_the_budget_is_given_back() {
        let mut bytes = frame::encode(&"hello", MAX_FRAME).unwrap();
        bytes.extend(frame::encode(&vec![7u8; 40_000], MAX_FRAME).unwrap());
        let budget = Budget::new(1024 * 1024);
        let mut r = FrameReader::new(&bytes[..], MAX_FRAME, Some(budget.clone()));
        let first = futures::executor::block_on(r.next()).unwrap().unwrap();
        assert_eq!(frame::decode::<String>(&first).unwrap(), "hello");
        let second = futures::executor::block_on(r.next()).unwrap().unwrap();
        assert_eq!(frame::decode::<Vec<u8>>(&second).unwrap().len(), 40_000);
        assert!(futures::executor::block_on(r.next()).unwrap().is_none());
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_frame_past_the_budget_is_refused_as_busy() {
        let bytes = frame::encode(&vec![1u8; 100_000], MAX_FRAME).unwrap();
        let budget = Budget::new(32 * 1024);
        let mut r = FrameReader::new(&bytes[..], MAX_FRAME, Some(budget.clone()));
        match futures::executor::block_on(r.next()) {
            Err(ReadError::Refused(ApiError::Busy { .. })) => {}
            other => panic!("{other:?}"),
        }
        drop(r);
        assert_eq!(budget.used(), 0, "given back when the reader goes");
    }

    #[test]
    fn a_header_announcing_too_much_is_refused_before_reading() {
        let bytes = [0xffu8, 0xff, 0xff, 0xff, 1, 2, 3];
        let mut r = FrameReader::new(&bytes[..], MAX_FRAME, None);
        assert!(matches!(
            futures::executor::block_on(r.next()),
            Err(ReadError::Refused(ApiError::TooLarge { .. }))
        ));
    }
}
