//! The client of the control socket: what the command line uses to talk to the agent on its
//! machine. Each call (and each journal read) goes on a connection of its own; its events
//! come back as the agent sends them. The connections are tokio's: the client carries the
//! runtime they run on, so its streams may be read from any thread.

use std::io::ErrorKind;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use armonic_proto::client::{self, Broken, Heard};
use armonic_proto::frame::{self, MAX_FRAME};
use armonic_proto::serve::{ReadEvent, ReadRequest, ReadStream};
use armonic_proto::{ApiError, Call, CallStream, Endpoint, Event, Hello, ServerMessage};
use futures::{Stream, StreamExt};
use tokio_util::compat::TokioAsyncReadCompatExt;

/// Why the agent could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No agent listens on the socket.
    #[error(
        "no agent is running on this machine (no socket at {}): start one with `armonic agent`, or add --local to work without one",
        .0.display()
    )]
    NotRunning(PathBuf),
    /// The socket exists but this user may not use it.
    #[error("cannot use the agent's socket {}: permission denied (the agent runs as another user?)", .0.display())]
    PermissionDenied(PathBuf),
    /// The socket, or the directory it is in, could have been put there by another user.
    #[error("refusing the agent's socket {}: {reason}", .path.display())]
    Untrusted {
        /// The socket.
        path: PathBuf,
        /// Why it is not trusted.
        reason: String,
    },
    /// Something else went wrong while connecting.
    #[error("cannot connect to the agent at {}: {source}", .path.display())]
    Io {
        /// The socket.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The agent answered, but not as an agent of this version does.
    #[error("the agent at {} does not speak this protocol: {error}", .path.display())]
    Protocol {
        /// The socket.
        path: PathBuf,
        /// What went wrong.
        error: ApiError,
    },
}

/// The agent of this machine, reached through its socket.
pub struct Client {
    socket: PathBuf,
    agent: String,
    runtime: tokio::runtime::Handle,
}

/// The name this client greets with.
const ME: &str = "armonic";

impl Client {
    /// Checks that an agent listens at `socket` and speaks this protocol; its connections
    /// will run on `runtime`.
    ///
    /// Values sent to the agent may be secrets, and its answers are trusted: the socket must
    /// belong to this user, in a directory only this user can change (as the agent makes its
    /// state directory), and the process answering on it must run as this user or as root.
    pub fn connect(socket: &Path, runtime: tokio::runtime::Handle) -> Result<Client, ConnectError> {
        trusted_socket(socket)?;
        let mut stream = UnixStream::connect(socket).map_err(|e| match e.kind() {
            ErrorKind::NotFound | ErrorKind::ConnectionRefused => {
                ConnectError::NotRunning(socket.to_owned())
            }
            ErrorKind::PermissionDenied => ConnectError::PermissionDenied(socket.to_owned()),
            _ => ConnectError::Io {
                path: socket.to_owned(),
                source: e,
            },
        })?;
        let protocol = |error| ConnectError::Protocol {
            path: socket.to_owned(),
            error,
        };
        trusted_peer(&stream).map_err(|reason| ConnectError::Untrusted {
            path: socket.to_owned(),
            reason,
        })?;
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        frame::write_frame(&mut stream, &Hello::new(ME), MAX_FRAME).map_err(protocol)?;
        let payload = match frame::read_frame(&mut stream, MAX_FRAME) {
            Ok(Some(payload)) => payload,
            Ok(None) => {
                return Err(protocol(ApiError::Protocol {
                    message: "the agent closed the connection".into(),
                }));
            }
            Err(frame::ReadError::Refused(e)) => return Err(protocol(e)),
            Err(frame::ReadError::Io(source)) => {
                return Err(ConnectError::Io {
                    path: socket.to_owned(),
                    source,
                });
            }
        };
        if let Ok(ServerMessage::Refused { error, .. }) = frame::decode::<ServerMessage>(&payload) {
            return Err(protocol(error));
        }
        let hello: Hello = frame::decode(&payload).map_err(protocol)?;
        hello.check().map_err(protocol)?;
        Ok(Client {
            socket: socket.to_owned(),
            agent: hello.peer,
            runtime,
        })
    }

    /// The agent's location name, as it introduced itself.
    pub fn agent(&self) -> &str {
        &self.agent
    }

    /// Reads journals as `read` says (the agent's own, another agent's, or all of the mesh).
    pub fn read(&self, read: ReadRequest) -> ReadStream {
        let socket = self.socket.clone();
        let agent = self.agent.clone();
        let events = futures::stream::once(async move {
            match open(&socket).await {
                Ok(s) => client::read_journal(s.compat(), ME.into(), read, MAX_FRAME)
                    .map(|r| r.unwrap_or_else(|e| ReadEvent::Ended(Some(e))))
                    .boxed(),
                Err(e) => futures::stream::iter([ReadEvent::Ended(Some(gone(&agent, &e)))]).boxed(),
            }
        })
        .flatten()
        .boxed();
        Box::pin(InRuntime {
            runtime: self.runtime.clone(),
            inner: events,
        })
    }
}

/// Whether `socket` may be the agent's: a socket of this user, in a directory private to it.
fn trusted_socket(socket: &Path) -> Result<(), ConnectError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let untrusted = |reason: String| ConnectError::Untrusted {
        path: socket.to_owned(),
        reason,
    };
    let dir = socket
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match armonic_lifecycle::safefs::check_private_dir(dir) {
        Ok(()) => {}
        Err(armonic_lifecycle::safefs::UnsafeDir::Io { source, .. })
            if source.kind() == ErrorKind::NotFound =>
        {
            return Err(ConnectError::NotRunning(socket.to_owned()));
        }
        Err(e) => return Err(untrusted(e.to_string())),
    }
    let meta = match std::fs::symlink_metadata(socket) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(ConnectError::NotRunning(socket.to_owned()));
        }
        Err(source) => {
            return Err(ConnectError::Io {
                path: socket.to_owned(),
                source,
            });
        }
    };
    let me = rustix::process::geteuid().as_raw();
    if !meta.file_type().is_socket() {
        return Err(untrusted("it is not a socket".into()));
    }
    if meta.uid() != me {
        return Err(untrusted(format!(
            "it belongs to user {}, not to user {me}",
            meta.uid()
        )));
    }
    Ok(())
}

/// Whether the process at the other end of `stream` runs as this user or as root.
fn trusted_peer(stream: &impl std::os::fd::AsFd) -> Result<(), String> {
    let me = rustix::process::geteuid().as_raw();
    let peer = rustix::net::sockopt::socket_peercred(stream)
        .map_err(|e| format!("cannot tell who answers on it: {e}"))?;
    let uid = peer.uid.as_raw();
    if uid == me || uid == 0 {
        Ok(())
    } else {
        Err(format!(
            "the process answering on it (pid {}) runs as user {uid}",
            peer.pid.as_raw_nonzero()
        ))
    }
}

/// A new connection to the agent, checked as [`Client::connect`] checks the first.
async fn open(socket: &Path) -> std::io::Result<tokio::net::UnixStream> {
    let stream = tokio::net::UnixStream::connect(socket).await?;
    trusted_peer(&stream)
        .map_err(|reason| std::io::Error::new(ErrorKind::PermissionDenied, reason))?;
    Ok(stream)
}

fn gone(agent: &str, e: &dyn std::fmt::Display) -> ApiError {
    ApiError::Unreachable {
        location: agent.to_owned(),
        message: format!("the agent cannot be reached: {e}"),
    }
}

impl Endpoint for Client {
    fn name(&self) -> &str {
        &self.agent
    }

    fn call(&self, call: Call) -> CallStream {
        let socket = self.socket.clone();
        let agent = self.agent.clone();
        let changes = call.request.changes_state();
        let events = futures::stream::once(async move {
            match open(&socket).await {
                Ok(s) => client::converse(s.compat(), ME.into(), call, MAX_FRAME)
                        .filter_map(move |r| futures::future::ready(match r {
                        Ok(Heard::Alive) => None,
                        Ok(Heard::Event(e)) => Some(e),
                        Err(Broken::NotSent(e)) => Some(Event::Done(Err(gone(&agent, &e)))),
                        Err(Broken::Lost(e)) if changes => Some(Event::Done(Err(ApiError::Unknown {
                            location: agent.clone(),
                            message: format!(
                                "the connection to the agent broke during the call ({e}): it may have partly run; `armonic journal` says what it did"
                            ),
                        }))),
                        Err(Broken::Lost(e)) => Some(Event::Done(Err(gone(&agent, &e)))),
                    }))
                    .boxed(),
                Err(e) => futures::stream::iter([Event::Done(Err(gone(&agent, &e)))]).boxed(),
            }
        })
        .flatten()
        .boxed();
        Box::pin(InRuntime {
            runtime: self.runtime.clone(),
            inner: events,
        })
    }
}

/// A stream polled inside a tokio runtime, whatever thread polls it.
struct InRuntime<S> {
    runtime: tokio::runtime::Handle,
    inner: S,
}

impl<S: Stream + Unpin> Stream for InRuntime<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let _in = self.runtime.enter();
        self.inner.poll_next_unpin(cx)
    }
}
