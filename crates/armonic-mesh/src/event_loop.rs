//! The one owner of the swarm: a loop over swarm events, commands from handles, and a tick.
//! It only dispatches; what is known of peers lives in the [`View`]. Calls do not pass
//! through it: each is a stream of its own, opened and served by `calls.rs`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use armonic_proto::{Catalogue, Digest};
use futures::StreamExt;
use libp2p::core::ConnectedPoint;
use libp2p::gossipsub::{self, IdentTopic};
use libp2p::request_response::{self, ResponseChannel};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{DialError, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, mdns};
use serde_bytes::ByteBuf;
use tokio::sync::{mpsc, oneshot};

use crate::protocol::{self, Ack, Announce, CatalogueReply, CatalogueRequest, Probe};
use crate::swarm::{Behaviour, BehaviourEvent};
use crate::view::{self, View};

/// What handles ask of the loop.
pub(crate) enum Command {
    SetCatalogue(Box<Catalogue>),
    ListenAddrs(oneshot::Sender<Vec<Multiaddr>>),
    Shutdown,
}

/// The loop's state.
pub(crate) struct EventLoop {
    pub swarm: Swarm<Behaviour>,
    pub commands: mpsc::Receiver<Command>,
    pub view: Arc<RwLock<View>>,
    pub bootstrap: Vec<Multiaddr>,
    /// Peers whose catalogue is being asked for, and whether their peers are asked too.
    pub fetching: HashMap<PeerId, bool>,
    pub digest_pending: bool,
    /// Catalogue questions asked before there was a catalogue: when, by whom, whether the
    /// peers are wanted too, and where the answer goes.
    pub unanswered: Vec<(Instant, PeerId, bool, ResponseChannel<CatalogueReply>)>,
    pub gossip_every: Duration,
    /// A connected peer silent this long is taken for dead and disconnected (longer while
    /// this node is unwell: see [`Health`]).
    pub silence: Duration,
    /// Catalogue questions waiting for one in flight to end (see [`MAX_FETCHING`]).
    pub to_fetch: VecDeque<(PeerId, bool)>,
    /// Dials this node may still start this tick.
    pub pace: Pace,
    pub health: Health,
    /// How often a watched peer is probed.
    pub ping_every: Duration,
    /// The peers this node watches now (see [`View::watch`]).
    pub watching: HashSet<PeerId>,
    /// When each peer was last probed.
    pub probed: HashMap<PeerId, Instant>,
    /// Peers others said are silent, being confirmed: since when, and how many said so.
    pub confirming: HashMap<PeerId, (Instant, u32)>,
}

/// How many dials a node starts per tick: as many as it needs while its loop keeps time,
/// halved each time the loop comes late (a handshake costs both ends milliseconds of CPU, and
/// a machine handshaking more than it can falls behind on everything else), then raised again
/// a few at a time.
pub(crate) struct Pace {
    per_tick: usize,
    left: usize,
}

impl Pace {
    const MOST: usize = 64;
    /// Dials added back per tick on time.
    const RISE: usize = 4;

    pub fn new() -> Pace {
        Pace {
            per_tick: Self::MOST,
            left: Self::MOST,
        }
    }

    /// A new tick, on time or not.
    fn tick(&mut self, late: bool) {
        self.per_tick = if late {
            (self.per_tick / 2).max(1)
        } else {
            (self.per_tick + Self::RISE).min(Self::MOST)
        };
        self.left = self.per_tick;
    }
}

/// What this node thinks of its own state (Lifeguard's local health): it rises when its loop
/// runs late, and falls back while it keeps time. Each level gives peers another `ping_every` of silence before they are cut:
/// an overloaded node doubts itself before it doubts the others.
#[derive(Default)]
pub(crate) struct Health {
    level: u32,
    calm_ticks: u32,
}

impl Health {
    const WORST: u32 = 8;
    /// Ticks on time before the level falls by one.
    const CALM: u32 = 8;

    fn worse(&mut self) {
        self.level = (self.level + 1).min(Self::WORST);
        self.calm_ticks = 0;
    }

    fn tick(&mut self, late: bool) {
        if late {
            self.worse();
        } else {
            self.calm_ticks += 1;
            if self.calm_ticks >= Self::CALM {
                self.calm_ticks = 0;
                self.level = self.level.saturating_sub(1);
            }
        }
    }

    /// The silence after which a peer is cut, for `silence` when well.
    fn silence(&self, silence: Duration) -> Duration {
        silence + silence / 3 * self.level
    }
}

fn read(view: &RwLock<View>) -> std::sync::RwLockReadGuard<'_, View> {
    view.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write(view: &RwLock<View>) -> std::sync::RwLockWriteGuard<'_, View> {
    view.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether `addr` is on the loopback interface.
fn is_loopback(addr: &Multiaddr) -> bool {
    use libp2p::multiaddr::Protocol;
    match addr.iter().next() {
        Some(Protocol::Ip4(ip)) => ip.is_loopback(),
        Some(Protocol::Ip6(ip)) => ip.is_loopback(),
        _ => false,
    }
}

/// Most catalogue questions kept waiting for this agent's catalogue.
const MAX_UNANSWERED: usize = 1024;

/// How often the loop looks after its peers (silence, dials, digests).
const TICK: Duration = Duration::from_millis(250);

/// Most catalogue questions this node has in flight; the others wait their turn.
pub(crate) const MAX_FETCHING: usize = 64;

/// How many peers each node watches (probes every `ping_every`).
pub(crate) const WATCHERS: usize = 3;

/// How many watchers' word that a peer is silent makes a node cut it without confirming.
const WORD_ENOUGH: u32 = 2;

impl EventLoop {
    /// Runs until shut down (or every handle is gone).
    pub async fn run(mut self) {
        let digests = IdentTopic::new(protocol::DIGESTS);
        if let Err(e) = self.swarm.behaviour_mut().gossip.subscribe(&digests) {
            tracing::warn!("cannot subscribe to catalogue digests: {e}");
        }
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_gossip = Instant::now();
        let mut last_tick = Instant::now();
        let mut last_bootstrap: Option<Instant> = None;
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm(event),
                command = self.commands.recv() => match command {
                    None | Some(Command::Shutdown) => break,
                    Some(c) => self.on_command(c),
                },
                _ = tick.tick() => {
                    let now = Instant::now();
                    // A tick this late means this loop could not run: its peers' answers may
                    // be waiting unread, so the time it stood still does not count as theirs.
                    let stall = now.duration_since(last_tick).saturating_sub(2 * TICK);
                    last_tick = now;
                    self.liveness(now, stall);
                    self.redial(now, &mut last_bootstrap);
                    // Gossip can miss a peer (gossipsub may lose track of a subscription when
                    // two connections join the same pair): a catalogue unheard of for two
                    // periods is asked for directly, so no change stays unseen for long.
                    let unheard = write(&self.view).unheard_for(now, self.gossip_every * 2);
                    for peer in unheard {
                        self.fetching.remove(&peer);
                        self.fetch_catalogue(peer, false);
                    }
                    if self.digest_pending || now.duration_since(last_gossip) >= self.gossip_every {
                        last_gossip = now;
                        self.publish_digest();
                    }
                }
            }
        }
    }

    /// Liveness, each tick: the watched peers silent too long are cut and the others told;
    /// the peers others said are silent and did not answer this node either are cut; the
    /// watched and those being confirmed are probed. Nothing is concluded on a tick that came
    /// `stall` late: the answers may be waiting unread.
    fn liveness(&mut self, now: Instant, stall: Duration) {
        let late = !stall.is_zero();
        self.health.tick(late);
        self.pace.tick(late);
        let local = *self.swarm.local_peer_id();
        let (silent, unconfirmed) = {
            let mut view = write(&self.view);
            let watching = view.watch(local, WATCHERS);
            for peer in watching.difference(&self.watching) {
                view.watched_from(*peer, now);
            }
            self.watching = watching;
            if late {
                tracing::debug!(?stall, "the mesh loop was held up");
                view.forgive(now, stall);
                for (since, _) in self.confirming.values_mut() {
                    *since = (*since + stall).min(now);
                }
                (Vec::new(), Vec::new())
            } else {
                let limit = self.health.silence(self.silence);
                let silent = view.silent_for(now, limit, &self.watching);
                // A peer answered since it was said silent: confirmed alive. One that did not
                // within its time is cut.
                let wait = self.health.silence(self.ping_every);
                let mut unconfirmed = Vec::new();
                self.confirming.retain(|peer, (since, _)| {
                    if view.last_heard(*peer).is_none_or(|heard| heard > *since)
                        || view.peers.get(peer).is_none_or(|p| p.connections == 0)
                    {
                        return false;
                    }
                    if now.saturating_duration_since(*since) > wait {
                        unconfirmed.push(*peer);
                        return false;
                    }
                    true
                });
                for peer in &unconfirmed {
                    view.cut(*peer);
                }
                (silent, unconfirmed)
            }
        };
        for peer in &silent {
            tracing::debug!(%peer, "watched, silent: disconnected, the others told");
            let _ = self.swarm.disconnect_peer_id(*peer);
            self.tell_silent(*peer);
        }
        for peer in unconfirmed {
            tracing::debug!(%peer, "said silent, and silent here too: disconnected");
            let _ = self.swarm.disconnect_peer_id(peer);
        }
        let due: Vec<PeerId> = self
            .watching
            .iter()
            .chain(self.confirming.keys())
            .filter(|p| {
                self.probed
                    .get(p)
                    .is_none_or(|t| now.saturating_duration_since(*t) >= self.ping_every)
            })
            .copied()
            .collect();
        for peer in due {
            self.probe(peer, now);
        }
        self.probed
            .retain(|p, _| self.watching.contains(p) || self.confirming.contains_key(p));
    }

    fn probe(&mut self, peer: PeerId, now: Instant) {
        self.probed.insert(peer, now);
        self.swarm
            .behaviour_mut()
            .probe
            .send_request(&peer, Probe::Ping);
    }

    /// Tells every connected member but `silent` that this node cut `silent`.
    fn tell_silent(&mut self, silent: PeerId) {
        let others: Vec<PeerId> = read(&self.view)
            .peers
            .iter()
            .filter(|(id, p)| **id != silent && p.met && p.connections > 0)
            .map(|(id, _)| *id)
            .collect();
        for peer in others {
            self.swarm
                .behaviour_mut()
                .probe
                .send_request(&peer, Probe::Silent(silent.to_bytes()));
        }
    }

    /// Peer `from` says it cut `silent`: unless `silent` was heard from within two periods (a
    /// watched peer answering is heard from every period), this node confirms with a probe of
    /// its own (or, told by enough watchers, cuts it at once).
    fn said_silent(&mut self, from: PeerId, silent: PeerId, now: Instant) {
        if silent == *self.swarm.local_peer_id() || silent == from {
            return;
        }
        let fresh = {
            let view = read(&self.view);
            let connected = view.peers.get(&silent).is_some_and(|p| p.connections > 0);
            !connected
                || view
                    .last_heard(silent)
                    .is_some_and(|heard| now.saturating_duration_since(heard) < self.ping_every * 2)
        };
        if fresh {
            return;
        }
        let (_, said) = self.confirming.entry(silent).or_insert((now, 0));
        *said += 1;
        if *said >= WORD_ENOUGH {
            self.confirming.remove(&silent);
            write(&self.view).cut(silent);
            tracing::debug!(%silent, "said silent by {WORD_ENOUGH} watchers: disconnected");
            let _ = self.swarm.disconnect_peer_id(silent);
        } else if !self.probed.contains_key(&silent) {
            self.probe(silent, now);
        }
    }

    fn on_probe(&mut self, event: request_response::Event<Probe, Ack>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    write(&self.view).heard(peer);
                    let _ = self
                        .swarm
                        .behaviour_mut()
                        .probe
                        .send_response(channel, Ack {});
                    if let Probe::Silent(id) = request
                        && let Ok(silent) = PeerId::from_bytes(&id)
                    {
                        self.said_silent(peer, silent, Instant::now());
                    }
                }
                request_response::Message::Response { .. } => write(&self.view).heard(peer),
            },
            // An unanswered probe is silence, which the tick weighs (this loop may have been
            // the one held up); a probe that broke with its connection is the connection's.
            request_response::Event::OutboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, "probe unanswered: {error}");
            }
            _ => {}
        }
    }

    /// Dials the known peers not connected whose wait is over.
    fn dial_due(&mut self, now: Instant) {
        let due = write(&self.view).due_for_dial(now, self.pace.left);
        self.pace.left -= due.len();
        for (peer, addrs) in due {
            let opts = DialOpts::peer_id(peer)
                .addresses(addrs)
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            if let Err(DialError::DialPeerConditionFalse(_)) = self.swarm.dial(opts) {
                write(&self.view).dial_not_started(peer);
            }
        }
    }

    fn redial(&mut self, now: Instant, last_bootstrap: &mut Option<Instant>) {
        self.dial_due(now);
        // Bootstrap peers whose identity is not known yet are dialed by address.
        if last_bootstrap.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1)) {
            *last_bootstrap = Some(now);
            let known: Vec<Multiaddr> = {
                let view = read(&self.view);
                // Only peers met: another agent's word that some peer listens there is not
                // enough to stop dialing a bootstrap address.
                view.peers
                    .values()
                    .filter(|p| p.met)
                    .flat_map(|p| p.addrs.clone())
                    .collect()
            };
            for addr in &self.bootstrap {
                if !known.contains(addr) {
                    let _ = self.swarm.dial(addr.clone());
                }
            }
        }
    }

    fn publish_digest(&mut self) {
        let digest: Option<Digest> = read(&self.view).local.as_ref().map(Catalogue::digest);
        let Some(digest) = digest else { return };
        let announce = Announce {
            digest,
            addrs: self.own_addrs().iter().map(ToString::to_string).collect(),
        };
        let mut data = Vec::new();
        if ciborium::into_writer(&announce, &mut data).is_err() {
            return;
        }
        let topic = IdentTopic::new(protocol::DIGESTS);
        match self.swarm.behaviour_mut().gossip.publish(topic, data) {
            Ok(_) | Err(gossipsub::PublishError::Duplicate) => self.digest_pending = false,
            // Nobody listens yet: said again as soon as someone subscribes.
            Err(_) => self.digest_pending = true,
        }
    }

    /// Answers the catalogue questions waiting, once there is a catalogue to give: a peer
    /// that asks before this agent has said its catalogue (it connects as the agent starts)
    /// gets it as soon as it is said, rather than nothing. Questions waiting longer than
    /// their asker waits are dropped, as are the oldest beyond [`MAX_UNANSWERED`].
    fn answer_catalogue_questions(&mut self) {
        let now = Instant::now();
        self.unanswered
            .retain(|(asked, ..)| now.duration_since(*asked) < protocol::CATALOGUE_TIMEOUT);
        let excess = self.unanswered.len().saturating_sub(MAX_UNANSWERED);
        self.unanswered.drain(..excess);
        let replies: Vec<_> = {
            let view = read(&self.view);
            let Some(local) = &view.local else { return };
            self.unanswered
                .drain(..)
                .map(|(_, peer, with_peers, channel)| {
                    let reply = CatalogueReply {
                        catalogue: local.clone(),
                        peers: if with_peers {
                            view.known(peer)
                        } else {
                            Vec::new()
                        },
                    };
                    (channel, reply)
                })
                .collect()
        };
        for (channel, reply) in replies {
            let _ = self
                .swarm
                .behaviour_mut()
                .catalogue
                .send_response(channel, reply);
        }
    }

    /// Asks `peer` for its catalogue, and the peers it knows if `with_peers`.
    fn fetch_catalogue(&mut self, peer: PeerId, with_peers: bool) {
        // One question at a time per peer, but one asking for the peers goes out even while
        // one that does not is under way.
        let asked = self.fetching.get(&peer).copied();
        if asked.is_some() && !(with_peers && asked == Some(false)) {
            return;
        }
        if self.fetching.len() >= MAX_FETCHING {
            match self.to_fetch.iter_mut().find(|(p, _)| *p == peer) {
                Some((_, w)) => *w |= with_peers,
                None => self.to_fetch.push_back((peer, with_peers)),
            }
            return;
        }
        {
            self.fetching.insert(peer, with_peers);
            let addrs = self
                .own_addrs()
                .into_iter()
                .map(|a| ByteBuf::from(a.to_vec()))
                .collect();
            let request = CatalogueRequest {
                addrs,
                peers: with_peers,
            };
            let dial = self.addresses_of(peer);
            self.swarm
                .behaviour_mut()
                .catalogue
                .send_request_with_addresses(&peer, request, dial);
        }
    }

    /// A catalogue question ended: the next waiting goes out, if its peer is still connected
    /// (one that is not is asked when its connection comes up).
    fn next_fetch(&mut self) {
        while self.fetching.len() < MAX_FETCHING {
            let Some((peer, with_peers)) = self.to_fetch.pop_front() else {
                return;
            };
            if self.swarm.is_connected(&peer) {
                self.fetch_catalogue(peer, with_peers);
            }
        }
    }

    /// Where this agent may be dialed, as it tells others: its listen addresses that can be
    /// dialed, those of other machines before loopback, no more than a peer keeps (a host
    /// with many addresses must still fit in a catalogue question).
    fn own_addrs(&self) -> Vec<Multiaddr> {
        let mut addrs: Vec<Multiaddr> = self
            .swarm
            .listeners()
            .filter(|a| view::dialable(a))
            .cloned()
            .collect();
        addrs.sort_by_key(is_loopback);
        addrs.truncate(view::MAX_ADDRS);
        addrs
    }

    /// Where `peer` was seen: to dial it if a request finds it not connected.
    fn addresses_of(&self, peer: PeerId) -> Vec<Multiaddr> {
        read(&self.view)
            .peers
            .get(&peer)
            .map(|p| p.addrs.clone())
            .unwrap_or_default()
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::SetCatalogue(c) => {
                write(&self.view).local = Some(*c);
                self.answer_catalogue_questions();
                self.publish_digest();
            }
            Command::ListenAddrs(tx) => {
                let _ = tx.send(self.swarm.listeners().cloned().collect());
            }
            Command::Shutdown => {}
        }
    }

    fn on_swarm(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                let addr = match endpoint {
                    ConnectedPoint::Dialer { address, .. } => Some(address),
                    ConnectedPoint::Listener { .. } => None,
                };
                {
                    let mut view = write(&self.view);
                    if let Some(a) = addr {
                        view.seen_at(peer_id, a);
                    }
                    view.connected(peer_id);
                }
                // The first answer on a connection also says whom the peer knows.
                self.fetch_catalogue(peer_id, true);
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                ..
            } => {
                write(&self.view).disconnected(peer_id, num_established as usize);
            }
            SwarmEvent::Behaviour(event) => self.on_behaviour(event),
            _ => {}
        }
    }

    fn on_behaviour(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                let mut view = write(&self.view);
                for (peer, addr) in found {
                    view.seen_at(peer, addr);
                }
            }
            BehaviourEvent::Mdns(mdns::Event::Expired(_)) => {}
            BehaviourEvent::Probe(event) => self.on_probe(event),
            BehaviourEvent::Gossip(gossipsub::Event::Message {
                propagation_source,
                message,
                ..
            }) => {
                // Said by the peer itself: it is alive (a message relayed says nothing of when).
                if message.source == Some(propagation_source) {
                    write(&self.view).heard(propagation_source);
                }
                self.on_gossip(message);
            }
            // A digest no one could hear yet goes out to the first listener. Other newcomers
            // need none: a new connection fetches the catalogue on both sides, and a digest
            // on every subscription would cost every agent a message per pair at start-up.
            BehaviourEvent::Gossip(gossipsub::Event::Subscribed { topic, .. }) => {
                if self.digest_pending && topic == IdentTopic::new(protocol::DIGESTS).hash() {
                    self.publish_digest();
                }
            }
            BehaviourEvent::Gossip(_) => {}
            BehaviourEvent::Catalogue(event) => self.on_catalogue(event),
            BehaviourEvent::Calls(()) => {}
            BehaviourEvent::Book(never) | BehaviourEvent::Limits(never) => match never {},
        }
    }

    fn on_gossip(&mut self, message: gossipsub::Message) {
        if message.topic == IdentTopic::new(protocol::DIGESTS).hash() {
            let Some(source) = message.source else { return };
            if source == *self.swarm.local_peer_id() {
                return;
            }
            if let Ok(a) = ciborium::from_reader::<Announce, _>(message.data.as_slice()) {
                let stale = {
                    let mut view = write(&self.view);
                    let addrs = a
                        .addrs
                        .iter()
                        .take(view::MAX_ADDRS)
                        .filter_map(|s| s.parse::<Multiaddr>().ok());
                    view.heard_at(*self.swarm.local_peer_id(), source, addrs);
                    view.digest(source, a.digest)
                };
                // A peer not connected yet gets its catalogue asked when it is: asking now
                // would dial it, and the dial is for the rule of who dials whom to decide.
                if stale && self.swarm.is_connected(&source) {
                    self.fetching.remove(&source);
                    self.fetch_catalogue(source, false);
                }
            }
        }
    }

    fn on_catalogue(&mut self, event: request_response::Event<CatalogueRequest, CatalogueReply>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    {
                        let mut view = write(&self.view);
                        for addr in view::addrs(&request.addrs) {
                            view.seen_at(peer, addr);
                        }
                    }
                    self.unanswered
                        .push((Instant::now(), peer, request.peers, channel));
                    self.answer_catalogue_questions();
                }
                request_response::Message::Response { response, .. } => {
                    self.fetching.remove(&peer);
                    self.next_fetch();
                    {
                        let mut view = write(&self.view);
                        view.catalogue(peer, response.catalogue);
                        view.told_of(*self.swarm.local_peer_id(), &response.peers);
                    }
                    // The peers it knows are met now, not at the next tick.
                    self.dial_due(Instant::now());
                }
            },
            request_response::Event::OutboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, "catalogue not fetched: {error}");
                self.fetching.remove(&peer);
                self.next_fetch();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dials_per_tick_halve_when_the_loop_runs_late_and_climb_back_a_few_at_a_time() {
        let mut pace = Pace::new();
        assert_eq!(pace.left, Pace::MOST);
        pace.tick(true);
        assert_eq!(pace.left, Pace::MOST / 2);
        for _ in 0..10 {
            pace.tick(true);
        }
        assert_eq!(pace.left, 1, "never none");
        pace.tick(false);
        assert_eq!(pace.left, 1 + Pace::RISE);
        for _ in 0..100 {
            pace.tick(false);
        }
        assert_eq!(pace.left, Pace::MOST);
    }

    #[test]
    fn an_unwell_node_gives_its_peers_longer_before_cutting_them_and_recovers_when_calm() {
        let silence = Duration::from_secs(3);
        let mut health = Health::default();
        assert_eq!(health.silence(silence), silence);
        health.tick(true);
        health.tick(true);
        assert_eq!(health.silence(silence), Duration::from_secs(5));
        for _ in 0..20 {
            health.worse();
        }
        assert_eq!(health.level, Health::WORST);
        assert_eq!(health.silence(silence), Duration::from_secs(11), "bounded");
        for _ in 0..Health::CALM * Health::WORST {
            health.tick(false);
        }
        assert_eq!(health.silence(silence), silence);
    }
}
