//! The one owner of the swarm: a loop over swarm events, commands from handles, and a tick.
//! It only dispatches; what is known of peers lives in the [`View`]. Calls do not pass
//! through it: each is a stream of its own, opened and served by `calls.rs`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use armonic_proto::{Catalogue, Digest};
use futures::StreamExt;
use libp2p::core::ConnectedPoint;
use libp2p::gossipsub::{self, IdentTopic};
use libp2p::request_response::{self, ResponseChannel};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{DialError, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, mdns, ping};
use serde_bytes::ByteBuf;
use tokio::sync::{mpsc, oneshot};

use crate::protocol::{self, Announce, CatalogueReply, CatalogueRequest};
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
    /// A connected peer silent this long is taken for dead and disconnected.
    pub silence: Duration,
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
                    let silent = {
                        let mut view = write(&self.view);
                        if !stall.is_zero() {
                            tracing::debug!(?stall, "the mesh loop was held up");
                            view.forgive(now, stall);
                        }
                        view.silent_for(now, self.silence)
                    };
                    for peer in silent {
                        tracing::debug!(%peer, "silent: disconnected");
                        let _ = self.swarm.disconnect_peer_id(peer);
                    }
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

    /// Dials the known peers not connected whose wait is over.
    fn dial_due(&mut self, now: Instant) {
        let due = write(&self.view).due_for_dial(now);
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
        if last_bootstrap.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(2)) {
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
        if asked.is_none() || (with_peers && asked == Some(false)) {
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
            BehaviourEvent::Ping(ping::Event { peer, result, .. }) => match result {
                Ok(_) => write(&self.view).heard(peer),
                // An unanswered ping is silence, which the tick weighs (this loop may have been
                // the one held up); a ping that broke means the connection did.
                Err(ping::Failure::Timeout) => tracing::debug!(%peer, "ping unanswered"),
                Err(e) => {
                    tracing::debug!(%peer, "ping failed: {e}");
                    write(&self.view).silent(peer);
                    let _ = self.swarm.disconnect_peer_id(peer);
                }
            },
            BehaviourEvent::Gossip(gossipsub::Event::Message { message, .. }) => {
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
            BehaviourEvent::Book(never) => match never {},
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
            }
            _ => {}
        }
    }
}
