//! Keys: the mesh's pre-shared swarm key (who may join), and each agent's own identity.
//!
//! The swarm key is a file in the format of go-ipfs's `swarm.key`:
//!
//! ```text
//! /key/swarm/psk/1.0.0/
//! /base16/
//! <64 hexadecimal digits>
//! ```
//!
//! Every agent of a mesh has the same one; a peer without it learns nothing (the connection
//! fails before any protocol is spoken). The identity is an ed25519 key kept in the agent's
//! state directory: its peer id is stable across restarts.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use libp2p::identity::Keypair;
use libp2p::pnet::PreSharedKey;

/// File name of the swarm key in a state directory.
pub const SWARM_KEY: &str = "swarm.key";
/// File name of the identity in a state directory.
pub const IDENTITY: &str = "identity.key";

/// Why a key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// There is no swarm key where one is expected.
    #[error(
        "no swarm key at {}: make one with `armonic key generate` and copy it to every machine of the mesh (or give its file with --swarm-key)",
        .0.display()
    )]
    Missing(PathBuf),
    /// The file is not a swarm key.
    #[error("{} is not a swarm key: {reason}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A key file exists where a new one would be written.
    #[error("{} exists already: remove it first to replace the key of the mesh", .0.display())]
    Exists(PathBuf),
    /// The file could not be read or written.
    #[error("cannot use {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_owned(),
        source,
    }
}

/// 32 random bytes from the system.
fn random_bytes() -> std::io::Result<[u8; 32]> {
    let mut out = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut out)?;
    Ok(out)
}

/// Writes `data` to a new file `path` readable by its owner only.
fn write_new(path: &Path, data: &[u8]) -> Result<(), KeyError> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(path))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists(path.to_owned())
            } else {
                KeyError::Io {
                    path: path.to_owned(),
                    source: e,
                }
            }
        })?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(io(path))
}

/// A new random swarm key.
pub(crate) fn random_key() -> Result<PreSharedKey, KeyError> {
    random_bytes()
        .map(PreSharedKey::new)
        .map_err(|source| KeyError::Io {
            path: PathBuf::from("/dev/urandom"),
            source,
        })
}

/// Makes a new swarm key and writes it to `path` (which must not exist), owner-only.
pub fn generate_swarm_key(path: &Path) -> Result<PreSharedKey, KeyError> {
    let key = PreSharedKey::new(random_bytes().map_err(io(path))?);
    write_new(path, key.to_key_file().as_bytes())?;
    Ok(key)
}

/// Reads the swarm key at `path`.
pub fn read_swarm_key(path: &Path) -> Result<PreSharedKey, KeyError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(KeyError::Missing(path.to_owned()));
        }
        Err(e) => return Err(io(path)(e)),
    };
    text.parse()
        .map_err(|e: libp2p::pnet::KeyParseError| KeyError::Invalid {
            path: path.to_owned(),
            reason: e.to_string(),
        })
}

/// The identity kept at `path`, made (and kept) on first use.
pub fn identity(path: &Path) -> Result<Keypair, KeyError> {
    match std::fs::read(path) {
        Ok(bytes) => Keypair::from_protobuf_encoding(&bytes).map_err(|e| KeyError::Invalid {
            path: path.to_owned(),
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = Keypair::generate_ed25519();
            let bytes = key.to_protobuf_encoding().map_err(|e| KeyError::Invalid {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
            write_new(path, &bytes)?;
            Ok(key)
        }
        Err(e) => Err(io(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_swarm_key_reads_back_and_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("swarm.key");
        let key = generate_swarm_key(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("/key/swarm/psk/1.0.0/\n/base16/\n"),
            "{text}"
        );
        assert_eq!(
            read_swarm_key(&path).unwrap().fingerprint().to_string(),
            key.fingerprint().to_string()
        );
        assert!(matches!(
            generate_swarm_key(&path),
            Err(KeyError::Exists(_))
        ));
        let missing = read_swarm_key(&dir.path().join("none")).unwrap_err();
        assert!(
            missing.to_string().contains("armonic key generate"),
            "{missing}"
        );
        std::fs::write(dir.path().join("bad"), "hello").unwrap();
        assert!(matches!(
            read_swarm_key(&dir.path().join("bad")),
            Err(KeyError::Invalid { .. })
        ));
    }

    #[test]
    fn an_identity_is_kept_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.key");
        let a = identity(&path).unwrap();
        let b = identity(&path).unwrap();
        assert_eq!(a.public().to_peer_id(), b.public().to_peer_id());
    }
}
