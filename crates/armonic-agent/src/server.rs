//! The control socket's server: every connection on a task of its own, every call on a
//! blocking thread of its own, log lines streamed to the caller (and to whoever watches the
//! deployment) as they come, the reply after the last of them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use armonic_lifecycle::{Interrupt, LogRecord, LogSink};
use armonic_proto::frame::{self, HEADER};
use armonic_proto::{ApiError, ClientMessage, Endpoint, Hello, Request, ServerMessage};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::{Semaphore, broadcast, mpsc};
use tokio::task::JoinSet;

/// Bounds of what a client may ask.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest frame read (checked before reading it).
    pub max_frame: u32,
    /// Time a new connection has to greet.
    pub hello_timeout: Duration,
    /// Calls running at once for one connection.
    pub calls_per_connection: usize,
    /// Calls running at once in all.
    pub calls: usize,
    /// Messages queued for a client before its calls wait for it to read.
    pub queue: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_frame: frame::MAX_FRAME,
            hello_timeout: Duration::from_secs(5),
            calls_per_connection: 64,
            calls: 256,
            queue: 1024,
        }
    }
}

/// The log lines of running deployments, for whoever watches them.
#[derive(Default)]
pub(crate) struct Watchers {
    topics: Mutex<HashMap<String, broadcast::Sender<LogRecord>>>,
}

impl Watchers {
    fn publish(&self, record: &LogRecord) {
        let Some(d) = &record.deployment else { return };
        let topics = self
            .topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(tx) = topics.get(d) {
            let _ = tx.send(record.clone());
        }
    }

    fn subscribe(&self, deployment: &str) -> broadcast::Receiver<LogRecord> {
        let mut topics = self
            .topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        topics
            .entry(deployment.to_owned())
            .or_insert_with(|| broadcast::channel(1024).0)
            .subscribe()
    }

    fn forget_unwatched(&self) {
        self.topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, tx| tx.receiver_count() > 0);
    }
}

/// What every connection shares.
pub(crate) struct Shared {
    pub endpoint: Arc<dyn Endpoint>,
    pub name: String,
    pub limits: Limits,
    pub watchers: Watchers,
    /// One permit per call running, in all.
    pub calls: Arc<Semaphore>,
    /// Where the agent itself shows the log lines of the calls it runs.
    pub local_logs: Arc<dyn LogSink>,
    pub interrupt: Interrupt,
    /// Becomes true when the agent stops: connections stop reading, finish their calls,
    /// send the replies and close.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

/// The log lines of one call: to its caller, numbered, and to the deployment's watchers.
struct CallSink {
    id: u64,
    seq: AtomicU64,
    to_caller: mpsc::Sender<ServerMessage>,
    shared: Arc<Shared>,
}

impl LogSink for CallSink {
    fn log(&self, record: &LogRecord) {
        self.shared.local_logs.log(record);
        self.shared.watchers.publish(record);
        let seq = self.seq.fetch_add(1, Ordering::SeqCst);
        // Runs on the call's blocking thread: waiting here is waiting for this caller only.
        // A caller gone away is not an error of the call.
        let _ = self.to_caller.blocking_send(ServerMessage::Log {
            id: self.id,
            seq,
            record: record.clone(),
        });
    }
}

/// Reads one frame's payload: `None` when the stream ends cleanly between frames.
async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    max: u32,
) -> Result<Option<Vec<u8>>, frame::ReadError> {
    let mut header = [0u8; HEADER];
    if r.read(&mut header[..1]).await? == 0 {
        return Ok(None);
    }
    r.read_exact(&mut header[1..]).await?;
    let len = frame::payload_len(header, max).map_err(frame::ReadError::Refused)?;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await?;
    Ok(Some(payload))
}

/// Serves one connection until the client leaves (its running calls finish anyway).
pub(crate) async fn connection(stream: UnixStream, shared: Arc<Shared>) {
    let (mut rd, mut wr) = stream.into_split();
    let limits = shared.limits.clone();
    let hello = tokio::time::timeout(limits.hello_timeout, read_frame(&mut rd, limits.max_frame));
    let greeting = match hello.await {
        Ok(Ok(Some(payload))) => frame::decode::<Hello>(&payload).and_then(|h| h.check()),
        Ok(Ok(None)) => return,
        Ok(Err(_)) | Err(_) => {
            tracing::debug!("a client did not greet in time");
            return;
        }
    };
    if let Err(error) = greeting {
        tracing::debug!("refused a client: {error}");
        if let Ok(bytes) = frame::encode(
            &ServerMessage::Refused { id: None, error },
            limits.max_frame,
        ) {
            let _ = wr.write_all(&bytes).await;
        }
        return;
    }
    match frame::encode(&Hello::new(shared.name.clone()), limits.max_frame) {
        Ok(bytes) if wr.write_all(&bytes).await.is_ok() => {}
        _ => return,
    }

    // One writer: messages of every call of this connection, in the order they are queued.
    let (tx, mut rx) = mpsc::channel::<ServerMessage>(limits.queue);
    let max = limits.max_frame;
    let writer = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            let bytes = match frame::encode(&msg, max) {
                Ok(b) => b,
                Err(error) => {
                    let id = match msg {
                        ServerMessage::Log { id, .. } | ServerMessage::Reply { id, .. } => Some(id),
                        ServerMessage::Refused { id, .. } => id,
                    };
                    match frame::encode(&ServerMessage::Refused { id, error }, max) {
                        Ok(b) => b,
                        Err(_) => continue,
                    }
                }
            };
            if wr.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });

    let mine = Arc::new(Semaphore::new(limits.calls_per_connection));
    let mut watches: HashMap<u64, tokio::task::AbortHandle> = HashMap::new();
    let mut tasks = JoinSet::new();
    let mut stopping = shared.stopping.clone();
    loop {
        let frame = tokio::select! {
            f = read_frame(&mut rd, limits.max_frame) => f,
            _ = stopping.wait_for(|s| *s) => break,
        };
        let payload = match frame {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(frame::ReadError::Refused(error)) => {
                // The stream cannot be resynchronised past a frame not read: say why, close.
                let _ = tx.send(ServerMessage::Refused { id: None, error }).await;
                break;
            }
            Err(frame::ReadError::Io(_)) => break,
        };
        let msg = match frame::decode::<ClientMessage>(&payload) {
            Ok(m) => m,
            Err(error) => {
                let _ = tx.send(ServerMessage::Refused { id: None, error }).await;
                continue;
            }
        };
        match msg {
            ClientMessage::Call {
                id,
                request,
                location,
            } => {
                let permits = (
                    Arc::clone(&mine).try_acquire_owned(),
                    Arc::clone(&shared.calls).try_acquire_owned(),
                );
                let (Ok(p1), Ok(p2)) = permits else {
                    let error = ApiError::Busy {
                        message: "too many calls at once: wait for some to end".into(),
                    };
                    let _ = tx
                        .send(ServerMessage::Refused {
                            id: Some(id),
                            error,
                        })
                        .await;
                    continue;
                };
                let sink = CallSink {
                    id,
                    seq: AtomicU64::new(0),
                    to_caller: tx.clone(),
                    shared: Arc::clone(&shared),
                };
                let tx = tx.clone();
                let shared = Arc::clone(&shared);
                tasks.spawn(async move {
                    let result = tokio::task::spawn_blocking(move || {
                        let _permits = (p1, p2);
                        run(&shared, location.as_deref(), request, sink)
                    })
                    .await
                    .unwrap_or_else(|e| {
                        Err(ApiError::Agent {
                            message: format!("the call failed unexpectedly: {e}"),
                        })
                    });
                    let _ = tx.send(ServerMessage::Reply { id, result }).await;
                });
            }
            ClientMessage::Watch { id, deployment } => {
                let mut records = shared.watchers.subscribe(deployment.as_str());
                let tx = tx.clone();
                let handle = tasks.spawn(async move {
                    let mut seq = 0;
                    loop {
                        match records.recv().await {
                            Ok(record) => {
                                let msg = ServerMessage::Log { id, seq, record };
                                seq += 1;
                                if tx.send(msg).await.is_err() {
                                    break;
                                }
                            }
                            Err(broadcast::error::RecvError::Lagged(n)) => {
                                tracing::debug!("a watcher missed {n} log lines");
                            }
                            Err(broadcast::error::RecvError::Closed) => break,
                        }
                    }
                });
                watches.insert(id, handle);
            }
            ClientMessage::Unwatch { id } => {
                if let Some(h) = watches.remove(&id) {
                    h.abort();
                }
                shared.watchers.forget_unwatched();
            }
        }
        // Reap what ended, so a long connection does not pile up finished tasks.
        while tasks.try_join_next().is_some() {}
    }
    for (_, h) in watches {
        h.abort();
    }
    drop(tx);
    // Calls already running finish (their replies go nowhere if the client left).
    while tasks.join_next().await.is_some() {}
    shared.watchers.forget_unwatched();
    let _ = writer.await;
}

fn run(
    shared: &Shared,
    location: Option<&str>,
    request: Request,
    sink: CallSink,
) -> Result<armonic_proto::Response, ApiError> {
    if request.changes_state() && shared.interrupt.is_stopping() {
        return Err(ApiError::Interrupted {
            message: "the agent is shutting down: no new call starts".into(),
        });
    }
    match location {
        Some(l) => shared.endpoint.call_at(l, request, Arc::new(sink)),
        None => shared.endpoint.call(request, Arc::new(sink)),
    }
}
