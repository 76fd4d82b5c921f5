//! A blocking client of the control socket: what the command line uses to talk to the agent
//! on its machine. One connection carries any number of calls at once (from several
//! threads); a reader thread hands each call its log lines, then its reply.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use armonic_lifecycle::{LogRecord, LogSink};
use armonic_proto::frame::{self, MAX_FRAME};
use armonic_proto::{
    ApiError, ClientMessage, DeploymentId, Endpoint, Hello, Request, Response, ServerMessage,
};

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

type Pending = Arc<Mutex<HashMap<u64, mpsc::Sender<ServerMessage>>>>;

/// A connection to an agent.
pub struct Client {
    writer: Mutex<UnixStream>,
    pending: Pending,
    next: AtomicU64,
    agent: String,
}

impl Client {
    /// Connects to the agent listening at `socket` and exchanges greetings.
    pub fn connect(socket: &Path) -> Result<Client, ConnectError> {
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
        // The greeting must come quickly; calls then take as long as they take.
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        frame::write_frame(&mut stream, &Hello::new("armonic"), MAX_FRAME).map_err(protocol)?;
        let hello: Hello = match frame::read_frame(&mut stream, MAX_FRAME) {
            Ok(Some(payload)) => frame::decode(&payload).map_err(protocol)?,
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
        hello.check().map_err(protocol)?;
        let _ = stream.set_read_timeout(None);
        let reader = stream.try_clone().map_err(|source| ConnectError::Io {
            path: socket.to_owned(),
            source,
        })?;
        let pending: Pending = Arc::default();
        let shared = Arc::clone(&pending);
        std::thread::Builder::new()
            .name("agent-client".into())
            .spawn(move || read_loop(reader, &shared))
            .map_err(|source| ConnectError::Io {
                path: socket.to_owned(),
                source,
            })?;
        Ok(Client {
            writer: Mutex::new(stream),
            pending,
            next: AtomicU64::new(1),
            agent: hello.peer,
        })
    }

    /// The agent's location name, as it introduced itself.
    pub fn agent(&self) -> &str {
        &self.agent
    }

    fn send(&self, msg: &ClientMessage) -> Result<(), ApiError> {
        let mut w = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        frame::write_frame(&mut *w, msg, MAX_FRAME).map_err(|_| self.gone())
    }

    fn gone(&self) -> ApiError {
        ApiError::Unreachable {
            location: self.agent.clone(),
            message: "the connection to the agent was lost".into(),
        }
    }

    fn register(&self) -> (u64, mpsc::Receiver<ServerMessage>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, tx);
        (id, rx)
    }

    fn forget(&self, id: u64) {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&id);
    }

    /// Sends `request` and waits for its reply; its log lines go to `logs` as they come.
    pub fn call(&self, request: Request, logs: &dyn LogSink) -> Result<Response, ApiError> {
        self.call_on(None, request, logs)
    }

    /// Like [`Client::call`], for location `location` (the agent's or one it reaches) rather
    /// than where the request's address points.
    pub fn call_on(
        &self,
        location: Option<&str>,
        request: Request,
        logs: &dyn LogSink,
    ) -> Result<Response, ApiError> {
        let (id, rx) = self.register();
        let msg = ClientMessage::Call {
            id,
            request,
            location: location.map(str::to_owned),
        };
        if let Err(e) = self.send(&msg) {
            self.forget(id);
            return Err(e);
        }
        loop {
            match rx.recv() {
                Ok(ServerMessage::Log { record, .. }) => logs.log(&record),
                Ok(ServerMessage::Reply { result, .. }) => return result,
                Ok(ServerMessage::Refused { error, .. }) => return Err(error),
                Err(_) => return Err(self.gone()),
            }
        }
    }

    /// Streams the log lines of every call of `deployment` to `each` until `stop` says so
    /// (it is asked at least every 100 ms) or the connection ends.
    pub fn watch(
        &self,
        deployment: &DeploymentId,
        mut each: impl FnMut(LogRecord),
        stop: impl Fn() -> bool,
    ) -> Result<(), ApiError> {
        let (id, rx) = self.register();
        self.send(&ClientMessage::Watch {
            id,
            deployment: deployment.clone(),
        })?;
        let result = loop {
            if stop() {
                break Ok(());
            }
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(ServerMessage::Log { record, .. }) => each(record),
                Ok(ServerMessage::Refused { error, .. }) => break Err(error),
                Ok(ServerMessage::Reply { .. }) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break Err(self.gone()),
            }
        };
        let _ = self.send(&ClientMessage::Unwatch { id });
        self.forget(id);
        result
    }
}

impl Endpoint for Client {
    fn name(&self) -> &str {
        &self.agent
    }

    fn call(&self, request: Request, logs: Arc<dyn LogSink>) -> Result<Response, ApiError> {
        Client::call(self, request, &*logs)
    }

    fn call_at(
        &self,
        location: &str,
        request: Request,
        logs: Arc<dyn LogSink>,
    ) -> Result<Response, ApiError> {
        self.call_on(Some(location), request, &*logs)
    }
}

/// Hands every message to the call (or watch) it belongs to; when the connection ends,
/// every waiting call learns it.
fn read_loop(mut stream: UnixStream, pending: &Pending) {
    while let Ok(Some(payload)) = frame::read_frame(&mut stream, MAX_FRAME) {
        let msg = match frame::decode::<ServerMessage>(&payload) {
            Ok(msg) => msg,
            Err(e) => {
                tracing::warn!("undecodable message from the agent: {e}");
                continue;
            }
        };
        let id = match &msg {
            ServerMessage::Log { id, .. } | ServerMessage::Reply { id, .. } => Some(*id),
            ServerMessage::Refused { id, .. } => *id,
        };
        let mut map = pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match id {
            Some(id) => {
                let done = matches!(
                    msg,
                    ServerMessage::Reply { .. } | ServerMessage::Refused { .. }
                );
                if let Some(tx) = map.get(&id) {
                    let _ = tx.send(msg);
                }
                if done {
                    map.remove(&id);
                }
            }
            None => {
                if let ServerMessage::Refused { error, .. } = &msg {
                    tracing::warn!("the agent refused a message: {error}");
                }
            }
        }
    }
    // Dropping the senders wakes every waiting call with "connection lost".
    pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clear();
}
