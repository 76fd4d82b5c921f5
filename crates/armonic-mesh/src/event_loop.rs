//! The one owner of the swarm: a loop over swarm events, commands from handles, and a tick.
//! It only dispatches; what is known of peers lives in the [`View`]. Calls do not pass
//! through it: each is a stream of its own, opened and served by `calls.rs`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use armonic_proto::Catalogue;
use futures::StreamExt;
use libp2p::core::ConnectedPoint;
use libp2p::request_response;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{DialError, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, mdns};
use tokio::sync::{mpsc, oneshot};

use crate::members::{self, Taken};
use crate::probes::Probes;
use crate::protocol::{Entry, MembersReply, MembersRequest};
use crate::shapes::Hash;
use crate::swarm::{Behaviour, BehaviourEvent};
use crate::view::{View, read, write};

/// What handles ask of the loop.
pub(crate) enum Command {
    SetCatalogue(Box<Catalogue>),
    ListenAddrs(oneshot::Sender<Vec<Multiaddr>>),
    /// A call is to go to this peer: connect with it.
    Dial(PeerId),
    Shutdown,
}

/// The loop's state.
pub(crate) struct EventLoop {
    pub swarm: Swarm<Behaviour>,
    pub commands: mpsc::Receiver<Command>,
    pub view: Arc<RwLock<View>>,
    pub bootstrap: Vec<Multiaddr>,
    /// Peers asked what this node lacks, an answer awaited.
    pub syncing: HashMap<request_response::OutboundRequestId, PeerId>,
    /// Entries passed on, their (empty) answers awaited.
    pub pushing: usize,
    /// Entries asked for in full, the answers awaited; when each member's was last asked.
    pub wanting: HashMap<request_response::OutboundRequestId, (PeerId, bool)>,
    /// Peers asked to compare what they hold with this node, an answer awaited; when a probe
    /// last led to a comparison.
    pub comparing: HashMap<request_response::OutboundRequestId, PeerId>,
    pub compared_at: Instant,
    pub asked: HashMap<PeerId, Instant>,
    /// Shapes asked for, the answers awaited.
    pub shaping: HashMap<request_response::OutboundRequestId, Vec<Hash>>,
    /// When the news held is to be passed on.
    pub flush_at: Option<Instant>,
    /// When news was last passed on.
    pub last_round: Instant,
    /// How often this node compares what it holds with one peer's.
    pub gossip_every: Duration,
    /// A connected peer silent this long is taken for dead and disconnected (longer while
    /// this node is unwell: see [`Health`]).
    pub silence: Duration,
    /// Dials this node may still start this tick.
    pub pace: Pace,
    pub health: Health,
    /// How often a watched peer is probed.
    pub ping_every: Duration,
    /// The peers this node watches now (see [`View::watch`]).
    pub watching: HashSet<PeerId>,
    /// The probes of the watched peers, and the answers of the watchers.
    pub probes: Probes,
    /// Watched peers whose answers held other members than this node holds.
    pub differ: mpsc::Receiver<PeerId>,
    /// Picks peers at random.
    pub rng: Rng,
    /// The members picked at random to keep connections with (besides the ring), each with
    /// how many live members this node knew when it was picked; when one was last picked
    /// anew.
    pub chosen: HashMap<PeerId, usize>,
    pub chosen_at: Instant,
    /// A comparison brought news: another, with another peer, at the next tick.
    pub sync_soon: bool,
}

/// A small random number generator (xorshift), for picking peers: the picks need only differ
/// between nodes and over time.
pub(crate) struct Rng(u64);

impl Rng {
    /// Seeded from `peer` and the clock.
    pub fn new(peer: &PeerId) -> Rng {
        let seed = peer.to_bytes().iter().fold(members::now_ms() | 1, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// At most `k` of `items`, picked at random.
    fn pick<T>(&mut self, mut items: Vec<T>, k: usize) -> Vec<T> {
        let k = k.min(items.len());
        for i in 0..k {
            let j = i + (self.next() % (items.len() - i) as u64) as usize;
            items.swap(i, j);
        }
        items.truncate(k);
        items
    }
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

/// Whether `addr` is on the loopback interface.
fn is_loopback(addr: &Multiaddr) -> bool {
    use libp2p::multiaddr::Protocol;
    match addr.iter().next() {
        Some(Protocol::Ip4(ip)) => ip.is_loopback(),
        Some(Protocol::Ip6(ip)) => ip.is_loopback(),
        _ => false,
    }
}

/// How often the loop looks after its peers (silence, dials, comparisons).
const TICK: Duration = Duration::from_millis(250);

/// How many peers each node watches (probes every `ping_every`).
pub(crate) const WATCHERS: usize = 3;

/// How many peers an entry that is news is passed on to.
const FANOUT: usize = 3;

/// How long news waits to be passed on, so that what arrives together goes together.
const NEWS_DELAY: Duration = Duration::from_millis(50);

/// Least time between two rounds of news passed on: a node busy with news (a mesh starting,
/// many members changing at once) sends more entries a round, not more rounds.
const ROUND_EVERY: Duration = Duration::from_millis(200);

/// About how many bytes of entries one message passing them on carries.
const PUSH_BUDGET: usize = 256 * 1024;

/// About how many bytes of entries an answer carries (the asker asks again for the rest).
const ANSWER_BUDGET: usize = 1024 * 1024;

/// An asker holding fewer entries than this is a newcomer, answered with [`SAMPLE`] members.
const NEWCOMER: usize = 4;
const SAMPLE: usize = 16;

/// How soon a node that compared what it holds with a peer's because a probe found their
/// digests differ may do so again.
const COMPARE_EVERY: Duration = Duration::from_millis(500);

/// When bootstrap addresses not reached are dialed again: a second after the first try,
/// then twice as long each time up to 8 s, each wait drawn between half and all of it (many
/// agents given the same peer do not all come back at once: a peer that could not take them
/// all is not dialed by all of them every second).
#[derive(Debug)]
pub(crate) struct Backoff {
    wait: Duration,
    next: Option<Instant>,
}

impl Backoff {
    const FIRST: Duration = Duration::from_secs(1);
    const MOST: Duration = Duration::from_secs(8);

    pub fn new() -> Backoff {
        Backoff {
            wait: Backoff::FIRST,
            next: None,
        }
    }

    fn due(&self, now: Instant) -> bool {
        self.next.is_none_or(|t| now >= t)
    }

    /// A dial went out at `now`; `jitter` is a random number.
    fn again(&mut self, now: Instant, jitter: u64) {
        let half = self.wait / 2;
        let drawn = half + half.mul_f64((jitter % 1000) as f64 / 1000.0);
        self.next = Some(now + drawn);
        self.wait = (self.wait * 2).min(Backoff::MOST);
    }

    /// Every bootstrap address is reached: the next one lost is dialed again soon.
    fn reset(&mut self, now: Instant) {
        self.wait = Backoff::FIRST;
        self.next = Some(now + Backoff::FIRST);
    }
}

/// How long an entry asked for is not asked for again (of another peer that passed it on).
const WANT_AGAIN: Duration = Duration::from_secs(2);

/// Most messages passing entries on that a node has in flight; news waits meanwhile.
const MAX_PUSHING: usize = 64;

/// Members picked at random that each node keeps a connection with, besides the few that
/// follow it in peer-id order (see [`View::watch`]): the ring keeps the mesh in one piece,
/// the random links keep it a few hops across.
const RANDOM_LINKS: usize = 3;

/// How often one of the random links picked in a much smaller mesh is picked anew.
const RECHOOSE_EVERY: Duration = Duration::from_secs(30);

/// Most connections a node keeps beyond those it wants: peers that dialed it are let go past
/// this (calls aside).
const MOST_LINKS: usize = 32;

/// How long a connection is left up before it may be let go (time for both ends to compare
/// what they hold).
const SETTLE: Duration = Duration::from_secs(2);

/// How long after a call a connection is kept (as long as its call streams are kept idle).
const CALLS_FOR: Duration = Duration::from_secs(30);

impl EventLoop {
    /// Runs until shut down (or every handle is gone).
    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_gossip = Instant::now();
        let mut last_tick = Instant::now();
        let mut bootstrap = Backoff::new();
        let mut asked_again = Instant::now();
        loop {
            let flush_at = self.flush_at;
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm(event),
                command = self.commands.recv() => match command {
                    None | Some(Command::Shutdown) => break,
                    Some(c) => self.on_command(c),
                },
                Some(peer) = self.differ.recv() => self.differs(peer),
                () = sleep_until(flush_at), if flush_at.is_some() => {
                    self.flush_at = None;
                    self.last_round = Instant::now();
                    self.pass_on_news();
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    // A tick this late means this loop could not run: its peers' answers may
                    // be waiting unread, so the time it stood still does not count as theirs.
                    let stall = now.duration_since(last_tick).saturating_sub(2 * TICK);
                    last_tick = now;
                    self.overlay(now);
                    self.liveness(now, stall);
                    self.redial(now, &mut bootstrap);
                    // A question about a connected peer still unknown is asked again, once a
                    // second at most.
                    if self.syncing.is_empty()
                        && now.saturating_duration_since(asked_again) >= Duration::from_secs(1)
                        && self.sync_unknown()
                    {
                        asked_again = now;
                    }
                    // Entries missed (a message lost, a peer met late) are found by comparing
                    // what is held with one peer now and then, and at once again while that
                    // brings news.
                    if std::mem::take(&mut self.sync_soon)
                        || now.duration_since(last_gossip) >= self.gossip_every
                    {
                        last_gossip = now;
                        let connected = self.connected_members();
                        if let Some(peer) = self.rng.pick(connected, 1).pop() {
                            self.compare(peer);
                        }
                    }
                }
            }
        }
    }

    /// The connections this node keeps, each tick: with the few members that follow it in
    /// peer-id order and a few picked at random (a member gone is replaced); the others are
    /// let go once those are up (see [`View::to_prune`]).
    fn overlay(&mut self, now: Instant) {
        let local = *self.swarm.local_peer_id();
        let wanted = {
            let view = read(&self.view);
            let live = view.members.ring().len();
            // Now and then a random link picked while this node knew less than half the
            // members it knows now is picked anew, so that links picked early (on the first
            // ones to start, the bootstrap peer) do not stay piled on a few. Links picked in
            // a mesh of about the size it has stay: a steady mesh does not redial.
            if now.saturating_duration_since(self.chosen_at) >= RECHOOSE_EVERY {
                self.chosen_at = now;
                if let Some(dropped) = self.rng.pick(stale(&self.chosen, live), 1).pop() {
                    self.chosen.remove(&dropped);
                }
            }
            self.chosen.retain(|id, _| {
                view.members
                    .get(id)
                    .is_some_and(crate::members::Member::live)
            });
            let need = RANDOM_LINKS.saturating_sub(self.chosen.len());
            if need > 0 {
                let others: Vec<PeerId> = view
                    .members
                    .ring()
                    .iter()
                    .filter(|id| !self.chosen.contains_key(id))
                    .copied()
                    .collect();
                let picked = self.rng.pick(others, need);
                self.chosen.extend(picked.into_iter().map(|id| (id, live)));
            }
            let mut wanted = view.watch(local, WATCHERS);
            wanted.extend(self.chosen.keys().copied());
            wanted
        };
        let prune = {
            let mut view = write(&self.view);
            view.want(local, wanted);
            let up = view
                .wanted
                .iter()
                .filter(|id| view.peers.get(id).is_some_and(|p| p.connections > 0))
                .count();
            // Nothing is let go before this node holds enough of what it wants.
            if up < view.wanted.len().min(WATCHERS + 1) {
                Vec::new()
            } else {
                view.to_prune(now, MOST_LINKS, SETTLE, CALLS_FOR)
            }
        };
        for peer in prune {
            tracing::trace!(%peer, "connection let go");
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    /// Liveness, each tick: the watched peers silent too long are taken for down and
    /// disconnected, and every connected member told; the watched are probed. Nothing is
    /// concluded on a tick that came `stall` late: the answers may be waiting unread.
    fn liveness(&mut self, now: Instant, stall: Duration) {
        let late = !stall.is_zero();
        self.health.tick(late);
        self.pace.tick(late);
        let local = *self.swarm.local_peer_id();
        let silent = {
            let mut view = write(&self.view);
            let watching = view.watch(local, WATCHERS);
            for peer in watching.difference(&self.watching) {
                view.watched_from(*peer, now);
            }
            self.watching = watching;
            if late {
                tracing::debug!(?stall, "the mesh loop was held up");
                view.forgive(now, stall);
                Vec::new()
            } else {
                let limit = self.health.silence(self.silence);
                view.silent_for(now, limit, &self.watching)
            }
        };
        for peer in &silent {
            tracing::debug!(%peer, "watched, silent: taken for down, the others told");
            let _ = self.swarm.disconnect_peer_id(*peer);
        }
        self.tell_down(&silent);
        self.probes.watch(&self.watching);
    }

    /// Tells every connected member that this node took `down` for down (their entries, as
    /// they stand).
    fn tell_down(&mut self, down: &[PeerId]) {
        if down.is_empty() {
            return;
        }
        let entries: Vec<Entry> = {
            let view = read(&self.view);
            down.iter()
                .filter_map(|id| view.members.entry_of(id))
                .collect()
        };
        self.push_to_all(&entries);
    }

    /// The members this node is connected to.
    fn connected_members(&self) -> Vec<PeerId> {
        read(&self.view)
            .peers
            .iter()
            .filter(|(_, p)| p.met && p.connections > 0)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Sends `entries` to every connected member.
    fn push_to_all(&mut self, entries: &[Entry]) {
        if entries.is_empty() {
            return;
        }
        for peer in self.connected_members() {
            self.push(peer, entries.to_vec());
        }
    }

    /// Sends `request` to `peer`, counted.
    fn ask(
        &mut self,
        peer: &PeerId,
        request: MembersRequest,
    ) -> request_response::OutboundRequestId {
        write(&self.view).counts.asked += 1;
        self.swarm
            .behaviour_mut()
            .members
            .send_request(peer, request)
    }

    fn push(&mut self, peer: PeerId, entries: Vec<Entry>) {
        self.pushing += 1;
        self.ask(&peer, MembersRequest::Push(entries));
    }

    /// Asks `peer` for the entries this node lacks or holds older (one question at a time).
    fn sync(&mut self, peer: PeerId) {
        if self.syncing.values().any(|p| *p == peer) {
            return;
        }
        let have = read(&self.view).members.summary();
        let id = self.ask(&peer, MembersRequest::Sync(have));
        self.syncing.insert(id, peer);
    }

    /// Asks one connected peer whose entry this node still lacks (its question lost with a
    /// connection, or timed out on a peer swamped by newcomers) for what this node lacks.
    /// Whether there was one.
    fn sync_unknown(&mut self) -> bool {
        let unknown: Vec<PeerId> = {
            let connected = self.connected_members();
            let view = read(&self.view);
            connected
                .into_iter()
                .filter(|id| view.members.get(id).is_none())
                .collect()
        };
        let Some(peer) = self.rng.pick(unknown, 1).pop() else {
            return false;
        };
        self.sync(peer);
        true
    }

    /// Compares what this node holds with what `peer` holds (one question at a time).
    fn compare(&mut self, peer: PeerId) {
        if self.comparing.values().any(|p| *p == peer) {
            return;
        }
        let digests = read(&self.view).members.digests();
        let id = self.ask(&peer, MembersRequest::Compare(digests));
        self.comparing.insert(id, peer);
    }

    /// `peer` answered a comparison: what it holds newer is asked of it (and not passed on:
    /// news that missed one node is not news to the others), what this node holds newer is
    /// given to it.
    fn compared(&mut self, peer: PeerId, buckets: &[u32], have: &[crate::protocol::Have]) {
        if buckets.is_empty() {
            return;
        }
        let (want, give) = read(&self.view).members.compared(buckets, have);
        self.want(peer, &want, false);
        if !give.is_empty() {
            let ids: Vec<serde_bytes::ByteBuf> = give
                .iter()
                .map(|id| serde_bytes::ByteBuf::from(id.to_bytes()))
                .collect();
            let entries = read(&self.view).members.entries(&ids, PUSH_BUDGET);
            self.push(peer, entries);
        }
    }

    /// Passes on the entries that are news here, a round: to a few connected members picked
    /// at random, while not too many such messages are in flight. News left goes in another
    /// round.
    fn pass_on_news(&mut self) {
        if self.pushing < MAX_PUSHING {
            let news = write(&self.view).members.news(PUSH_BUDGET);
            if !news.is_empty() {
                let connected = self.connected_members();
                for peer in self.rng.pick(connected, FANOUT) {
                    self.push(peer, news.clone());
                }
            }
        }
        self.news_soon();
    }

    /// News waits [`NEWS_DELAY`] to be passed on, with whatever comes meanwhile, and
    /// [`ROUND_EVERY`] after the last round.
    fn news_soon(&mut self) {
        if self.flush_at.is_none() && read(&self.view).members.has_news() {
            let soon = Instant::now() + NEWS_DELAY;
            self.flush_at = Some(soon.max(self.last_round + ROUND_EVERY));
        }
    }

    /// Entries from `from` were taken: peers said down are disconnected, and this node's own
    /// entry, if it had to say itself alive again, goes to every connected member.
    fn took(&mut self, taken: &Taken) {
        for peer in &taken.gone {
            if self.swarm.is_connected(peer) {
                tracing::debug!(%peer, "said down: disconnected");
                let _ = self.swarm.disconnect_peer_id(*peer);
            }
        }
        if taken.refuted {
            tracing::debug!("said down by others: saying this node is alive again");
        }
        self.own_news();
        self.news_soon();
        // While this node wants more connections than it has picked, members first heard of
        // are picked and dialed now, not at the next tick.
        if !taken.new.is_empty() && read(&self.view).wanted.len() < WATCHERS + RANDOM_LINKS {
            let now = Instant::now();
            self.overlay(now);
            self.dial_due(now);
        }
    }

    /// This node's entry, if it changed, goes to every connected member.
    fn own_news(&mut self) {
        let own = write(&self.view).members.own_news();
        if let Some(own) = own {
            self.push_to_all(&[own]);
        }
    }

    /// This node's catalogue or addresses changed.
    fn refresh_own(&mut self) {
        let addrs = self.own_addrs();
        {
            let mut view = write(&self.view);
            let Some(local) = view.local.take() else {
                return;
            };
            view.members.set_own(&local, &addrs);
            view.local = Some(local);
        }
        self.own_news();
    }

    /// Takes `entries`; those that are news are passed on if they were (`pass_on`), not if
    /// they answered this node's question (every node asks; passing the answers on would send
    /// every entry to everyone many times over as a mesh starts).
    fn take(&mut self, from: PeerId, entries: Vec<Entry>, pass_on: bool) -> Taken {
        let taken = write(&self.view).take(
            entries,
            Some(from),
            pass_on,
            Instant::now(),
            self.ping_every * 2,
        );
        self.took(&taken);
        self.want(from, &taken.wanted, true);
        self.want_shapes(from, &taken.shapes);
        taken
    }

    /// Asks `from` for `shapes`, named by the cards it gave (the entries wait for them).
    fn want_shapes(&mut self, from: PeerId, shapes: &[Hash]) {
        if shapes.is_empty() {
            return;
        }
        let hashes = shapes
            .iter()
            .map(|h| serde_bytes::ByteBuf::from(h.to_vec()))
            .collect();
        let request = self.ask(&from, MembersRequest::Shapes(hashes));
        self.shaping.insert(request, shapes.to_vec());
    }

    /// Shapes asked for of `from` came (or, if `raw` is empty, did not): the entries that
    /// waited for them are taken.
    fn took_shapes(&mut self, from: PeerId, asked: &[Hash], raw: Vec<serde_bytes::ByteBuf>) {
        let taken = write(&self.view).take_shapes(asked, raw, Instant::now(), self.ping_every * 2);
        self.took(&taken);
        self.want(from, &taken.wanted, true);
        self.want_shapes(from, &taken.shapes);
    }

    /// Asks `from` for the entries of `members` in full (it passed on news of them without
    /// their catalogues), but for those asked of someone within the last two seconds.
    fn want(&mut self, from: PeerId, members: &[PeerId], pass_on: bool) {
        let now = Instant::now();
        self.asked
            .retain(|_, at| now.saturating_duration_since(*at) < WANT_AGAIN);
        let ids: Vec<serde_bytes::ByteBuf> = members
            .iter()
            .filter(|id| !self.asked.contains_key(id))
            .map(|id| serde_bytes::ByteBuf::from(id.to_bytes()))
            .collect();
        if ids.is_empty() {
            return;
        }
        for id in members {
            self.asked.insert(*id, now);
        }
        let request = self.ask(&from, MembersRequest::Want(ids));
        self.wanting.insert(request, (from, pass_on));
    }

    /// A watched peer answered a probe holding other members than this node: one of the two
    /// missed something. One comparison at a time, and not more often than every half second.
    fn differs(&mut self, peer: PeerId) {
        let now = Instant::now();
        if self.comparing.is_empty()
            && now.saturating_duration_since(self.compared_at) >= COMPARE_EVERY
        {
            self.compared_at = now;
            self.compare(peer);
        }
    }

    fn on_members(&mut self, event: request_response::Event<MembersRequest, MembersReply>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    write(&self.view).heard(peer);
                    let reply = match request {
                        MembersRequest::Sync(have) => {
                            let start = self.rng.next() as usize;
                            let (reply, behind) = {
                                let mut view = write(&self.view);
                                view.synced(peer);
                                // A newcomer to a large mesh is answered with a few members,
                                // and asks them for the rest: a node every newcomer was given
                                // does not send each of them the whole mesh. In a small mesh
                                // the whole answer is as small, and carries the members said
                                // down too (a member back from a freeze learns it was).
                                let reply =
                                    if have.len() < NEWCOMER && view.members.len() > 2 * SAMPLE {
                                        view.members.sample(SAMPLE, start)
                                    } else {
                                        view.members.answer(&have, ANSWER_BUDGET)
                                    };
                                (reply, view.members.behind(&have))
                            };
                            // The asker holds news this node lacks: it asks in turn.
                            if behind {
                                self.sync(peer);
                            }
                            MembersReply {
                                entries: reply,
                                ..MembersReply::default()
                            }
                        }
                        MembersRequest::Push(entries) => {
                            self.take(peer, entries, true);
                            MembersReply::default()
                        }
                        MembersRequest::Want(ids) => MembersReply {
                            entries: read(&self.view).members.entries(&ids, ANSWER_BUDGET),
                            ..MembersReply::default()
                        },
                        MembersRequest::Shapes(hashes) => MembersReply {
                            shapes: read(&self.view).members.shapes(&hashes, ANSWER_BUDGET),
                            ..MembersReply::default()
                        },
                        MembersRequest::Compare(digests) => {
                            let start = self.rng.next() as usize;
                            let mut view = write(&self.view);
                            view.synced(peer);
                            let (buckets, have) = view.members.compare(&digests, start);
                            MembersReply {
                                buckets,
                                have,
                                ..MembersReply::default()
                            }
                        }
                    };
                    let _ = self
                        .swarm
                        .behaviour_mut()
                        .members
                        .send_response(channel, reply);
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    write(&self.view).heard(peer);
                    if self.syncing.remove(&request_id).is_some() {
                        write(&self.view).synced(peer);
                        let full = response.entries.len() > 1
                            && response
                                .entries
                                .iter()
                                .map(crate::members::size)
                                .sum::<usize>()
                                >= ANSWER_BUDGET;
                        let taken = self.take(peer, response.entries, false);
                        if !taken.news.is_empty() {
                            self.sync_soon = true;
                        }
                        // An answer cut at its budget: the rest is asked for.
                        if full && self.swarm.is_connected(&peer) {
                            self.sync(peer);
                        }
                    } else if let Some((_, pass_on)) = self.wanting.remove(&request_id) {
                        // News asked for: passed on in turn (but for what a comparison found).
                        self.take(peer, response.entries, pass_on);
                    } else if self.comparing.remove(&request_id).is_some() {
                        write(&self.view).synced(peer);
                        self.compared(peer, &response.buckets, &response.have);
                    } else if let Some(asked) = self.shaping.remove(&request_id) {
                        self.took_shapes(peer, &asked, response.shapes);
                    } else {
                        self.pushing = self.pushing.saturating_sub(1);
                        self.news_soon();
                    }
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                tracing::debug!(%peer, "membership message failed: {error}");
                if let Some(asked) = self.shaping.remove(&request_id) {
                    self.took_shapes(peer, &asked, Vec::new());
                } else if self.syncing.remove(&request_id).is_none()
                    && self.wanting.remove(&request_id).is_none()
                    && self.comparing.remove(&request_id).is_none()
                {
                    self.pushing = self.pushing.saturating_sub(1);
                }
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

    fn redial(&mut self, now: Instant, bootstrap: &mut Backoff) {
        self.dial_due(now);
        // Bootstrap peers whose identity is not known yet are dialed by address.
        if bootstrap.due(now) {
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
            let mut dialed = false;
            for addr in &self.bootstrap {
                if !known.contains(addr) {
                    let _ = self.swarm.dial(addr.clone());
                    dialed = true;
                }
            }
            let jitter = self.rng.next();
            if dialed {
                bootstrap.again(now, jitter);
            } else {
                bootstrap.reset(now);
            }
        }
    }

    /// Where this agent may be dialed, as it tells others: its listen addresses that can be
    /// dialed, those of other machines before loopback, no more than a peer keeps.
    fn own_addrs(&self) -> Vec<Multiaddr> {
        let mut addrs: Vec<Multiaddr> = self
            .swarm
            .listeners()
            .filter(|a| members::dialable(a))
            .cloned()
            .collect();
        addrs.sort_by_key(is_loopback);
        addrs.truncate(members::MAX_ADDRS);
        addrs
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::SetCatalogue(c) => {
                write(&self.view).local = Some(*c);
                self.refresh_own();
            }
            Command::ListenAddrs(tx) => {
                let _ = tx.send(self.swarm.listeners().cloned().collect());
            }
            Command::Dial(peer) => {
                // Where it listens comes from the view (see `Book`).
                let opts = DialOpts::peer_id(peer)
                    .condition(PeerCondition::DisconnectedAndNotDialing)
                    .build();
                let _ = self.swarm.dial(opts);
            }
            Command::Shutdown => {}
        }
    }

    fn on_swarm(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } => {
                let addr = match endpoint {
                    ConnectedPoint::Dialer { address, .. } => Some(address),
                    ConnectedPoint::Listener { .. } => None,
                };
                let let_go = {
                    let mut view = write(&self.view);
                    let outbound = addr.is_some();
                    if let Some(a) = addr {
                        view.seen_at(peer_id, a);
                    }
                    view.connected(peer_id, outbound)
                };
                // A random link the peer let go (it has more than it keeps): another is
                // picked in its place.
                if let_go {
                    self.chosen.remove(&peer_id);
                }
                // A peer met: each side asks the other for what it lacks.
                if num_established.get() == 1 {
                    self.sync(peer_id);
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                endpoint,
                ..
            } => {
                let (lost, dialable) = {
                    let mut view = write(&self.view);
                    let lost =
                        view.disconnected(peer_id, num_established as usize, endpoint.is_dialer());
                    (lost, view.dialable(&peer_id))
                };
                // Dialed again at once: a peer that is gone refuses (or its machine does not
                // answer), and is taken for down; one that closed a connection for its own
                // reasons is met again. One with no address to dial is down at once.
                if lost && dialable {
                    self.dial_due(Instant::now());
                } else if lost && write(&self.view).unreachable(peer_id) {
                    self.tell_down(&[peer_id]);
                }
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } => self.dial_failed(peer, &error),
            SwarmEvent::NewListenAddr { .. } | SwarmEvent::ExpiredListenAddr { .. } => {
                self.refresh_own();
            }
            SwarmEvent::Behaviour(event) => self.on_behaviour(event),
            _ => {}
        }
    }

    /// A dial to `peer` failed: a peer lost and refused by its machine (nothing listens where
    /// it did) is taken for down. A dial that timed out, was reset or was turned away by the
    /// peer's limits says nothing of the peer: a live agent on a busy machine does all three
    /// (each dial taken for a death there made a mesh of 1,000 agents on two cores lose most
    /// of its members). The peer stays lost and is dialed again; its watchers judge it.
    fn dial_failed(&mut self, peer: PeerId, error: &DialError) {
        if !refused(error) {
            tracing::debug!(%peer, "dial failed, not refused: {error}");
            return;
        }
        if write(&self.view).unreachable(peer) {
            tracing::debug!(%peer, "lost and not reached again: taken for down");
            self.tell_down(&[peer]);
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
            BehaviourEvent::Members(event) => self.on_members(event),
            BehaviourEvent::Streams(()) => {}
            BehaviourEvent::Book(never) | BehaviourEvent::Limits(never) => match never {},
        }
    }
}

/// The random links of `chosen` picked while this node knew fewer than half the `live`
/// members it knows now.
fn stale(chosen: &HashMap<PeerId, usize>, live: usize) -> Vec<PeerId> {
    chosen
        .iter()
        .filter(|(_, known)| 2 * **known < live)
        .map(|(id, _)| *id)
        .collect()
}

/// Whether `error` says the peer's machine refused the connection: nothing listens there.
fn refused(error: &DialError) -> bool {
    let DialError::Transport(errors) = error else {
        return false;
    };
    errors.iter().any(|(_, e)| match e {
        // The transport's layers do not all pass their inner error on as a source (`Either`
        // skips a level): what the chain does not show, the error's debug form names.
        libp2p::TransportError::Other(e) => {
            io_refused(e) || format!("{e:?}").contains("ConnectionRefused")
        }
        libp2p::TransportError::MultiaddrNotSupported(_) => false,
    })
}

/// Whether `e`, or an error it wraps, is a refused connection.
fn io_refused(e: &std::io::Error) -> bool {
    if e.kind() == std::io::ErrorKind::ConnectionRefused {
        return true;
    }
    let mut next: Option<&(dyn std::error::Error + 'static)> = e
        .get_ref()
        .map(|inner| inner as &(dyn std::error::Error + 'static));
    while let Some(err) = next {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return io_refused(io);
        }
        next = err.source();
    }
    false
}

/// Waits until `at`, or forever when there is nothing to wait for.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bootstrap_address_not_reached_is_dialed_again_less_and_less_often_with_jitter() {
        let start = Instant::now();
        let mut b = Backoff::new();
        assert!(b.due(start), "dialed at once");
        let mut now = start;
        let mut waits = Vec::new();
        for jitter in [0, 999, 500, 0, 999, 999] {
            b.again(now, jitter);
            let next = b.next.unwrap();
            waits.push(next - now);
            assert!(!b.due(now));
            assert!(b.due(next));
            now = next;
        }
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [500, 1999, 3000, 4000, 7996, 7996]);
        b.reset(now);
        b.again(now, 0);
        assert_eq!(
            b.next.unwrap() - now,
            Duration::from_millis(500),
            "back to the first"
        );
    }

    #[test]
    fn only_random_links_picked_in_a_mesh_less_than_half_its_size_are_picked_anew() {
        let (early, half, late) = (PeerId::random(), PeerId::random(), PeerId::random());
        let chosen = HashMap::from([(early, 16), (half, 500), (late, 990)]);
        assert_eq!(stale(&chosen, 1000), [early]);
        assert!(
            stale(&chosen, 32).is_empty(),
            "a steady mesh keeps its links"
        );
    }

    #[test]
    fn only_a_refused_connection_counts_as_a_dial_that_found_nothing_there() {
        use std::io::{Error, ErrorKind};
        let addr: Multiaddr = "/ip4/127.0.0.1/tcp/1".parse().unwrap();
        let dial =
            |e: Error| DialError::Transport(vec![(addr.clone(), libp2p::TransportError::Other(e))]);
        assert!(refused(&dial(Error::from(ErrorKind::ConnectionRefused))));
        // As the transport's layers wrap it.
        #[derive(Debug)]
        struct Layer(Error);
        impl std::fmt::Display for Layer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "layer")
            }
        }
        impl std::error::Error for Layer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let wrapped = Error::other(Layer(Error::other(Layer(Error::from(
            ErrorKind::ConnectionRefused,
        )))));
        assert!(refused(&dial(wrapped)));
        for busy in [
            ErrorKind::TimedOut,
            ErrorKind::ConnectionReset,
            ErrorKind::UnexpectedEof,
        ] {
            assert!(!refused(&dial(Error::other(Layer(Error::from(busy))))));
        }
        assert!(!refused(&DialError::Aborted));
        assert!(!refused(&DialError::NoAddresses));
    }

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
