//! One agent's XMPP client: logs in as `<location>@<domain>/agent`, says it is there and
//! subscribes to the master as the original agents did, answers the server's and the
//! callers' stanzas, joins and leaves log rooms for calls, and stops on request.
//!
//! One task owns the client. Call tasks talk to it through an [`Outbox`] (a bounded channel of
//! commands, each reply on a oneshot), so the client is never shared.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio_xmpp::Stanza;
use tokio_xmpp::connect::{DnsConfig, StartTlsServerConnector, TcpServerConnector};
use tokio_xmpp::stanzastream::{Event, StanzaStream, StreamEvent};
use tokio_xmpp::xmlstream::Timeouts;
use xmpp_parsers::data_forms::{DataForm, DataFormType};
use xmpp_parsers::disco::{DiscoInfoResult, Identity};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::muc::Muc;
use xmpp_parsers::muc::user::{MucUser, Status};
use xmpp_parsers::presence::{Presence, Show, Type as PresenceType};
use xmpp_parsers::roster::Roster;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};
use xmpp_parsers::{muc, ns};

use crate::agent::Caller;
use crate::commands::{self, Commands};
pub(crate) use crate::outbox::{Command, Outbox};
use crate::shared::Shared;

/// The connection to the server: tokio-xmpp's stanza stream, owned by one task, not split.
///
/// Not tokio-xmpp's `Client`: it splits the stream into halves that share a mutex, and its
/// receiving half gives up without a wake-up when the sending half holds the mutex, so a
/// client that sends while stanzas arrive may never hear from the server again.
type Client = StanzaStream;

/// Stanzas waiting in each direction of a connection.
const QUEUE_DEPTH: usize = 64;

/// A log room in use.
struct Room {
    /// Calls using it.
    users: usize,
    joined: bool,
    waiting: Vec<oneshot::Sender<Result<(), String>>>,
}

/// Which client: an agent's, or the master's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A location's agent: answers calls, subscribes to the master.
    Agent,
    /// The master: offers the ad-hoc commands.
    Master,
}

/// What serves the stanzas of a client's role.
enum Handler {
    Agent(Arc<Caller>),
    Master(Arc<Commands>),
}

/// What a client needs.
pub(crate) struct Spec {
    /// The location (the master's: `master`); its nick in rooms.
    pub location: String,
    /// Which client.
    pub role: Role,
    /// `<location>@<domain>/agent`.
    pub jid: FullJid,
    /// Its password.
    pub password: String,
}

/// The state of a logged-in client.
struct Online {
    role: Role,
    /// The server's stanza size limit: nothing larger is sent.
    stanza_limit: usize,
    outbox: Outbox,
    jid: FullJid,
    nick: String,
    master: BareJid,
    pending: HashMap<String, oneshot::Sender<Iq>>,
    rooms: HashMap<BareJid, Room>,
    /// The keepalive ping waiting for the server's answer, and when it was sent.
    ping: Option<(String, tokio::time::Instant)>,
    pings: u64,
    /// When the next keepalive ping is due.
    next_ping: tokio::time::Instant,
}

/// How soon after login the connection is first checked, and how often after that.
const FIRST_CHECK: Duration = Duration::from_secs(1);
const CHECK_EVERY: Duration = Duration::from_secs(15);
/// How often a ping waiting for its answer is looked at.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// Longest the server may take to answer a keepalive ping before the connection is taken
/// for stalled and made again.
const PING_ANSWER: Duration = Duration::from_secs(5);

/// Whether a session ended for good or must log in again.
enum Ended {
    Stopped,
    Lost,
    /// The server stopped answering (or the client stopped delivering): log in again.
    Stalled,
}

/// Runs the client of agent `spec` until `stop` fires (or its sender is dropped).
pub(crate) async fn run(spec: Spec, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let config = &shared.config;
    let (tx, mut commands) = mpsc::channel(256);
    let outbox = Outbox::new(tx);
    let handler = match spec.role {
        Role::Agent => Handler::Agent(Arc::new(Caller::new(
            &spec.location,
            &shared,
            outbox.clone(),
        ))),
        Role::Master => Handler::Master(Arc::new(Commands::new(
            spec.jid.clone(),
            &shared,
            outbox.clone(),
        ))),
    };
    let mut backoff = Duration::from_secs(1);
    // The master's account is the operator's: never registered here.
    let mut registered = !config.register || spec.role == Role::Master;
    loop {
        let server = match resolve(&config.host, config.port).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(location = spec.location, "cannot find the XMPP server: {e}");
                if pause(&mut stop, &mut backoff).await {
                    return;
                }
                continue;
            }
        };
        if !registered {
            let user = spec.jid.node().map(|n| n.to_string()).unwrap_or_default();
            match crate::register::register(
                &server,
                &config.domain,
                &user,
                &spec.password,
                config.login_timeout,
            )
            .await
            {
                Ok(r) => {
                    tracing::info!(
                        location = spec.location,
                        "account {}: {r:?}",
                        spec.jid.to_bare()
                    );
                    registered = true;
                }
                Err(e) => tracing::warn!(location = spec.location, "{e}"),
            }
        }
        let jid = Jid::from(spec.jid.clone());
        let password = spec.password.clone();
        let mut client = if config.tls {
            let server = StartTlsServerConnector::from(DnsConfig::addr(&server));
            StanzaStream::new_c2s(server, jid, password, Timeouts::tight(), QUEUE_DEPTH)
        } else {
            let server = TcpServerConnector::from(DnsConfig::addr(&server));
            StanzaStream::new_c2s(server, jid, password, Timeouts::tight(), QUEUE_DEPTH)
        };
        let online = tokio::select! {
            _ = &mut stop => {
                end(client).await;
                return;
            }
            online = tokio::time::timeout(config.login_timeout, wait_online(&mut client)) => online,
        };
        if !matches!(online, Ok(true)) {
            let why = format!(
                "not online within {} s (check the account, its password, and the server's \
                 certificate: the lines above say why the connection failed)",
                config.login_timeout.as_secs()
            );
            tracing::warn!(
                location = spec.location,
                "cannot log in as {} on {server}: {why}",
                spec.jid
            );
            end(client).await;
            if pause(&mut stop, &mut backoff).await {
                return;
            }
            continue;
        }
        backoff = Duration::from_secs(1);
        let mut state = Online {
            role: spec.role,
            stanza_limit: config.stanza_limit,
            outbox: outbox.clone(),
            jid: spec.jid.clone(),
            nick: spec.location.clone(),
            master: config.master.clone(),
            pending: HashMap::new(),
            rooms: HashMap::new(),
            ping: None,
            pings: 0,
            next_ping: tokio::time::Instant::now() + FIRST_CHECK,
        };
        state.announce(&mut client).await;
        if spec.role == Role::Agent {
            shared.set_online(&spec.location, true);
        }
        tracing::info!(location = spec.location, "online as {}", spec.jid);
        let mut check = tokio::time::interval(LOOK_EVERY);
        let ended = loop {
            tokio::select! {
                biased;
                _ = &mut stop => break Ended::Stopped,
                _ = check.tick() => if !state.keepalive(&mut client).await {
                    break Ended::Stalled;
                },
                Some(command) = commands.recv() => state.command(&mut client, command).await,
                event = client.next() => match event {
                    None => break Ended::Lost,
                    // A new session after a lost one: said again, rooms joined again.
                    Some(Event::Stream(StreamEvent::Reset { .. })) => {
                        // A ping sent on the lost session gets no answer on this one.
                        state.ping = None;
                        state.announce(&mut client).await;
                        state.rejoin(&mut client).await;
                    }
                    Some(Event::Stream(StreamEvent::Suspended)) => {
                        tracing::warn!(location = spec.location, "connection lost, reconnecting");
                    }
                    Some(Event::Stream(StreamEvent::Resumed)) => {}
                    Some(Event::Stanza(stanza)) => {
                        tracing::trace!("{} received {stanza:?}", spec.jid);
                        state.stanza(&mut client, stanza, &handler).await;
                    }
                },
            }
        };
        shared.set_online(&spec.location, false);
        match ended {
            Ended::Stopped => {
                state
                    .send(&mut client, Presence::unavailable().into())
                    .await;
                end(client).await;
                tracing::info!(location = spec.location, "offline");
                return;
            }
            Ended::Lost => {
                tracing::warn!(
                    location = spec.location,
                    "the connection ended; logging in again"
                );
                end(client).await;
            }
            Ended::Stalled => {
                tracing::warn!(
                    location = spec.location,
                    "the server did not answer a ping within {} s; logging in again",
                    PING_ANSWER.as_secs()
                );
                // Briefly: the stream may not move at all.
                let _ = tokio::time::timeout(Duration::from_secs(1), client.close()).await;
            }
        }
    }
}

/// The server's address as `IP:PORT`.
async fn resolve(host: &str, port: u16) -> Result<String, String> {
    let mut addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("{host}:{port}: {e}"))?;
    addrs
        .next()
        .map(|a| a.to_string())
        .ok_or_else(|| format!("{host}:{port} has no address"))
}

/// Waits for the client to be online (false if its stream ended first).
///
/// tokio-xmpp retries a failed login forever, saying why in its log: the caller bounds the
/// wait.
async fn wait_online(client: &mut Client) -> bool {
    while let Some(event) = client.next().await {
        if let Event::Stream(StreamEvent::Reset { .. }) = event {
            return true;
        }
    }
    false
}

/// Waits `backoff` (doubling it, up to a minute) unless `stop` fires; true if it did.
async fn pause(stop: &mut oneshot::Receiver<()>, backoff: &mut Duration) -> bool {
    let wait = *backoff;
    *backoff = (*backoff * 2).min(Duration::from_secs(60));
    tokio::select! {
        _ = stop => true,
        () = tokio::time::sleep(wait) => false,
    }
}

/// Closes the client's stream, within a few seconds.
async fn end(client: Client) {
    let _ = tokio::time::timeout(Duration::from_secs(5), client.close()).await;
}

/// The result answering request `id` from `to`.
fn result_reply(to: Option<Jid>, id: String, payload: Option<Element>) -> Stanza {
    Iq::Result {
        from: None,
        to,
        id,
        payload,
    }
    .into()
}

fn error_reply(to: Option<Jid>, id: String, condition: DefinedCondition) -> Iq {
    let error_type = match condition {
        DefinedCondition::ServiceUnavailable => ErrorType::Cancel,
        _ => ErrorType::Modify,
    };
    Iq::Error {
        from: None,
        to,
        id,
        error: StanzaError::new(error_type, condition, "en", ""),
        payload: None,
    }
}

impl Online {
    /// What the original agent did at session start: roster, presence, and a subscription
    /// request to the master so that the master's roster lists it.
    async fn announce(&mut self, client: &mut Client) {
        let roster = Iq::Get {
            from: None,
            to: None,
            id: "roster".into(),
            payload: Roster {
                ver: None,
                items: Vec::new(),
            }
            .into(),
        };
        let mut stanzas = vec![Stanza::Iq(roster), Presence::available().into()];
        if self.role == Role::Agent {
            let mut subscribe = Presence::subscribe()
                .with_to(Jid::from(self.master.clone()))
                .with_show(Show::Chat);
            subscribe.set_status("", format!("New Armonic Agent {}", self.jid.to_bare()));
            stanzas.push(subscribe.into());
        }
        for stanza in stanzas {
            self.send(client, stanza).await;
        }
    }

    /// Checks that the connection moves: a ping to the server when one is due, answered
    /// within `PING_ANSWER`. False when the last one was not answered in time (or this one
    /// could not be sent in time).
    async fn keepalive(&mut self, client: &mut Client) -> bool {
        if let Some((_, sent)) = &self.ping {
            return sent.elapsed() < PING_ANSWER;
        }
        let now = tokio::time::Instant::now();
        if now < self.next_ping {
            return true;
        }
        self.next_ping = now + CHECK_EVERY;
        self.pings += 1;
        let id = format!("keepalive-{}", self.pings);
        let ping = Iq::Get {
            from: None,
            to: Some(Jid::from(self.jid.domain().to_owned())),
            id: id.clone(),
            payload: xmpp_parsers::ping::Ping.into(),
        };
        self.ping = Some((id, tokio::time::Instant::now()));
        tokio::time::timeout(PING_ANSWER, client.send(Box::new(ping.into())))
            .await
            .is_ok()
    }

    /// After a new login, the rooms still in use are joined again.
    async fn rejoin(&mut self, client: &mut Client) {
        let rooms: Vec<BareJid> = self.rooms.keys().cloned().collect();
        for room in rooms {
            if let Some(r) = self.rooms.get_mut(&room) {
                r.joined = false;
            }
            self.send_join(client, &room).await;
        }
    }

    /// Queues `stanza` for the server (waiting only while the queue is full), if it is within
    /// the server's size limit (else what [`within_limit`] sends instead).
    async fn send(&self, client: &mut Client, stanza: Stanza) {
        let Some(stanza) = within_limit(stanza, self.stanza_limit, &self.jid) else {
            return;
        };
        tracing::trace!("{} sends {stanza:?}", self.jid);
        let _ = client.send(Box::new(stanza)).await;
    }

    fn occupant(&self, room: &BareJid) -> Option<FullJid> {
        room.with_resource_str(&self.nick).ok()
    }

    async fn send_join(&self, client: &mut Client, room: &BareJid) {
        let Some(occupant) = self.occupant(room) else {
            return;
        };
        // No history: the agent only speaks in the room.
        let muc = Muc::new().with_history(muc::muc::History::new().with_maxstanzas(0));
        let join = Presence::available()
            .with_to(Jid::from(occupant))
            .with_payload(muc);
        self.send(client, join.into()).await;
    }

    async fn command(&mut self, client: &mut Client, command: Command) {
        match command {
            Command::Send(stanza) => self.send(client, stanza).await,
            Command::Request { iq, reply } => {
                self.pending.retain(|_, waiter| !waiter.is_closed());
                self.pending.insert(iq.id().to_owned(), reply);
                self.send(client, iq.into()).await;
            }
            Command::Join { room, reply } => {
                let entry = self.rooms.entry(room.clone()).or_insert(Room {
                    users: 0,
                    joined: false,
                    waiting: Vec::new(),
                });
                entry.users += 1;
                if entry.joined {
                    let _ = reply.send(Ok(()));
                } else {
                    entry.waiting.push(reply);
                    if entry.users == 1 {
                        self.send_join(client, &room).await;
                    }
                }
            }
            Command::Leave { room } => {
                let Some(entry) = self.rooms.get_mut(&room) else {
                    return;
                };
                entry.users = entry.users.saturating_sub(1);
                if entry.users == 0 {
                    self.rooms.remove(&room);
                    if let Some(occupant) = self.occupant(&room) {
                        let leave = Presence::unavailable().with_to(Jid::from(occupant));
                        self.send(client, leave.into()).await;
                    }
                }
            }
        }
    }

    async fn stanza(&mut self, client: &mut Client, stanza: Stanza, handler: &Handler) {
        match stanza {
            Stanza::Iq(iq) => self.iq(client, iq, handler).await,
            Stanza::Presence(p) => self.presence(client, p).await,
            // Groupchat echoes of its own log lines and anything else said to an agent.
            Stanza::Message(_) => {}
        }
    }

    async fn iq(&mut self, client: &mut Client, iq: Iq, handler: &Handler) {
        match (iq, handler) {
            (
                Iq::Set {
                    from, id, payload, ..
                },
                Handler::Agent(caller),
            ) if crate::stanza::is(&payload, "call") => {
                let reply = match from {
                    Some(from) => caller.call(from, id, &payload),
                    None => error_reply(None, id, DefinedCondition::BadRequest),
                };
                self.send(client, reply.into()).await;
            }
            (
                Iq::Set {
                    from: Some(from),
                    id,
                    payload,
                    ..
                },
                Handler::Master(commands),
            ) if payload.is("command", commands::NS) => {
                // A build step may wait for a deployment: answered from a task of its own.
                let commands = Arc::clone(commands);
                let outbox = self.outbox.clone();
                tokio::spawn(async move {
                    let reply = match commands.handle(&from, &payload).await {
                        Ok(response) => Iq::Result {
                            from: None,
                            to: Some(from),
                            id,
                            payload: Some(response),
                        },
                        Err(error) => Iq::Error {
                            from: None,
                            to: Some(from),
                            id,
                            error: *error,
                            payload: None,
                        },
                    };
                    outbox.send(reply).await;
                });
            }
            (iq, _) => self.plain_iq(client, iq, handler).await,
        }
    }

    /// IQs every client answers the same way (and errors for the others).
    async fn plain_iq(&mut self, client: &mut Client, iq: Iq, handler: &Handler) {
        match iq {
            Iq::Get {
                from, id, payload, ..
            } if payload.is("ping", ns::PING) => {
                self.send(client, result_reply(from, id, None)).await;
            }
            Iq::Get {
                from, id, payload, ..
            } if payload.is("query", ns::DISCO_INFO) => {
                let reply = match (payload.attr("node"), handler) {
                    (None, _) => Some(disco_info(handler).into()),
                    (Some(node), Handler::Master(_)) if node == commands::NS => {
                        Some(disco_info(handler).into())
                    }
                    (Some(node), Handler::Master(_)) => commands::node_info(node).map(Into::into),
                    (Some(_), Handler::Agent(_)) => None,
                };
                let reply = match reply {
                    Some(info) => result_reply(from, id, Some(info)),
                    None => error_reply(from, id, DefinedCondition::ItemNotFound).into(),
                };
                self.send(client, reply).await;
            }
            Iq::Get {
                from, id, payload, ..
            } if payload.is("query", ns::DISCO_ITEMS) => {
                let items = match (payload.attr("node"), handler) {
                    (Some(node), Handler::Master(c)) if node == commands::NS => {
                        commands::items(c.me())
                    }
                    (node, _) => xmpp_parsers::disco::DiscoItemsResult {
                        node: node.map(str::to_owned),
                        items: Vec::new(),
                        rsm: None,
                    },
                };
                self.send(client, result_reply(from, id, Some(items.into())))
                    .await;
            }
            // Roster pushes from the server are acknowledged.
            Iq::Set {
                from, id, payload, ..
            } if payload.is("query", ns::ROSTER) => {
                self.send(client, result_reply(from, id, None)).await;
            }
            Iq::Get { from, id, .. } | Iq::Set { from, id, .. } => {
                let reply = error_reply(from, id, DefinedCondition::ServiceUnavailable);
                self.send(client, reply.into()).await;
            }
            answer @ (Iq::Result { .. } | Iq::Error { .. }) => {
                if self.ping.as_ref().is_some_and(|(id, _)| id == answer.id()) {
                    self.ping = None;
                } else if let Some(waiter) = self.pending.remove(answer.id()) {
                    let _ = waiter.send(answer);
                }
            }
        }
    }

    async fn presence(&mut self, client: &mut Client, p: Presence) {
        let Some(from) = p.from.clone() else {
            return;
        };
        let room = from.to_bare();
        if let Some(entry) = self.rooms.get_mut(&room) {
            let own = from.resource().map(|r| r.as_str()) == Some(self.nick.as_str());
            let user = p
                .payloads
                .iter()
                .find(|e| e.is("x", ns::MUC_USER))
                .and_then(|e| MucUser::try_from(e.clone()).ok());
            let own = own
                || user
                    .as_ref()
                    .is_some_and(|u| u.status.contains(&Status::SelfPresence));
            match p.type_ {
                PresenceType::Error => {
                    let reason = error_text(&p.payloads);
                    for waiter in entry.waiting.drain(..) {
                        let _ = waiter.send(Err(reason.clone()));
                    }
                    self.rooms.remove(&room);
                }
                PresenceType::None if own => {
                    entry.joined = true;
                    for waiter in entry.waiting.drain(..) {
                        let _ = waiter.send(Ok(()));
                    }
                    if user.is_some_and(|u| u.status.contains(&Status::RoomHasBeenCreated)) {
                        // A room this agent created is locked until configured: take the
                        // defaults (an instant room) so callers can join it.
                        let unlock = Iq::Set {
                            from: None,
                            to: Some(Jid::from(room.clone())),
                            id: format!("unlock-{room}"),
                            payload: instant_room(),
                        };
                        self.send(client, unlock.into()).await;
                    }
                }
                PresenceType::Unavailable if own => {
                    self.rooms.remove(&room);
                }
                _ => {}
            }
            return;
        }
        if p.type_ == PresenceType::Subscribe {
            // As the original (sleekxmpp's default), anyone may see the agent's presence.
            let approve = Presence::subscribed().with_to(Jid::from(from.to_bare()));
            self.send(client, approve.into()).await;
            if self.role == Role::Master {
                // As the original master (sleekxmpp's auto_subscribe): the master sees the
                // agents that subscribe to it.
                let back = Presence::subscribe().with_to(Jid::from(from.to_bare()));
                self.send(client, back.into()).await;
            }
        }
    }
}

/// The size of `stanza` written out, in bytes.
fn stanza_size(stanza: &Stanza) -> usize {
    let element = match stanza {
        Stanza::Iq(iq) => Element::from(iq.clone()),
        Stanza::Message(m) => Element::from(m.clone()),
        Stanza::Presence(p) => Element::from(p.clone()),
    };
    crate::limits::size(&element)
}

/// `stanza` if it is within `limit` bytes; else, for an answer, an error saying it was too
/// large, for a message, its text cut to fit, and nothing for anything else. A server closes
/// the stream of a client that sends a stanza over its limit: the agent would go offline for
/// everyone. What builds stanzas from data keeps them within the limit itself; this is the
/// last resort.
fn within_limit(stanza: Stanza, limit: usize, me: &FullJid) -> Option<Stanza> {
    let size = stanza_size(&stanza);
    if size <= limit {
        return Some(stanza);
    }
    tracing::warn!(
        "{me}: a stanza of {size} bytes is over the server's limit ({limit} bytes): not sent whole"
    );
    let instead = match stanza {
        Stanza::Iq(Iq::Result { to, id, .. } | Iq::Error { to, id, .. }) => {
            let text = format!(
                "the answer is {size} bytes, more than the {limit} bytes the XMPP server \
                 accepts in a stanza"
            );
            Stanza::Iq(Iq::Error {
                from: None,
                to,
                id,
                error: StanzaError::new(
                    ErrorType::Cancel,
                    DefinedCondition::ResourceConstraint,
                    "en",
                    text,
                ),
                payload: None,
            })
        }
        Stanza::Message(mut m) => {
            let budget = limit.saturating_sub(crate::limits::ENVELOPE) / 2;
            for body in m.bodies.values_mut() {
                *body = crate::limits::cut(body, budget);
            }
            m.payloads
                .retain(|p| crate::limits::size(p) < crate::limits::ENVELOPE);
            Stanza::Message(m)
        }
        Stanza::Iq(_) | Stanza::Presence(_) => return None,
    };
    (stanza_size(&instead) <= limit).then_some(instead)
}

fn error_text(payloads: &[Element]) -> String {
    payloads
        .iter()
        .find(|e| e.name() == "error")
        .and_then(|e| StanzaError::try_from(e.clone()).ok())
        .map_or_else(
            || "the room refused the agent".to_owned(),
            |e| format!("the room refused the agent: {:?}", e.defined_condition),
        )
}

/// `<query xmlns="…muc#owner"><x xmlns="jabber:x:data" type="submit"/></query>`.
fn instant_room() -> Element {
    let form: Element = DataForm {
        type_: DataFormType::Submit,
        title: None,
        instructions: None,
        fields: Vec::new(),
    }
    .into();
    Element::builder("query", "http://jabber.org/protocol/muc#owner")
        .append(form)
        .build()
}

fn disco_info(handler: &Handler) -> DiscoInfoResult {
    let (name, mut features) = match handler {
        Handler::Agent(_) => ("Armonic agent", vec![crate::stanza::NS]),
        Handler::Master(_) => ("Armonic master", vec![commands::NS, ns::DATA_FORMS]),
    };
    features.extend([ns::DISCO_INFO, ns::DISCO_ITEMS, ns::PING, ns::MUC]);
    DiscoInfoResult {
        node: None,
        identities: vec![Identity::new("client", "bot", "en", name)],
        features: features.into_iter().map(str::to_owned).collect(),
        extensions: Vec::new(),
    }
}
