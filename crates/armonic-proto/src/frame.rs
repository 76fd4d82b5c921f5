//! Frames: a 4-byte big-endian length, then that many bytes of CBOR. The length is checked
//! against a cap before anything is read or decoded, and both ends say which protocol and
//! version they speak in a first frame.

use std::io::{Read, Write};

use serde::Deserialize;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Name of the protocol.
pub const PROTOCOL: &str = "armonic-agent";
/// Version of the protocol this build speaks (2: calls by id, with re-attachment, batched
/// lines and journal reads).
pub const VERSION: u32 = 2;
/// Largest frame accepted by default (8 MiB).
pub const MAX_FRAME: u32 = 8 * 1024 * 1024;
/// Size of the length prefix.
pub const HEADER: usize = 4;

/// The first frame each end sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL`].
    pub protocol: String,
    /// [`VERSION`].
    pub version: u32,
    /// Who speaks (an agent's location name, `armonic` for the command line).
    pub peer: String,
}

impl Hello {
    /// This build's greeting, as `peer`.
    pub fn new(peer: impl Into<String>) -> Hello {
        Hello {
            protocol: PROTOCOL.to_owned(),
            version: VERSION,
            peer: peer.into(),
        }
    }

    /// Checks the other end's greeting.
    pub fn check(&self) -> Result<(), ApiError> {
        if self.protocol != PROTOCOL {
            return Err(ApiError::Protocol {
                message: format!("the other end speaks {}, not {PROTOCOL}", self.protocol),
            });
        }
        if self.version != VERSION {
            return Err(ApiError::VersionMismatch {
                ours: VERSION,
                theirs: self.version,
            });
        }
        Ok(())
    }
}

/// The length a frame header announces, refused when above `max`.
pub fn payload_len(header: [u8; HEADER], max: u32) -> Result<usize, ApiError> {
    let len = u32::from_be_bytes(header);
    if len > max {
        return Err(ApiError::TooLarge {
            size: u64::from(len),
            max: u64::from(max),
        });
    }
    Ok(len as usize)
}

/// `msg` as a frame (header and payload), refused when larger than `max`.
pub fn encode<T: Serialize>(msg: &T, max: u32) -> Result<Vec<u8>, ApiError> {
    let mut out = vec![0u8; HEADER];
    ciborium::into_writer(msg, &mut out).map_err(|e| ApiError::Protocol {
        message: format!("cannot encode a message: {e}"),
    })?;
    let len = out.len() - HEADER;
    if len > max as usize {
        return Err(ApiError::TooLarge {
            size: len as u64,
            max: u64::from(max),
        });
    }
    out[..HEADER].copy_from_slice(&(len as u32).to_be_bytes());
    Ok(out)
}

/// Decodes a frame's payload.
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, ApiError> {
    ciborium::from_reader(payload).map_err(|e| ApiError::Protocol {
        message: format!("undecodable message: {e}"),
    })
}

/// Why a frame could not be read from a stream.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The stream failed or ended in the middle of a frame.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The frame is refused (too large); the stream cannot be used any more.
    #[error("{0}")]
    Refused(ApiError),
}

/// Reads one frame's payload: `None` when the stream ends cleanly between frames.
pub fn read_frame(r: &mut impl Read, max: u32) -> Result<Option<Vec<u8>>, ReadError> {
    let mut header = [0u8; HEADER];
    let mut got = 0;
    while got < HEADER {
        match r.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let len = payload_len(header, max).map_err(ReadError::Refused)?;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(Some(payload))
}

/// Writes `msg` as one frame.
pub fn write_frame<T: Serialize>(w: &mut impl Write, msg: &T, max: u32) -> Result<(), ApiError> {
    let bytes = encode(msg, max)?;
    w.write_all(&bytes)
        .and_then(|()| w.flush())
        .map_err(|e| ApiError::Protocol {
            message: format!("cannot send a message: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_oversized_ones_are_refused_before_reading() {
        let hello = Hello::new("web1");
        let bytes = encode(&hello, MAX_FRAME).unwrap();
        let mut r = &bytes[..];
        let payload = read_frame(&mut r, MAX_FRAME).unwrap().unwrap();
        assert_eq!(decode::<Hello>(&payload).unwrap(), hello);
        assert!(
            read_frame(&mut r, MAX_FRAME).unwrap().is_none(),
            "clean end"
        );

        // A header announcing 4 GiB is refused without waiting for (or allocating) it.
        let mut huge: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        match read_frame(&mut huge, MAX_FRAME) {
            Err(ReadError::Refused(ApiError::TooLarge { size, max })) => {
                assert_eq!(size, u64::from(u32::MAX));
                assert_eq!(max, u64::from(MAX_FRAME));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            encode(&"x".repeat(100), 10),
            Err(ApiError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_truncated_frame_is_an_error_not_a_message() {
        let bytes = encode(&Hello::new("x"), MAX_FRAME).unwrap();
        let mut r = &bytes[..bytes.len() - 1];
        assert!(matches!(
            read_frame(&mut r, MAX_FRAME),
            Err(ReadError::Io(_))
        ));
        let mut r = &bytes[..2];
        assert!(matches!(
            read_frame(&mut r, MAX_FRAME),
            Err(ReadError::Io(_))
        ));
    }

    #[test]
    fn greetings_of_another_protocol_or_version_are_refused() {
        assert_eq!(Hello::new("a").check(), Ok(()));
        let mut other = Hello::new("a");
        other.version = 99;
        assert_eq!(
            other.check(),
            Err(ApiError::VersionMismatch {
                ours: VERSION,
                theirs: 99
            })
        );
        other.protocol = "http".into();
        assert!(matches!(other.check(), Err(ApiError::Protocol { .. })));
    }
}
