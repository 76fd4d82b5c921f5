//! The call server: one loop for every door of an agent (its control socket, each call
//! stream of the mesh). What differs between doors is data ([`Door`]): who the caller is,
//! whether it may change states, how much it may ask at once.
//!
//! A connection greets, then sends calls, cancellations and journal reads; the server
//! answers each from the [`Service`] as its events come. A slow client holds up only its
//! own connection's writes: the calls themselves run at their own pace, their lines waiting
//! in the journal of the agent that runs them.

use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;

use armonic_lifecycle::Interrupt;
use futures::future::Either;
use futures::stream::{AbortHandle, Abortable, BoxStream, SelectAll};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, Stream, StreamExt};

use crate::call::{Call, CallStream, Caller, Event};
use crate::error::ApiError;
use crate::frame::{self, Hello, ReadError};
use crate::io::{Budget, FrameReader, write_frame};
use crate::journal::{Entry, Query};
use crate::lines::LogBatch;
use crate::message::{ClientMessage, ServerMessage};

/// A read of journals, as a door hands it to the service.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    /// What to read.
    pub query: Query,
    /// Of this location only; of the agent's own when `None` (unless `all`).
    pub location: Option<String>,
    /// Of every live agent of the mesh.
    pub all: bool,
    /// Who asks.
    pub caller: Caller,
}

/// What a read of journals streams back.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadEvent {
    /// Entries of the journal of `location`.
    Entries {
        /// Whose journal.
        location: String,
        /// The entries.
        entries: Vec<Entry>,
    },
    /// Entries that were no longer held when the reader got to them.
    Missed {
        /// How many.
        count: u64,
    },
    /// The journal of `location` could not be read (its agent failed, or did not answer in
    /// time): what it holds is not in this read.
    Unread {
        /// Whose journal.
        location: String,
        /// Why.
        error: String,
    },
    /// Everything held when the read began was given.
    CaughtUp,
    /// The read is over (all was given, or it failed).
    Ended(Option<ApiError>),
}

/// The events of a read.
pub type ReadStream = Pin<Box<dyn Stream<Item = ReadEvent> + Send>>;

/// What a server serves.
pub trait Service: Send + Sync {
    /// Starts a call; its events come on the stream.
    fn call(&self, call: Call) -> CallStream;
    /// Starts a read of journals.
    fn read(&self, read: ReadRequest) -> ReadStream;
}

/// What a connection may ask at once.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest frame read (checked before reading it).
    pub max_frame: u32,
    /// Calls open at once on the connection.
    pub calls: usize,
    /// Reads open at once on the connection.
    pub reads: usize,
    /// Bytes of frames being read, shared with other connections.
    pub budget: Option<Budget>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_frame: frame::MAX_FRAME,
            calls: 64,
            reads: 16,
            budget: None,
        }
    }
}

/// A door of the agent: who comes through it, and what it may do.
#[derive(Debug, Clone)]
pub struct Door {
    /// The agent's name, said in its greeting.
    pub name: String,
    /// Who the caller is (the door knows: the kernel, Noise).
    pub caller: Caller,
    /// Whether the caller may change states; when not, why (said to it).
    pub refused_changes: Option<String>,
    /// Limits of one connection.
    pub limits: Limits,
    /// Time a stopped call's commands get between SIGTERM and SIGKILL, unless the caller
    /// gives its own.
    pub grace: Duration,
}

/// Largest batch of lines sent in one frame, about.
const LINES_PER_FRAME: usize = 256 * 1024;

/// What the streams of a connection give: an event of call `id`, an event of read `id`, or
/// the end of one of them.
enum Out {
    Call(Event),
    Read(ReadEvent),
    /// The stream ended.
    End,
}

/// Serves one connection `io` of `door` until the client leaves (its calls go on running).
/// `hello_deadline` completes when the client has waited too long to greet; at each of
/// `ticks`, a connection with exchanges open that said nothing since the last one says
/// [`ServerMessage::Alive`].
pub async fn serve<S: AsyncRead + AsyncWrite + Send + Unpin>(
    io: S,
    door: Door,
    service: &dyn Service,
    hello_deadline: impl std::future::Future<Output = ()>,
    mut ticks: impl Stream<Item = ()> + Unpin,
) {
    let (rd, mut wr) = io.split();
    let max = door.limits.max_frame;
    let mut reader = FrameReader::new(rd, max, door.limits.budget.clone());
    let greeting = {
        let hello = std::pin::pin!(reader.next());
        let deadline = std::pin::pin!(hello_deadline);
        match futures::future::select(hello, deadline).await {
            Either::Left((Ok(Some(payload)), _)) => {
                frame::decode::<Hello>(&payload).and_then(|h| h.check())
            }
            Either::Left((Ok(None), _)) => return,
            Either::Left((Err(_), _)) | Either::Right(_) => {
                tracing::debug!("a client did not greet in time");
                return;
            }
        }
    };
    if let Err(error) = greeting {
        tracing::debug!("refused a client: {error}");
        let _ = write_frame(&mut wr, &ServerMessage::Refused { id: None, error }, max).await;
        return;
    }
    if write_frame(&mut wr, &Hello::new(door.name.clone()), max)
        .await
        .is_err()
    {
        return;
    }
    let mut conn = Connection {
        door,
        active: SelectAll::new(),
        interrupts: HashMap::new(),
        reads: HashMap::new(),
        calls: 0,
    };
    // Whether something was said since the last tick.
    let mut said = false;
    loop {
        let next = {
            let frame = futures::future::poll_fn(|cx| reader.poll_frame(cx));
            let event = async {
                if conn.active.is_empty() {
                    std::future::pending().await
                } else {
                    conn.active.next().await
                }
            };
            let tick = ticks.next();
            match futures::future::select(
                std::pin::pin!(frame),
                futures::future::select(std::pin::pin!(event), tick),
            )
            .await
            {
                Either::Left((f, _)) => Next::Frame(f),
                Either::Right((Either::Left((e, _)), _)) => Next::Event(e),
                Either::Right((Either::Right(_), _)) => Next::Tick,
            }
        };
        let sent = match next {
            Next::Frame(Ok(Some(payload))) => conn.take(&payload, service, &mut wr).await,
            Next::Frame(Ok(None)) | Next::Frame(Err(ReadError::Io(_))) => break,
            Next::Frame(Err(ReadError::Refused(error))) => {
                // A frame not read whole leaves the stream unusable: say why, close.
                let _ =
                    write_frame(&mut wr, &ServerMessage::Refused { id: None, error }, max).await;
                break;
            }
            Next::Event(Some((id, out))) => {
                said = true;
                conn.give(id, out, &mut wr).await
            }
            Next::Event(None) => Ok(()),
            Next::Tick => {
                let quiet = !std::mem::take(&mut said);
                if quiet && !(conn.interrupts.is_empty() && conn.reads.is_empty()) {
                    write_frame(&mut wr, &ServerMessage::Alive, max).await
                } else {
                    Ok(())
                }
            }
        };
        if sent.is_err() {
            break;
        }
    }
    // Reads end with the connection; calls run on.
    for (_, h) in conn.reads {
        h.abort();
    }
}

/// What the connection's loop woke up for.
enum Next {
    Frame(Result<Option<Vec<u8>>, ReadError>),
    Event(Option<(u64, Out)>),
    Tick,
}

struct Connection {
    door: Door,
    active: SelectAll<BoxStream<'static, (u64, Out)>>,
    /// What stops each open call.
    interrupts: HashMap<u64, Interrupt>,
    /// How to end each open read.
    reads: HashMap<u64, AbortHandle>,
    calls: usize,
}

impl Connection {
    /// Takes a frame from the client.
    async fn take<W: AsyncWrite + Unpin>(
        &mut self,
        payload: &[u8],
        service: &dyn Service,
        wr: &mut W,
    ) -> Result<(), ApiError> {
        let max = self.door.limits.max_frame;
        let refuse = |id: Option<u64>, error: ApiError| ServerMessage::Refused { id, error };
        let msg = match ClientMessage::decode(payload) {
            Ok(m) => m,
            Err((id, error)) => return write_frame(wr, &refuse(id, error), max).await,
        };
        match msg {
            ClientMessage::Call {
                id,
                call,
                request,
                location,
                deployment,
                from_seq,
                again,
                on_behalf_of,
                caller_location,
                step,
                plan,
            } => {
                if self.interrupts.contains_key(&id) || self.reads.contains_key(&id) {
                    let error = ApiError::InvalidRequest {
                        message: format!("exchange {id} is already open on this connection"),
                    };
                    return write_frame(wr, &refuse(Some(id), error), max).await;
                }
                if let Some(why) = self
                    .door
                    .refused_changes
                    .as_ref()
                    .filter(|_| request.changes_state())
                {
                    let error = ApiError::Unauthorized {
                        message: why.clone(),
                    };
                    return write_frame(wr, &refuse(Some(id), error), max).await;
                }
                if self.calls >= self.door.limits.calls {
                    let error = ApiError::Busy {
                        message: format!(
                            "too many calls at once on this connection (at most {}): wait for some to end",
                            self.door.limits.calls
                        ),
                    };
                    return write_frame(wr, &refuse(Some(id), error), max).await;
                }
                let interrupt = Interrupt::new(self.door.grace);
                let call = Call {
                    id: call,
                    request,
                    location,
                    deployment,
                    from_seq,
                    again,
                    caller: Some(self.door.caller.clone()),
                    on_behalf_of,
                    caller_location,
                    step,
                    plan,
                    interrupt: Some(interrupt.clone()),
                };
                let events = service.call(call);
                self.interrupts.insert(id, interrupt);
                self.calls += 1;
                self.active.push(tagged(id, events.map(Out::Call)));
                Ok(())
            }
            ClientMessage::Cancel { id, kill, grace_ms } => {
                if let Some(i) = self.interrupts.get(&id) {
                    if let Some(ms) = grace_ms {
                        i.set_grace(Duration::from_millis(ms));
                    }
                    if kill {
                        i.kill();
                    } else {
                        i.request(Some(2));
                    }
                }
                Ok(())
            }
            ClientMessage::Read {
                id,
                query,
                location,
                all,
            } => {
                if self.interrupts.contains_key(&id) || self.reads.contains_key(&id) {
                    let error = ApiError::InvalidRequest {
                        message: format!("exchange {id} is already open on this connection"),
                    };
                    return write_frame(wr, &refuse(Some(id), error), max).await;
                }
                if self.reads.len() >= self.door.limits.reads {
                    let error = ApiError::Busy {
                        message: format!(
                            "too many reads at once on this connection (at most {})",
                            self.door.limits.reads
                        ),
                    };
                    return write_frame(wr, &refuse(Some(id), error), max).await;
                }
                let events = service.read(ReadRequest {
                    query,
                    location,
                    all,
                    caller: self.door.caller.clone(),
                });
                let (handle, registration) = AbortHandle::new_pair();
                self.reads.insert(id, handle);
                self.active.push(tagged(
                    id,
                    Abortable::new(events, registration).map(Out::Read),
                ));
                Ok(())
            }
            ClientMessage::Close { id } => {
                if let Some(h) = self.reads.get(&id) {
                    h.abort();
                }
                Ok(())
            }
        }
    }

    /// Gives the client what stream `id` said.
    async fn give<W: AsyncWrite + Unpin>(
        &mut self,
        id: u64,
        out: Out,
        wr: &mut W,
    ) -> Result<(), ApiError> {
        let max = self.door.limits.max_frame;
        match out {
            Out::Call(Event::Lines { seq, lines }) => send_lines(wr, id, seq, lines, max).await,
            Out::Call(Event::Missed { count }) => {
                write_frame(wr, &ServerMessage::Missed { id, count }, max).await
            }
            Out::Call(Event::Done(result)) => {
                self.interrupts.remove(&id);
                self.calls -= 1;
                write_frame(wr, &ServerMessage::Reply { id, result }, max).await
            }
            Out::Read(ReadEvent::Entries { location, entries }) => {
                write_frame(
                    wr,
                    &ServerMessage::Entries {
                        id,
                        location,
                        entries,
                    },
                    max,
                )
                .await
            }
            Out::Read(ReadEvent::Missed { count }) => {
                write_frame(wr, &ServerMessage::Missed { id, count }, max).await
            }
            Out::Read(ReadEvent::Unread { location, error }) => {
                write_frame(
                    wr,
                    &ServerMessage::Unread {
                        id,
                        location,
                        error,
                    },
                    max,
                )
                .await
            }
            Out::Read(ReadEvent::CaughtUp) => {
                write_frame(wr, &ServerMessage::CaughtUp { id }, max).await
            }
            Out::Read(ReadEvent::Ended(error)) => {
                self.reads.remove(&id);
                write_frame(wr, &ServerMessage::Ended { id, error }, max).await
            }
            Out::End => {
                if self.interrupts.remove(&id).is_some() {
                    // A call whose events ended without its answer.
                    self.calls -= 1;
                    let result = Err(ApiError::Unknown {
                        location: self.door.name.clone(),
                        message: "the call's answer was lost: it may or may not have run".into(),
                    });
                    return write_frame(wr, &ServerMessage::Reply { id, result }, max).await;
                }
                if self.reads.remove(&id).is_some() {
                    return write_frame(wr, &ServerMessage::Ended { id, error: None }, max).await;
                }
                Ok(())
            }
        }
    }
}

/// `events` tagged with `id`, and their end said.
fn tagged(
    id: u64,
    events: impl Stream<Item = Out> + Send + 'static,
) -> BoxStream<'static, (u64, Out)> {
    events
        .chain(futures::stream::once(futures::future::ready(Out::End)))
        .map(move |o| (id, o))
        .boxed()
}

/// Lines of call `id` as frames of about [`LINES_PER_FRAME`] bytes at most.
async fn send_lines<W: AsyncWrite + Unpin>(
    wr: &mut W,
    id: u64,
    mut seq: u64,
    lines: LogBatch,
    max: u32,
) -> Result<(), ApiError> {
    for part in lines.split(LINES_PER_FRAME) {
        let n = part.len() as u64;
        write_frame(
            wr,
            &ServerMessage::Lines {
                id,
                seq,
                lines: part,
            },
            max,
        )
        .await?;
        seq += n;
    }
    Ok(())
}
