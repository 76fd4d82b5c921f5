//! The client side of a connection to an agent (its control socket, or a call stream of the
//! mesh): one call, or one read, per connection.
//!
//! [`converse`] greets, sends the call and streams its events back, passing a request of the
//! call's interrupt on as a cancellation. When the connection breaks before the answer, the
//! stream says whether the call was sent ([`Broken::Lost`]: it may be running, re-attach to
//! it) or not ([`Broken::NotSent`]).

use armonic_lifecycle::Stage;
use futures::future::Either;
use futures::io::{ReadHalf, WriteHalf};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, Stream};

use crate::call::{Call, Event};
use crate::error::ApiError;
use crate::frame::{self, Hello, ReadError};
use crate::io::{FrameReader, write_frame};
use crate::message::{ClientMessage, ServerMessage};
use crate::serve::{ReadEvent, ReadRequest};

/// What a conversation hears.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// An event of the call.
    Event(Event),
    /// The agent is there, though the call said nothing for a while.
    Alive,
}

/// Why a conversation ended without an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Broken {
    /// The call could not be written: it was not sent on this connection.
    NotSent(ApiError),
    /// The connection broke after the call was written: it may be running, or over.
    Lost(ApiError),
}

/// The exchange's id on a connection carrying one exchange.
const ID: u64 = 1;

fn lost(e: &ReadError) -> ApiError {
    ApiError::Protocol {
        message: format!("the connection broke: {e}"),
    }
}

/// Why a greeting did not come.
enum Ungreeted {
    /// The agent refused the connection, saying why (busy, another version…).
    Refused(ApiError),
    /// The connection broke.
    Broken(ApiError),
}

/// Reads and checks the other end's greeting.
async fn greeted<R: AsyncRead + Unpin>(reader: &mut FrameReader<R>) -> Result<Hello, Ungreeted> {
    let payload = match reader.next().await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return Err(Ungreeted::Broken(ApiError::Protocol {
                message: "the agent closed the connection".into(),
            }));
        }
        Err(ReadError::Refused(e)) => return Err(Ungreeted::Refused(e)),
        Err(e) => return Err(Ungreeted::Broken(lost(&e))),
    };
    // An agent refusing us says so instead of greeting.
    if let Ok(ServerMessage::Refused { error, .. }) = frame::decode::<ServerMessage>(&payload) {
        return Err(Ungreeted::Refused(error));
    }
    let hello: Hello = frame::decode(&payload).map_err(Ungreeted::Refused)?;
    hello.check().map_err(Ungreeted::Refused)?;
    Ok(hello)
}

/// Makes `call` over `io` (greeting as `me`), streaming what is heard; the stream ends after
/// [`Event::Done`], or with a [`Broken`].
pub fn converse<S>(
    io: S,
    me: String,
    call: Call,
    max: u32,
) -> impl Stream<Item = Result<Heard, Broken>> + Send
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    Session::new(io, me, max).call(call, |_| {})
}

/// A connection to an agent carrying one exchange at a time: greeted with the first, kept
/// for the next once an exchange is over (an agent of the mesh is called again and again;
/// a stream kept saves opening one).
pub struct Session<S> {
    reader: FrameReader<ReadHalf<S>>,
    wr: WriteHalf<S>,
    me: String,
    max: u32,
    greeted: bool,
    /// The id of the next exchange.
    next: u64,
}

impl<S: AsyncRead + AsyncWrite + Send + Unpin + 'static> Session<S> {
    /// A session over `io`, greeting as `me`, frames of at most `max` bytes.
    pub fn new(io: S, me: String, max: u32) -> Session<S> {
        let (rd, wr) = io.split();
        Session {
            reader: FrameReader::new(rd, max, None),
            wr,
            me,
            max,
            greeted: false,
            next: 1,
        }
    }

    /// Makes `call`, streaming what is heard; the stream ends after [`Event::Done`], or with
    /// a [`Broken`]. When the call got its answer, `back` gets the session, ready for the
    /// next exchange.
    pub fn call(
        self,
        call: Call,
        back: impl FnOnce(Session<S>) + Send + 'static,
    ) -> impl Stream<Item = Result<Heard, Broken>> + Send {
        let state = Some((
            State {
                session: self,
                call: Some(call),
                id: 0,
                stage: Stage::Running,
                interrupt: None,
            },
            back,
        ));
        futures::stream::unfold(state, |state| async move {
            let (mut state, back) = state?;
            match state.step().await {
                Step::Event(e @ Event::Done(_)) => {
                    back(state.session);
                    Some((Ok(Heard::Event(e)), None))
                }
                Step::Event(e) => Some((Ok(Heard::Event(e)), Some((state, back)))),
                Step::Alive => Some((Ok(Heard::Alive), Some((state, back)))),
                Step::Broken(b) => Some((Err(b), None)),
            }
        })
    }
}

struct State<S> {
    session: Session<S>,
    /// The call, until it is sent.
    call: Option<Call>,
    /// Its exchange's id.
    id: u64,
    /// How far the call's interrupt was passed on.
    stage: Stage,
    interrupt: Option<armonic_lifecycle::Interrupt>,
}

enum Step {
    Event(Event),
    Alive,
    Broken(Broken),
}

impl<S: AsyncRead + AsyncWrite + Send + Unpin + 'static> State<S> {
    async fn step(&mut self) -> Step {
        let Session {
            reader,
            wr,
            me,
            max,
            greeted: was_greeted,
            next,
        } = &mut self.session;
        let max = *max;
        if let Some(call) = self.call.take() {
            // The greeting and the call go together; the other end's greeting comes back
            // first.
            if !*was_greeted {
                if let Err(e) = write_frame(wr, &Hello::new(me.clone()), max).await {
                    return Step::Broken(Broken::NotSent(e));
                }
            }
            self.interrupt = call.interrupt.clone();
            self.id = *next;
            *next += 1;
            let msg = ClientMessage::Call {
                id: self.id,
                call: call.id,
                request: call.request,
                location: call.location,
                deployment: call.deployment,
                from_seq: call.from_seq,
                again: call.again,
                on_behalf_of: call.on_behalf_of,
                caller_location: call.caller_location,
                step: call.step,
                plan: call.plan,
            };
            if let Err(e) = write_frame(wr, &msg, max).await {
                return Step::Broken(Broken::NotSent(e));
            }
            if !*was_greeted {
                match greeted(reader).await {
                    Ok(_) => *was_greeted = true,
                    // Refused at the door: the call was not taken, and that is its answer.
                    Err(Ungreeted::Refused(e)) => return Step::Event(Event::Done(Err(e))),
                    Err(Ungreeted::Broken(e)) => return Step::Broken(Broken::Lost(e)),
                }
            }
        }
        loop {
            let next = {
                let frame = futures::future::poll_fn(|cx| reader.poll_frame(cx));
                let stop = async {
                    match &self.interrupt {
                        Some(i) => i.changed(self.stage).await,
                        None => std::future::pending().await,
                    }
                };
                match futures::future::select(std::pin::pin!(frame), std::pin::pin!(stop)).await {
                    Either::Left((f, _)) => Either::Left(f),
                    Either::Right((s, _)) => Either::Right(s),
                }
            };
            let payload = match next {
                Either::Right(stage) => {
                    self.stage = stage;
                    let grace = self.interrupt.as_ref().map(|i| i.grace());
                    let cancel = ClientMessage::Cancel {
                        id: self.id,
                        kill: stage == Stage::Killing,
                        grace_ms: grace.map(|g| u64::try_from(g.as_millis()).unwrap_or(u64::MAX)),
                    };
                    if let Err(e) = write_frame(wr, &cancel, max).await {
                        return Step::Broken(Broken::Lost(e));
                    }
                    continue;
                }
                Either::Left(Ok(Some(p))) => p,
                Either::Left(Ok(None)) => {
                    return Step::Broken(Broken::Lost(ApiError::Protocol {
                        message: "the connection closed before the answer".into(),
                    }));
                }
                Either::Left(Err(e)) => return Step::Broken(Broken::Lost(lost(&e))),
            };
            let msg = match frame::decode::<ServerMessage>(&payload) {
                Ok(m) => m,
                Err(e) => return Step::Broken(Broken::Lost(e)),
            };
            if msg.id().is_some_and(|id| id != self.id) {
                // What a previous exchange left unread.
                continue;
            }
            return Step::Event(match msg {
                ServerMessage::Alive => return Step::Alive,
                ServerMessage::Lines { seq, lines, .. } => Event::Lines { seq, lines },
                ServerMessage::Missed { count, .. } => Event::Missed { count },
                ServerMessage::Reply { result, .. } => Event::Done(result),
                // Refused, with or without the exchange's id: this call is over.
                ServerMessage::Refused { error, .. } => Event::Done(Err(error)),
                other => {
                    return Step::Broken(Broken::Lost(ApiError::Protocol {
                        message: format!("the agent answered a call with {other:?}"),
                    }));
                }
            });
        }
    }
}

/// Reads journals over `io` (greeting as `me`) as `read` says; the stream ends with
/// [`ReadEvent::Ended`], or an error when the connection breaks. Dropping it ends the read.
pub fn read_journal<S>(
    io: S,
    me: String,
    read: ReadRequest,
    max: u32,
) -> impl Stream<Item = Result<ReadEvent, ApiError>> + Send
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (rd, wr) = io.split();
    let reader = FrameReader::new(rd, max, None);
    let state = Some((reader, wr, Some(read)));
    futures::stream::unfold(state, move |state| {
        let me = me.clone();
        async move {
            let (mut reader, mut wr, read) = state?;
            if let Some(read) = read {
                if let Err(e) = write_frame(&mut wr, &Hello::new(me), max).await {
                    return Some((Err(e), None));
                }
                let msg = ClientMessage::Read {
                    id: ID,
                    query: read.query,
                    location: read.location,
                    all: read.all,
                };
                if let Err(e) = write_frame(&mut wr, &msg, max).await {
                    return Some((Err(e), None));
                }
                if let Err(Ungreeted::Refused(e) | Ungreeted::Broken(e)) =
                    greeted(&mut reader).await
                {
                    return Some((Err(e), None));
                }
            }
            let message = loop {
                let payload = match reader.next().await {
                    Ok(Some(p)) => p,
                    Ok(None) => {
                        return Some((
                            Err(ApiError::Protocol {
                                message: "the connection closed before the read ended".into(),
                            }),
                            None,
                        ));
                    }
                    Err(e) => return Some((Err(lost(&e)), None)),
                };
                match frame::decode::<ServerMessage>(&payload) {
                    // A read following a quiet journal: nothing to give.
                    Ok(ServerMessage::Alive) => {}
                    other => break other,
                }
            };
            let event = match message {
                Ok(ServerMessage::Entries {
                    location, entries, ..
                }) => ReadEvent::Entries { location, entries },
                Ok(ServerMessage::Missed { count, .. }) => ReadEvent::Missed { count },
                Ok(ServerMessage::Unread {
                    location, error, ..
                }) => ReadEvent::Unread { location, error },
                Ok(ServerMessage::CaughtUp { .. }) => ReadEvent::CaughtUp,
                Ok(ServerMessage::Ended { error, .. }) => ReadEvent::Ended(error),
                Ok(ServerMessage::Refused { error, .. }) => ReadEvent::Ended(Some(error)),
                Ok(other) => {
                    return Some((
                        Err(ApiError::Protocol {
                            message: format!("the agent answered a read with {other:?}"),
                        }),
                        None,
                    ));
                }
                Err(e) => return Some((Err(e), None)),
            };
            let over = matches!(event, ReadEvent::Ended(_));
            Some((Ok(event), (!over).then_some((reader, wr, None))))
        }
    })
}
