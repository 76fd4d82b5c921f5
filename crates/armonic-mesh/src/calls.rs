//! Calls between agents: each on a stream of its own (`/armonic/call/2`), carrying the same
//! frames as the control socket, served by the same server (`armonic_proto::serve`).
//!
//! Serving: every stream a peer opens is a door whose caller is that peer (Noise proved
//! it); the operators' rule says whether it may change states; a peer may hold only so many
//! streams at once, and all peers together only so many, their frames within one budget of
//! memory. Beyond, the stream is refused with a reason. What comes through it is for this
//! agent's own location ([`Here`]): a call or read naming another is refused, never relayed
//! (relayed, it would reach the other agent as this one, with this one's rights there).
//!
//! Calling ([`Remote`]): a read is asked again when its stream breaks, within the read's
//! time; a call that changes states whose stream breaks is re-attached to (the same call
//! id, from the next line wanted) until its agent answers again, for a while: nothing runs
//! twice, and the caller gets the rest and the real outcome. Only when the agent stays away
//! is the outcome `unknown` (the step may have partly run); a call that could not even be
//! sent is `unreachable`.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use armonic_proto::client::{self, Broken, Heard, Session};
use armonic_proto::io::Budget;
use armonic_proto::serve::{self, Door, ReadEvent, ReadRequest, ReadStream, Service};
use armonic_proto::{
    ApiError, Call, CallStream, Caller, Endpoint, Event, ServerMessage, answered, frame,
};
use futures::{FutureExt, Stream, StreamExt};
use libp2p::PeerId;

use crate::links::{Conn, Links};

/// What calls of other agents may take here.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Streams one peer may hold open at once.
    pub per_peer: usize,
    /// Streams all peers together may hold open at once.
    pub total: usize,
    /// Bytes of frames being read at once, from all peers together.
    pub budget: usize,
    /// Largest frame a peer may send.
    pub max_frame: u32,
    /// Time a peer has to greet on a new stream.
    pub hello_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            per_peer: 32,
            total: 256,
            budget: 16 * 1024 * 1024,
            max_frame: 1024 * 1024,
            hello_timeout: Duration::from_secs(5),
        }
    }
}

/// How this node serves the streams peers open.
pub(crate) struct Serving {
    pub service: Here,
    pub limits: Limits,
    pub budget: Budget,
    /// Peers allowed to change states; every member when `None`.
    pub operators: Option<std::collections::HashSet<PeerId>>,
    pub grace: Duration,
    pub open: Mutex<HashMap<PeerId, usize>>,
}

/// What the mesh's door serves: this agent's location, and no other. A member asks another
/// agent by opening a stream to it; a call here naming another location would be relayed by
/// this agent's service as this agent, an operator there perhaps where the caller is not, so
/// it is refused, as is a read of another agent's journal (or of every agent's). A call
/// naming no location is pinned to this one (the service would otherwise route it by its
/// address). Before this agent has said its name, nothing is served: no member can know it
/// yet, so none asks.
pub(crate) struct Here {
    pub service: Arc<dyn Service>,
    pub links: Arc<Links>,
}

impl Here {
    /// This agent's name, or why nothing can be served yet.
    fn name(&self) -> Result<String, ApiError> {
        self.links.local_name().ok_or_else(|| ApiError::Busy {
            message: "this agent is starting: try again shortly".into(),
        })
    }

    fn elsewhere(here: &str, there: &str) -> ApiError {
        ApiError::InvalidRequest {
            message: format!(
                "agent {here} answers the mesh for its own location only: ask {there} itself"
            ),
        }
    }
}

impl Service for Here {
    fn call(&self, mut call: Call) -> CallStream {
        let here = match self.name() {
            Ok(h) => h,
            Err(e) => return answered(Err(e)),
        };
        if let Some(there) = call.location.as_deref().filter(|l| *l != here) {
            tracing::info!(caller = ?call.caller, location = there, "refused a call for another location");
            return answered(Err(Here::elsewhere(&here, there)));
        }
        call.location = Some(here);
        self.service.call(call)
    }

    fn read(&self, mut read: ReadRequest) -> ReadStream {
        let refused =
            |e| -> ReadStream { Box::pin(futures::stream::iter([ReadEvent::Ended(Some(e))])) };
        let here = match self.name() {
            Ok(h) => h,
            Err(e) => return refused(e),
        };
        if read.all {
            return refused(Here::elsewhere(&here, "each agent"));
        }
        if let Some(there) = read.location.as_deref().filter(|l| *l != here) {
            return refused(Here::elsewhere(&here, there));
        }
        read.location = None;
        self.service.read(read)
    }
}

/// One stream served: its place counted until it ends.
struct Admitted {
    serving: Arc<Serving>,
    peer: PeerId,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self
            .serving
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.peer);
            }
        }
    }
}

impl Serving {
    /// A place for a stream of `peer`, or why there is none.
    fn admit(self: &Arc<Self>, peer: PeerId) -> Result<Admitted, ApiError> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let total: usize = open.values().sum();
        let mine = open.get(&peer).copied().unwrap_or(0);
        if mine >= self.limits.per_peer {
            return Err(ApiError::Busy {
                message: format!(
                    "peer {peer} has {mine} calls open here already (at most {}): wait for some to end",
                    self.limits.per_peer
                ),
            });
        }
        if total >= self.limits.total {
            return Err(ApiError::Busy {
                message: format!(
                    "this agent serves {total} calls of the mesh already (at most {}): try again shortly",
                    self.limits.total
                ),
            });
        }
        *open.entry(peer).or_insert(0) += 1;
        Ok(Admitted {
            serving: Arc::clone(self),
            peer,
        })
    }
}

/// Serves the streams peers open, until the node stops.
pub(crate) async fn serve_incoming(
    mut incoming: libp2p_stream::IncomingStreams,
    serving: Arc<Serving>,
    links: Arc<Links>,
) {
    while let Some((peer, stream)) = incoming.next().await {
        let conn = Conn(stream);
        let admitted = match serving.admit(peer) {
            Ok(a) => a,
            Err(error) => {
                tracing::debug!(%peer, "refused a stream: {error}");
                let max = serving.limits.max_frame;
                tokio::spawn(async move {
                    let mut conn = conn;
                    let refusal = ServerMessage::Refused { id: None, error };
                    let _ = tokio::time::timeout(
                        Duration::from_secs(2),
                        armonic_proto::io::write_frame(&mut conn, &refusal, max),
                    )
                    .await;
                });
                continue;
            }
        };
        let name = links.name_of(peer);
        let refused_changes = serving
            .operators
            .as_ref()
            .filter(|ops| !ops.contains(&peer))
            .map(|_| {
                format!("peer {peer} is not an operator of this agent: it may not change states")
            });
        let door = Door {
            name: links.local_name().unwrap_or_else(|| links.peer_id()),
            caller: Caller::Peer {
                peer_id: peer.to_string(),
                name,
            },
            refused_changes,
            limits: serve::Limits {
                max_frame: serving.limits.max_frame,
                calls: 1,
                reads: 1,
                budget: Some(serving.budget.clone()),
            },
            grace: serving.grace,
        };
        let serving = Arc::clone(&serving);
        tokio::spawn(async move {
            let _place = admitted;
            let deadline = tokio::time::sleep(serving.limits.hello_timeout);
            let mut ticks = tokio::time::interval(Duration::from_secs(1));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let ticks = futures::stream::poll_fn(move |cx| ticks.poll_tick(cx).map(|_| Some(())));
            serve::serve(conn, door, &serving.service, deadline, ticks).await;
        });
    }
}

/// Another location of the mesh, as an endpoint.
pub(crate) struct Remote {
    pub name: String,
    pub mesh: Arc<Links>,
}

/// What one attempt at a call hears: one stream to the agent.
type Attempt = Pin<Box<dyn Stream<Item = Result<Heard, Broken>> + Send>>;

/// Lines and answers of one call to another agent, re-attached to when its stream breaks.
struct Attempts {
    mesh: Arc<Links>,
    name: String,
    call: Call,
    peer: Option<PeerId>,
    /// The stream of the current attempt.
    events: Option<Attempt>,
    /// Whether the call may have reached the agent (an attempt sent it).
    sent: bool,
    /// When the agent was last heard, for liveness.
    heard: Instant,
    over: bool,
}

/// How long a call's stream may say nothing before it is taken for dead (its agent says
/// it is there every second).
const SILENCE: Duration = Duration::from_secs(10);

impl Attempts {
    /// The peer answered on its stream: it is alive, whatever its probes say.
    fn alive(&mut self) {
        if self.heard.elapsed() >= Duration::from_millis(500) {
            self.heard = Instant::now();
            if let Some(p) = self.peer {
                self.mesh.heard(p);
            }
        }
    }

    fn lost(&self, why: &str) -> ApiError {
        ApiError::Unknown {
            location: self.name.clone(),
            message: format!(
                "the agent went away during the call and did not come back within {} s ({why}): it may have partly run; `armonic journal` on it says what it did",
                self.mesh.reattach_for.as_secs()
            ),
        }
    }

    /// The next event of the call, opening (or re-opening) streams as needed.
    async fn next(&mut self) -> Option<Event> {
        if self.over {
            return None;
        }
        let changes = self.call.request.changes_state();
        let give_up = Instant::now()
            + if changes {
                self.mesh.reattach_for
            } else {
                self.mesh.query_timeout
            };
        let mut wait = Duration::from_millis(100);
        let mut last_error: Option<ApiError> = None;
        loop {
            if self.events.is_none() {
                if Instant::now() >= give_up {
                    self.over = true;
                    let error = last_error.unwrap_or(ApiError::Unreachable {
                        location: self.name.clone(),
                        message: "it does not answer".into(),
                    });
                    return Some(Event::Done(Err(if self.sent && changes {
                        self.lost(&error.to_string())
                    } else if self.sent {
                        ApiError::Timeout {
                            location: self.name.clone(),
                            seconds: self.mesh.query_timeout.as_secs(),
                        }
                    } else {
                        error
                    })));
                }
                let peer = match self.peer {
                    Some(p) => p,
                    None => match self.mesh.live_peer(&self.name) {
                        Ok(p) => {
                            self.peer = Some(p);
                            p
                        }
                        Err(e) => {
                            self.over = true;
                            return Some(Event::Done(Err(e)));
                        }
                    },
                };
                let mut call = self.call.clone();
                call.again |= self.sent;
                let mesh = self.mesh.clone();
                let back = move |session| mesh.keep(peer, session);
                if let Some(session) = self.mesh.reuse(peer) {
                    self.events = Some(Box::pin(session.call(call, back)));
                    continue;
                }
                let open = tokio::time::timeout(
                    Duration::from_secs(5).min(give_up.saturating_duration_since(Instant::now())),
                    self.mesh.open(peer),
                )
                .await;
                match open {
                    Ok(Ok(conn)) => {
                        let session = Session::new(conn, self.mesh.peer_id(), frame::MAX_FRAME);
                        self.events = Some(Box::pin(session.call(call, back)));
                    }
                    Ok(Err(e)) => {
                        last_error = Some(ApiError::Unreachable {
                            location: self.name.clone(),
                            message: e,
                        });
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(2));
                        continue;
                    }
                    Err(_) => {
                        last_error = Some(ApiError::Unreachable {
                            location: self.name.clone(),
                            message: "no stream could be opened in time".into(),
                        });
                        continue;
                    }
                }
            }
            let Some(events) = self.events.as_mut() else {
                continue;
            };
            // A call's agent says it is there at least every second: silence this long means
            // the stream is dead (a frozen agent, a connection that will not close), and the
            // call is re-attached to on a new one. Reads wait no longer than their time.
            let until = if changes {
                tokio::time::Instant::now() + SILENCE
            } else {
                give_up.into()
            };
            let got = match tokio::time::timeout_at(until, events.next()).await {
                Ok(got) => got,
                // This process may have been the one held up: what arrived meanwhile counts.
                Err(_) => match events.next().now_or_never() {
                    Some(got) => got,
                    None if changes => {
                        tracing::debug!(location = self.name, call = %self.call.id, "call stream silent: re-attaching");
                        self.events = None;
                        self.sent = true;
                        last_error = Some(ApiError::Unreachable {
                            location: self.name.clone(),
                            message: format!("it said nothing for {} s", SILENCE.as_secs()),
                        });
                        continue;
                    }
                    None => {
                        self.over = true;
                        return Some(Event::Done(Err(ApiError::Timeout {
                            location: self.name.clone(),
                            seconds: self.mesh.query_timeout.as_secs(),
                        })));
                    }
                },
            };
            match got {
                Some(Ok(Heard::Alive)) => {
                    self.sent = true;
                    self.alive();
                    continue;
                }
                Some(Ok(Heard::Event(event))) => {
                    self.sent = true;
                    self.alive();
                    match &event {
                        Event::Lines { seq, lines } => {
                            self.call.from_seq = seq + lines.len() as u64;
                        }
                        Event::Missed { count } => self.call.from_seq += count,
                        Event::Done(_) => self.over = true,
                    }
                    return Some(event);
                }
                Some(Err(Broken::NotSent(e))) => {
                    // Not written on this stream: tried again as it was.
                    self.events = None;
                    last_error = Some(e);
                }
                Some(Err(Broken::Lost(e))) => {
                    self.events = None;
                    self.sent = true;
                    tracing::debug!(location = self.name, call = %self.call.id, "call stream broke: {e}; re-attaching");
                    last_error = Some(e);
                }
                None => self.events = None,
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
    }
}

impl Endpoint for Remote {
    fn name(&self) -> &str {
        &self.name
    }

    fn call(&self, call: Call) -> CallStream {
        let attempts = Attempts {
            mesh: Arc::clone(&self.mesh),
            name: self.name.clone(),
            call: call.at(self.name.clone()),
            peer: None,
            events: None,
            sent: false,
            heard: Instant::now(),
            over: false,
        };
        Box::pin(futures::stream::unfold(attempts, |mut a| async move {
            a.next().await.map(|e| (e, a))
        }))
    }
}

/// Reads the journal of location `name` as `read` says.
pub(crate) fn read_journal(mesh: &Arc<Links>, name: &str, mut read: ReadRequest) -> ReadStream {
    let mesh = Arc::clone(mesh);
    let name = name.to_owned();
    // Named, so that an agent that is not `name` (a member's entry may be wrong) refuses it.
    read.location = Some(name.clone());
    let events = futures::stream::once(async move {
        let peer = match mesh.live_peer(&name) {
            Ok(p) => p,
            Err(e) => return futures::stream::iter(vec![ReadEvent::Ended(Some(e))]).boxed(),
        };
        match tokio::time::timeout(Duration::from_secs(5), mesh.open(peer)).await {
            Ok(Ok(conn)) => client::read_journal(conn, mesh.peer_id(), read, frame::MAX_FRAME)
                .map(|r| r.unwrap_or_else(|e| ReadEvent::Ended(Some(e))))
                .boxed(),
            Ok(Err(e)) => {
                futures::stream::iter(vec![ReadEvent::Ended(Some(ApiError::Unreachable {
                    location: name,
                    message: e,
                }))])
                .boxed()
            }
            Err(_) => futures::stream::iter(vec![ReadEvent::Ended(Some(ApiError::Unreachable {
                location: name,
                message: "no stream could be opened in time".into(),
            }))])
            .boxed(),
        }
    })
    .flatten();
    // Whatever the other end says, the read ends once it says so.
    let mut over = false;
    Box::pin(events.take_while(move |e| {
        let go = !over;
        over |= matches!(e, ReadEvent::Ended(_));
        futures::future::ready(go)
    }))
}
