//! A node's view of the mesh: the members (see [`Members`]: who is in the mesh, alive or not,
//! with its catalogue) and the peers it has or may have a connection with (where each was
//! seen, its connections, when it was last heard from, when to dial it). Plain data, changed
//! by the event loop, read by anyone through the handle.
//!
//! A peer is listed ([`View::peers`], [`View::live`]…) once it is a member: its entry came
//! from a member (the peer itself or another), over a connection that took the private
//! network's handshake and then Noise. Peers only heard of (an mDNS announcement, which anyone
//! on the LAN can make, a bootstrap address) are kept to be dialed, for a while, and never
//! listed.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use armonic_lifecycle::Address;
use armonic_lifecycle::info::Info;
use armonic_proto::{Catalogue, PeerInfo};
use libp2p::{Multiaddr, PeerId};

use crate::members::{MAX_ADDRS, Member, Members, Taken, dialable, now_ms};

/// One peer.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub addrs: Vec<Multiaddr>,
    pub connections: usize,
    pub last_seen: Instant,
    /// When the next dial may be tried, and the wait after that.
    pub next_dial: Instant,
    pub backoff: Duration,
    /// Its last connection closed, without this node cutting it: dialed at once, and taken
    /// for down if that dial fails.
    pub lost: bool,
    /// Connections this node dialed, of those open; since when one is open.
    pub outbound: usize,
    pub up_since: Instant,
    /// When this node last opened a call stream to it.
    pub last_call: Option<Instant>,
    /// Whether the two compared what they hold since the connection came up (an answer
    /// went one way or the other): until then, the connection is not let go.
    pub synced: bool,
    /// Whether a connection to it was ever up (it proved it holds the swarm key: a member);
    /// if not (a candidate), how many dials it was given, and since when it is known.
    pub met: bool,
    pub dials: u32,
    pub since: Instant,
}

impl Peer {
    fn new(now: Instant) -> Peer {
        Peer {
            addrs: Vec::new(),
            connections: 0,
            last_seen: now,
            next_dial: now,
            backoff: Duration::from_millis(500),
            lost: false,
            outbound: 0,
            up_since: now,
            last_call: None,
            synced: false,
            met: false,
            dials: 0,
            since: now,
        }
    }
}

/// The view.
#[derive(Debug)]
pub(crate) struct View {
    pub peers: HashMap<PeerId, Peer>,
    pub members: Members,
    /// The peers this node keeps connections with (see `EventLoop::overlay`).
    pub wanted: HashSet<PeerId>,
    pub local: Option<Catalogue>,
    /// What happened since the node started, counted.
    pub counts: Counts,
}

/// Events of a node's life in the mesh, counted since it started: what `armonic mesh` and the
/// mesh bench show of its upkeep.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    /// Dials started.
    pub dials: u64,
    /// Connections that came up.
    pub connections: u64,
    /// Connected peers cut because they were silent too long.
    pub silenced: u64,
    /// Entries of members taken as news.
    pub news: u64,
    /// Membership messages sent (questions and entries passed on), and entries received in
    /// all (news or not).
    pub asked: u64,
    pub received: u64,
    /// Ticks of the loop that came late, and how late in all.
    pub stalls: u64,
    pub stalled: Duration,
}

/// Dials given to a peer never reached before it is forgotten (about 15 s of trying).
const MAX_DIALS_UNMET: u32 = 6;

/// How long a peer never reached is kept.
const UNMET_FOR: Duration = Duration::from_secs(60);

/// Most peers never reached a view keeps at once.
const MAX_UNMET: usize = 256;

/// Most addresses taken for a peer from another's word.
const HEARSAY_ADDRS: usize = 4;

/// How long the agent of the greater peer id waits for a peer it heard of to dial it.
pub(crate) const HEARSAY_GRACE: Duration = Duration::from_secs(2);

/// Most peers a view keeps to connect with.
const MAX_PEERS: usize = crate::members::MAX_MEMBERS;

/// A view of a node of its own, for tests.
#[cfg(test)]
impl Default for View {
    fn default() -> View {
        View::new(PeerId::random(), now_ms(), 8 << 20)
    }
}

impl View {
    /// The view of node `local`, started at `epoch` (milliseconds since 1970), taking
    /// catalogues of at most `max_catalogue` bytes.
    pub fn new(local: PeerId, epoch: u64, max_catalogue: u64) -> View {
        View {
            peers: HashMap::new(),
            members: Members::new(local, epoch, max_catalogue),
            wanted: HashSet::new(),
            local: None,
            counts: Counts::default(),
        }
    }

    fn peer(&mut self, id: PeerId) -> &mut Peer {
        self.peers
            .entry(id)
            .or_insert_with(|| Peer::new(Instant::now()))
    }

    /// A peer was seen at `addr` (mDNS, a connection, its own word). A new address gives a
    /// peer not reached yet its dials again.
    pub fn seen_at(&mut self, id: PeerId, addr: Multiaddr) {
        let p = self.peer(id);
        if !p.addrs.contains(&addr) {
            p.addrs.push(addr);
            p.dials = 0;
            if p.addrs.len() > MAX_ADDRS {
                p.addrs.remove(0);
            }
        }
    }

    /// A member another agent told of, at `addrs`, to be connected with. What it says is
    /// hearsay, so it only adds a peer this view does not know (never the addresses of a
    /// known one, unless it has none), with at most [`HEARSAY_ADDRS`] dialable addresses,
    /// and only while fewer than [`MAX_UNMET`] peers wait to be reached.
    pub fn told_of(&mut self, local: PeerId, id: PeerId, addrs: &[Multiaddr]) {
        if id == local {
            return;
        }
        let addrs: Vec<Multiaddr> = addrs
            .iter()
            .filter(|a| dialable(a))
            .take(HEARSAY_ADDRS)
            .cloned()
            .collect();
        if addrs.is_empty() {
            return;
        }
        match self.peers.get(&id) {
            Some(p) if p.connections > 0 || !p.addrs.is_empty() => return,
            Some(_) => {}
            None => {
                let mut unmet = self.unmet();
                if !self.admit(local, id, &mut unmet) {
                    return;
                }
            }
        }
        for addr in addrs {
            self.seen_at(id, addr);
        }
    }

    /// Entries from a member, taken as [`Members::take`] says; members first heard of are
    /// kept to be connected with. An entry saying down a peer heard from directly within
    /// `within` is not taken (the peer says itself alive if it is).
    pub fn take(
        &mut self,
        entries: Vec<crate::protocol::Entry>,
        from: Option<PeerId>,
        pass_on: bool,
        now: Instant,
        within: Duration,
    ) -> Taken {
        self.counts.received += entries.len() as u64;
        let peers = &self.peers;
        let taken = self
            .members
            .take(entries, from, pass_on, now, now_ms(), |id| {
                heard_within(peers, id, now, within)
            });
        self.noted(taken)
    }

    /// Shapes asked for as `asked` came (`raw`): the entries that waited for them are taken as
    /// in [`View::take`].
    pub fn take_shapes(
        &mut self,
        asked: &[crate::shapes::Hash],
        raw: Vec<serde_bytes::ByteBuf>,
        now: Instant,
        within: Duration,
    ) -> Taken {
        let peers = &self.peers;
        let taken = self.members.take_shapes(asked, raw, now, now_ms(), |id| {
            heard_within(peers, id, now, within)
        });
        self.noted(taken)
    }

    /// What was taken, counted; members' addresses given to the peers known without one.
    fn noted(&mut self, taken: Taken) -> Taken {
        self.counts.news += taken.news.len() as u64;
        for id in &taken.news {
            let addrs = self
                .members
                .get(id)
                .map(|m| m.addrs.clone())
                .unwrap_or_default();
            // A peer that dialed this node is known without an address: its own word (or a
            // member's) gives one, to dial it again if it is lost.
            if let Some(p) = self.peers.get_mut(id)
                && p.addrs.is_empty()
            {
                p.addrs = addrs
                    .into_iter()
                    .filter(dialable)
                    .take(HEARSAY_ADDRS)
                    .collect();
            }
        }
        taken
    }

    /// This node is to keep connections with `wanted`: those not known as peers yet are, to
    /// be dialed where their entries say they listen.
    pub fn want(&mut self, local: PeerId, wanted: HashSet<PeerId>) {
        for id in &wanted {
            if self.peers.contains_key(id) {
                continue;
            }
            let addrs = self
                .members
                .get(id)
                .map(|m| m.addrs.clone())
                .unwrap_or_default();
            self.told_of(local, *id, &addrs);
        }
        self.wanted = wanted;
    }

    /// This node and `id` compared what they hold (one answered the other).
    pub fn synced(&mut self, id: PeerId) {
        if let Some(p) = self.peers.get_mut(&id) {
            p.synced = true;
        }
    }

    /// A call stream to `id` is being opened: its connection is not to be let go for a while.
    pub fn calling(&mut self, id: PeerId) {
        self.peer(id).last_call = Some(Instant::now());
    }

    /// Connected members this node may let go: those it does not want, whose connection has
    /// been up for `settle` and that compared what they hold with this node, and that
    /// carried no call of this node for `calls_for`. Those it dialed all go; those that
    /// dialed it (they want the connection, and answer for their own count) only while this
    /// node holds more than `most`, the oldest first.
    pub fn to_prune(
        &self,
        now: Instant,
        most: usize,
        settle: Duration,
        calls_for: Duration,
    ) -> Vec<PeerId> {
        let connected = self.peers.values().filter(|p| p.connections > 0).count();
        let mut spare: Vec<(bool, Instant, PeerId)> = self
            .peers
            .iter()
            .filter(|(id, p)| {
                p.connections > 0
                    && p.synced
                    && !self.wanted.contains(id)
                    && self.members.get(id).is_some()
                    && now.saturating_duration_since(p.up_since) >= settle
                    && p.last_call
                        .is_none_or(|t| now.saturating_duration_since(t) >= calls_for)
            })
            .map(|(id, p)| (p.outbound == 0, p.up_since, *id))
            .collect();
        spare.sort();
        let dialed = spare.iter().filter(|(inbound, ..)| !inbound).count();
        let over = connected.saturating_sub(most);
        spare
            .into_iter()
            .enumerate()
            .filter(|(i, (inbound, ..))| !inbound || *i < dialed + over)
            .map(|(_, (.., id))| id)
            .collect()
    }

    /// How many peers were never reached.
    fn unmet(&self) -> usize {
        self.peers.values().filter(|p| !p.met).count()
    }

    /// Takes peer `id`, not known before, if there is room: fewer than [`MAX_PEERS`] known and
    /// `unmet` (kept by the caller) under [`MAX_UNMET`].
    ///
    /// Two agents that hear of each other at the same moment would both dial, and the pair
    /// would keep two connections. So a peer first heard of is dialed at once only by the
    /// agent whose peer id is the smaller; the other waits [`HEARSAY_GRACE`] for the
    /// connection to come, and dials then if it did not.
    fn admit(&mut self, local: PeerId, id: PeerId, unmet: &mut usize) -> bool {
        if self.peers.len() >= MAX_PEERS || *unmet >= MAX_UNMET {
            return false;
        }
        let now = Instant::now();
        let mut peer = Peer::new(now);
        if local > id {
            peer.next_dial = now + HEARSAY_GRACE;
        }
        self.peers.insert(id, peer);
        *unmet += 1;
        true
    }

    /// A dial counted by [`View::due_for_dial`] did not start (one was under way already).
    pub fn dial_not_started(&mut self, id: PeerId) {
        self.counts.dials = self.counts.dials.saturating_sub(1);
        if let Some(p) = self.peers.get_mut(&id) {
            p.dials = p.dials.saturating_sub(1);
        }
    }

    /// A connection to `id` is up (dialed by this node if `outbound`).
    ///
    /// Whether the peer was lost: this node dialed it again at once, and it answered, so it
    /// had let this node go.
    pub fn connected(&mut self, id: PeerId, outbound: bool) -> bool {
        self.counts.connections += 1;
        let p = self.peer(id);
        if p.connections == 0 {
            p.up_since = Instant::now();
            p.synced = false;
        }
        p.connections += 1;
        p.outbound += usize::from(outbound);
        p.last_seen = Instant::now();
        p.backoff = Duration::from_millis(500);
        p.met = true;
        std::mem::take(&mut p.lost)
    }

    /// A connection to `id` closed (dialed by this node if `outbound`); `remaining` are
    /// still open. Whether the peer was lost (its last connection closed, though alive and
    /// wanted: not cut nor let go by this node): to be dialed at once.
    pub fn disconnected(&mut self, id: PeerId, remaining: usize, outbound: bool) -> bool {
        let alive = self.members.get(&id).is_some_and(Member::live);
        let wanted = self.wanted.contains(&id);
        let p = self.peer(id);
        p.connections = remaining;
        if outbound {
            p.outbound = p.outbound.saturating_sub(1);
        }
        if remaining == 0 && alive && wanted {
            p.lost = true;
            p.next_dial = Instant::now();
            return true;
        }
        false
    }

    /// Whether a dial to `id` can be tried: it has an address.
    pub fn dialable(&self, id: &PeerId) -> bool {
        self.peers.get(id).is_some_and(|p| !p.addrs.is_empty())
    }

    /// A dial to `id` failed: if the peer was lost, it is taken for down. Whether it was.
    pub fn unreachable(&mut self, id: PeerId) -> bool {
        let Some(p) = self.peers.get_mut(&id) else {
            return false;
        };
        if !std::mem::take(&mut p.lost) || p.connections > 0 {
            return false;
        }
        self.members.down(id, Instant::now())
    }

    /// `id` answered.
    pub fn heard(&mut self, id: PeerId) {
        self.peer(id).last_seen = Instant::now();
    }

    /// The live members of `among` not heard from for `limit`, marked nothing yet.
    pub fn would_be_silent(
        &self,
        now: Instant,
        limit: Duration,
        among: &HashSet<PeerId>,
    ) -> Vec<PeerId> {
        // Connected or not: a watched member this node cannot reach is as silent as one
        // that does not answer.
        among
            .iter()
            .filter(|id| {
                self.members.get(id).is_some_and(Member::live)
                    && self
                        .peers
                        .get(id)
                        .is_some_and(|p| now.saturating_duration_since(p.last_seen) > limit)
            })
            .copied()
            .collect()
    }

    /// The live members of `among` not heard from for `limit`: taken for down, and returned
    /// (to be disconnected, and the others told). A frozen or cut-off peer keeps its TCP
    /// connection up; only silence tells.
    pub fn silent_for(
        &mut self,
        now: Instant,
        limit: Duration,
        among: &HashSet<PeerId>,
    ) -> Vec<PeerId> {
        let out = self.would_be_silent(now, limit, among);
        for id in &out {
            self.cut(*id);
        }
        out
    }

    /// `id` is taken for dead: down until it says it is alive again (it is to be
    /// disconnected).
    pub fn cut(&mut self, id: PeerId) {
        self.counts.silenced += 1;
        if let Some(p) = self.peers.get_mut(&id) {
            p.lost = false;
        }
        self.members.down(id, Instant::now());
    }

    /// `id` starts being watched: its silence counts from now, not from before (nobody
    /// asked it anything then).
    pub fn watched_from(&mut self, id: PeerId, now: Instant) {
        if let Some(p) = self.peers.get_mut(&id) {
            p.last_seen = p.last_seen.max(now);
        }
    }

    /// The peers this node watches: the `k` live members that follow `local` in the order of
    /// peer ids, coming round after the greatest. Each node is so watched by the
    /// `k` before it, and each watches `k`, whatever the size of the mesh: liveness costs a
    /// node `k` probes per period, not one per peer. Watchers that take a peer for down say
    /// so to the others (see `EventLoop`).
    pub fn watch(&self, local: PeerId, k: usize) -> HashSet<PeerId> {
        let ring = self.members.ring();
        if ring.len() <= k {
            return ring.iter().copied().collect();
        }
        let start = ring.partition_point(|id| *id < local);
        (0..k).map(|i| ring[(start + i) % ring.len()]).collect()
    }

    /// This node itself stood still for `stall` (a suspended process, an overloaded machine):
    /// the silence of its peers over that time is its own, not theirs, and is not counted.
    pub fn forgive(&mut self, now: Instant, stall: Duration) {
        self.counts.stalls += 1;
        self.counts.stalled += stall;
        let wanted = &self.wanted;
        for (_, p) in self
            .peers
            .iter_mut()
            .filter(|(id, p)| p.connections > 0 || wanted.contains(id))
        {
            p.last_seen = (p.last_seen + stall).min(now);
        }
    }

    /// Peers to dial now (known addresses, not connected, their backoff over), `most` of
    /// them, those waiting longest first; their next attempt is pushed back.
    ///
    /// A peer never reached after [`MAX_DIALS_UNMET`] dials, or for [`UNMET_FOR`], is
    /// forgotten: addresses heard of (from mDNS, another agent) may lead nowhere, and are not
    /// dialed forever. A peer once met is dialed until it comes back.
    pub fn due_for_dial(&mut self, now: Instant, most: usize) -> Vec<(PeerId, Vec<Multiaddr>)> {
        self.peers.retain(|_, p| {
            p.met
                || p.connections > 0
                || (now.saturating_duration_since(p.since) < UNMET_FOR
                    && (p.dials < MAX_DIALS_UNMET || p.next_dial > now))
        });
        // Peers not known as members yet (an mDNS announcement, a bootstrap address), the
        // wanted, the lost, and members taken for down that this node met (to find them again
        // once they come back, or a cut link heals).
        let members = &self.members;
        let wanted = &self.wanted;
        let mut due: Vec<(Instant, PeerId)> = self
            .peers
            .iter()
            .filter(|(_, p)| p.connections == 0 && !p.addrs.is_empty() && p.next_dial <= now)
            .filter(|(id, p)| match members.get(id) {
                None => true,
                Some(m) => wanted.contains(id) || p.lost || (p.met && !m.live()),
            })
            .map(|(id, p)| (p.next_dial, *id))
            .collect();
        if due.len() > most {
            due.select_nth_unstable(most);
            due.truncate(most);
        }
        let mut out = Vec::with_capacity(due.len());
        for (_, id) in due {
            let Some(p) = self.peers.get_mut(&id) else {
                continue;
            };
            out.push((id, p.addrs.clone()));
            self.counts.dials += 1;
            p.dials += 1;
            p.next_dial = now + p.backoff;
            // A member taken for down is looked for less often than one wanted.
            let most = if self.members.get(&id).is_some_and(|m| !m.live()) {
                Duration::from_secs(30)
            } else {
                Duration::from_secs(4)
            };
            p.backoff = (p.backoff * 2).min(most);
        }
        out
    }

    /// The members named `name`, with their entries.
    fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (&'a PeerId, &'a Member)> {
        self.members
            .iter()
            .filter(move |(_, m)| m.catalogue.as_ref().is_some_and(|c| c.info.name == name))
    }

    /// The live peer of location `name`.
    pub fn peer_of(&self, name: &str) -> Option<PeerId> {
        self.named(name)
            .filter(|(_, m)| m.live())
            .map(|(id, _)| *id)
            .next()
    }

    /// Seconds since the member named `name` was last heard of, when it is known.
    pub fn last_seen(&self, name: &str) -> Option<u64> {
        self.named(name)
            .map(|(id, m)| self.since_heard(id, m))
            .min()
    }

    /// Seconds since member `id` was last heard from (directly, or news of it).
    fn since_heard(&self, id: &PeerId, m: &Member) -> u64 {
        let direct = self.peers.get(id).map(|p| p.last_seen);
        let last = direct.map_or(m.changed, |d| d.max(m.changed));
        last.elapsed().as_secs()
    }

    /// The live locations, by name: each with its facts.
    pub fn live(&self) -> Vec<Info> {
        let mut out: Vec<Info> = self
            .members
            .iter()
            .filter(|(_, m)| m.live())
            .filter_map(|(_, m)| m.catalogue.as_ref().map(|c| c.info.clone()))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out.dedup_by(|a, b| a.name == b.name);
        out
    }

    /// The catalogue of live location `name`, if this node knows one.
    pub fn catalogue_of(&self, name: &str) -> Option<Catalogue> {
        self.named(name)
            .filter(|(_, m)| m.live())
            .find_map(|(_, m)| m.catalogue.clone())
    }

    /// The live peers whose catalogue offers a provide `xpath` matches, by name.
    pub fn offering(&self, xpath: &Address) -> Vec<String> {
        let mut out: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| m.live())
            .filter_map(|(_, m)| m.catalogue.as_ref())
            .filter(|c| c.offers_provide(xpath))
            .map(|c| c.info.name.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// What this node holds of the mesh now, and what it went through, counted.
    pub fn stats(&self) -> crate::MeshStats {
        let mut stats = crate::MeshStats {
            dials: self.counts.dials,
            connections_made: self.counts.connections,
            silenced: self.counts.silenced,
            news: self.counts.news,
            asked: self.counts.asked,
            received: self.counts.received,
            stalls: self.counts.stalls,
            stalled: self.counts.stalled,
            members: self.members.len(),
            live: self.members.ring().len(),
            ..crate::MeshStats::default()
        };
        for p in self.peers.values() {
            stats.connections += p.connections;
            if p.connections > 0 {
                stats.connected += 1;
            }
            if !p.met {
                stats.candidates += 1;
            }
        }
        stats
    }

    /// Every member, for `armonic mesh`; never a peer only heard of.
    pub fn peers(&self) -> Vec<PeerInfo> {
        let mut out: Vec<PeerInfo> = self
            .members
            .iter()
            .map(|(id, m)| PeerInfo {
                name: m.catalogue.as_ref().map(|c| c.info.name.clone()),
                peer_id: id.to_string(),
                addresses: m.addrs.iter().map(ToString::to_string).collect(),
                catalogue: m.catalogue.clone(),
                last_seen_secs: self.since_heard(id, m),
                live: m.live(),
                local: false,
            })
            .collect();
        out.sort_by(|a, b| (&a.name, &a.peer_id).cmp(&(&b.name, &b.peer_id)));
        out
    }
}

/// `view`, read, whether or not a panic poisoned its lock.
pub(crate) fn read(view: &std::sync::RwLock<View>) -> std::sync::RwLockReadGuard<'_, View> {
    view.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `view`, written, whether or not a panic poisoned its lock.
pub(crate) fn write(view: &std::sync::RwLock<View>) -> std::sync::RwLockWriteGuard<'_, View> {
    view.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether peer `id` is connected and was heard from within `within` of `now`.
fn heard_within(
    peers: &HashMap<PeerId, Peer>,
    id: &PeerId,
    now: Instant,
    within: Duration,
) -> bool {
    peers
        .get(id)
        .is_some_and(|p| p.connections > 0 && now.saturating_duration_since(p.last_seen) < within)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::members::tests::catalogue;
    use serde_bytes::ByteBuf;

    #[test]
    fn a_peer_only_heard_of_is_never_listed_until_a_member_s_entry_of_it_arrives() {
        let mut v = View::default();
        let local = PeerId::random();
        let (announced, hearsay) = (PeerId::random(), PeerId::random());
        // An mDNS announcement (anyone on the LAN, with the key or not), an address: to dial,
        // no more.
        v.seen_at(announced, addr(1));
        v.told_of(local, hearsay, &[addr(2)]);
        let now = Instant::now();
        assert_eq!(
            v.due_for_dial(now + HEARSAY_GRACE, usize::MAX).len(),
            2,
            "all dialed"
        );
        // A connection comes up: the peer proved it holds the key, but is listed only once
        // its entry arrives.
        v.connected(announced, true);
        assert!(v.peers().is_empty(), "{:?}", v.peers());
        assert!(v.live().is_empty());
        assert_eq!(v.last_seen("web1"), None);
        join(&mut v, announced, catalogue("web1", 1));
        let listed: Vec<String> = v.peers().into_iter().map(|p| p.peer_id).collect();
        assert_eq!(listed, [announced.to_string()]);
        // The other is forgotten, never having been listed.
        v.due_for_dial(now + UNMET_FOR, usize::MAX);
        assert_eq!(v.peers.len(), 1);
    }

    #[test]
    fn a_member_is_live_until_taken_for_down_and_again_once_it_says_it_is_alive() {
        let mut v = View::default();
        let id = PeerId::random();
        let mut own = Members::new(id, now_ms(), 1 << 20);
        own.set_own(&catalogue("web1", 1), &[addr(1)]);
        say(&mut v, &mut own);
        assert_eq!(v.live()[0].name, "web1", "a member's word is enough");
        assert_eq!(v.peer_of("web1"), Some(id));
        assert_eq!(
            v.catalogue_of("web1").map(|c| c.info.name),
            Some("web1".into())
        );
        assert!(v.catalogue_of("web2").is_none());
        v.connected(id, true);
        v.cut(id);
        assert!(v.live().is_empty(), "cut");
        assert_eq!(v.peer_of("web1"), None);
        assert!(v.catalogue_of("web1").is_none(), "only live members'");
        assert_eq!(v.last_seen("web1"), Some(0));
        // The member hears it was said down, and says it is alive again.
        let down = v.members.entry_of(&id).unwrap();
        assert!(
            own.take(vec![down], None, true, Instant::now(), now_ms(), |_| false)
                .refuted
        );
        say(&mut v, &mut own);
        assert_eq!(v.peer_of("web1"), Some(id));
    }

    #[test]
    fn a_lost_member_is_dialed_at_once_and_taken_for_down_if_the_dial_fails() {
        let mut v = View::default();
        let (id, quiet) = (PeerId::random(), PeerId::random());
        join(&mut v, id, catalogue("web1", 1));
        v.want(PeerId::random(), HashSet::from([id]));
        v.connected(id, true);
        assert!(v.disconnected(id, 0, true), "lost");
        assert_eq!(
            v.due_for_dial(Instant::now(), usize::MAX).len(),
            0,
            "no address"
        );
        assert!(v.unreachable(id));
        assert!(v.live().is_empty());
        // A peer that was not lost (never a member, not wanted, or cut by this node) is not.
        v.connected(quiet, true);
        assert!(!v.disconnected(quiet, 0, true));
        assert!(!v.unreachable(quiet));
    }

    #[test]
    fn each_node_watches_the_few_live_members_that_follow_it_in_peer_id_order() {
        let mut v = View::default();
        let mut ids: Vec<PeerId> = (0..6).map(|_| PeerId::random()).collect();
        ids.sort_unstable();
        let local = ids.remove(2);
        let c = || catalogue("m", 1);
        assert!(v.watch(local, 3).is_empty());
        join(&mut v, ids[0], c());
        join(&mut v, ids[4], c());
        assert_eq!(
            v.watch(local, 3),
            HashSet::from([ids[0], ids[4]]),
            "all, while few"
        );
        for id in &ids {
            join(&mut v, *id, c());
        }
        // Those after it, then round from the smallest.
        assert_eq!(v.watch(local, 3), HashSet::from([ids[2], ids[3], ids[4]]));
        v.cut(ids[3]);
        assert_eq!(v.watch(local, 3), HashSet::from([ids[2], ids[4], ids[0]]));
        // Each live member is watched by exactly k others.
        let all: Vec<PeerId> = ids.iter().copied().chain([local]).collect();
        for watched in &all {
            let watchers = all
                .iter()
                .filter(|w| {
                    let mut view = View::default();
                    for id in all.iter().filter(|id| id != w) {
                        join(&mut view, *id, c());
                    }
                    view.watch(**w, 2).contains(watched)
                })
                .count();
            assert_eq!(watchers, 2, "{watched}");
        }
    }

    #[test]
    fn a_node_lets_go_the_connections_it_dialed_and_does_not_want_once_they_settled() {
        let mut v = View::default();
        let local = PeerId::random();
        let (wanted, dialed, dialing, calling) = (
            PeerId::random(),
            PeerId::random(),
            PeerId::random(),
            PeerId::random(),
        );
        for id in [wanted, dialed, dialing, calling] {
            join(&mut v, id, catalogue("m", 1));
        }
        v.want(local, HashSet::from([wanted]));
        v.connected(wanted, true);
        v.connected(dialed, true);
        v.connected(dialing, false);
        v.connected(calling, true);
        v.calling(calling);
        assert!(
            v.to_prune(
                Instant::now() + Duration::from_secs(60),
                32,
                Duration::ZERO,
                Duration::ZERO
            )
            .is_empty(),
            "nothing compared yet"
        );
        for id in [wanted, dialed, dialing, calling] {
            v.synced(id);
        }
        let settle = Duration::from_secs(2);
        let calls = Duration::from_secs(30);
        let now = Instant::now();
        assert!(
            v.to_prune(now, 32, settle, calls).is_empty(),
            "not settled yet"
        );
        let later = now + settle;
        assert_eq!(v.to_prune(later, 32, settle, calls), [dialed]);
        // Over the most it keeps, those that dialed it go too.
        assert_eq!(
            HashSet::<PeerId>::from_iter(v.to_prune(later, 2, settle, calls)),
            HashSet::from([dialed, dialing])
        );
        assert_eq!(
            HashSet::<PeerId>::from_iter(v.to_prune(later + calls, 32, settle, calls)),
            HashSet::from([dialed, calling]),
            "a call keeps a connection a while"
        );
    }

    #[test]
    fn a_connected_peer_that_stays_silent_is_not_live() {
        let mut v = View::default();
        let id = PeerId::random();
        join(&mut v, id, catalogue("web1", 1));
        v.connected(id, true);
        let now = Instant::now();
        assert!(
            v.silent_for(now, Duration::from_secs(3), &everyone(&v))
                .is_empty()
        );
        assert_eq!(
            v.silent_for(
                now + Duration::from_secs(4),
                Duration::from_secs(3),
                &everyone(&v)
            ),
            [id]
        );
        assert!(v.live().is_empty());
    }

    #[test]
    fn disconnected_peers_are_redialed_with_a_growing_backoff() {
        let mut v = View::default();
        let id = PeerId::random();
        v.seen_at(id, "/ip4/127.0.0.1/tcp/1".parse().unwrap());
        let now = Instant::now();
        assert_eq!(v.due_for_dial(now, usize::MAX).len(), 1);
        assert!(
            v.due_for_dial(now, usize::MAX).is_empty(),
            "not before the backoff"
        );
        assert_eq!(
            v.due_for_dial(now + Duration::from_secs(5), usize::MAX)
                .len(),
            1
        );
        v.connected(id, true);
        assert!(
            v.due_for_dial(now + Duration::from_secs(60), usize::MAX)
                .is_empty()
        );
    }

    #[test]
    fn dials_are_started_a_few_at_a_time_those_waiting_longest_first() {
        let mut v = View::default();
        let now = Instant::now();
        let ids: Vec<PeerId> = (0..5).map(|_| PeerId::random()).collect();
        for (i, id) in ids.iter().enumerate() {
            v.seen_at(*id, addr(i as u16 + 1));
            // ids[4] has waited longest.
            v.peers.get_mut(id).unwrap().next_dial = now - Duration::from_millis(10 * i as u64);
        }
        let first: Vec<PeerId> = v
            .due_for_dial(now, 2)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(first.len(), 2);
        assert!(
            first.contains(&ids[4]) && first.contains(&ids[3]),
            "{first:?}"
        );
        assert_eq!(v.counts.dials, 2);
        assert_eq!(v.due_for_dial(now, 2).len(), 2);
        assert_eq!(v.due_for_dial(now, 2).len(), 1, "the last one");
        assert!(v.due_for_dial(now, 0).is_empty());
    }

    #[test]
    fn stats_count_members_connections_and_cuts() {
        let mut v = View::default();
        let (a, b, heard) = (PeerId::random(), PeerId::random(), PeerId::random());
        v.seen_at(heard, addr(1));
        join(&mut v, a, catalogue("web1", 1));
        v.connected(a, true);
        v.connected(b, true);
        v.connected(b, true);
        let s = v.stats();
        assert_eq!(
            (s.members, s.live, s.connected, s.connections, s.candidates),
            (1, 1, 2, 3, 1),
            "b is connected, but no entry of it came yet"
        );
        assert_eq!((s.connections_made, s.news), (3, 1));
        let late = Instant::now() + Duration::from_secs(10);
        assert_eq!(
            v.would_be_silent(late, Duration::from_secs(3), &everyone(&v)),
            [a],
            "only a live member is judged"
        );
        assert_eq!(v.stats().silenced, 0, "not marked by looking");
        v.silent_for(late, Duration::from_secs(3), &everyone(&v));
        let s = v.stats();
        assert_eq!((s.silenced, s.live), (1, 0));
    }

    #[test]
    fn offering_names_the_live_peers_whose_catalogue_matches() {
        let mut v = View::default();
        for name in ["web2", "web1"] {
            let id = PeerId::random();
            join(&mut v, id, catalogue(name, 1));
            v.connected(id, true);
        }
        let a: Address = "//WebServer//start".parse().unwrap();
        assert_eq!(v.offering(&a), ["web1", "web2"]);
        let none: Address = "//Proxy//start".parse().unwrap();
        assert!(v.offering(&none).is_empty());
    }

    /// Member `id` says it is alive with catalogue `c` (its entry reaches `v`).
    fn join(v: &mut View, id: PeerId, c: Catalogue) {
        let mut own = Members::new(id, now_ms(), 1 << 20);
        own.set_own(&c, &[]);
        say(v, &mut own);
    }

    /// Member `own`'s news reaches `v`, and the shape it names when `v` asks for it.
    fn say(v: &mut View, own: &mut Members) {
        let entry = own.own_news().unwrap();
        let taken = v.take(vec![entry], None, true, Instant::now(), Duration::ZERO);
        if !taken.shapes.is_empty() {
            let asked: Vec<ByteBuf> = taken
                .shapes
                .iter()
                .map(|h| ByteBuf::from(h.to_vec()))
                .collect();
            let shapes = own.shapes(&asked, usize::MAX);
            v.take_shapes(&taken.shapes, shapes, Instant::now(), Duration::ZERO);
        }
    }

    fn everyone(v: &View) -> HashSet<PeerId> {
        v.peers.keys().copied().collect()
    }

    fn addr(port: u16) -> Multiaddr {
        format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()
    }

    #[test]
    fn peers_told_of_are_kept_to_be_dialed_but_not_this_node_nor_bad_addresses() {
        let mut v = View::default();
        let local = PeerId::random();
        let other = PeerId::random();
        v.told_of(local, local, &[addr(2)]);
        v.told_of(local, other, &[addr(3)]);
        assert_eq!(v.peers.len(), 1, "only another peer");
        assert_eq!(v.peers[&other].addrs, [addr(3)]);
        let later = Instant::now() + HEARSAY_GRACE;
        assert_eq!(v.due_for_dial(later, usize::MAX)[0].0, other);
    }

    #[test]
    fn of_two_agents_hearing_of_each_other_the_smaller_peer_id_dials_first() {
        let (a, b) = (PeerId::random(), PeerId::random());
        let (small, great) = if a < b { (a, b) } else { (b, a) };
        let mut at_small = View::default();
        at_small.told_of(small, great, &[addr(1)]);
        assert_eq!(
            at_small.due_for_dial(Instant::now(), usize::MAX).len(),
            1,
            "dials at once"
        );
        let mut at_great = View::default();
        at_great.told_of(great, small, &[addr(2)]);
        assert!(
            at_great.due_for_dial(Instant::now(), usize::MAX).is_empty(),
            "waits to be dialed"
        );
        assert_eq!(
            at_great
                .due_for_dial(Instant::now() + HEARSAY_GRACE, usize::MAX)
                .len(),
            1,
            "dials if it was not"
        );
    }

    #[test]
    fn a_view_keeps_only_so_many_peers_it_has_not_reached() {
        let mut v = View::default();
        let local = PeerId::random();
        for _ in 0..MAX_UNMET + 10 {
            v.told_of(local, PeerId::random(), &[addr(1)]);
        }
        assert_eq!(v.peers.len(), MAX_UNMET);
    }

    #[test]
    fn what_another_agent_tells_never_changes_the_addresses_of_a_known_peer() {
        let mut v = View::default();
        let (local, honest) = (PeerId::random(), PeerId::random());
        v.seen_at(honest, addr(1));
        v.connected(honest, true);
        v.disconnected(honest, 0, true);
        let lies: Vec<Multiaddr> = (2..12).map(addr).collect();
        v.told_of(local, honest, &lies);
        assert_eq!(v.peers[&honest].addrs, [addr(1)]);
    }

    #[test]
    fn peers_told_of_without_a_dialable_address_are_not_taken() {
        let mut v = View::default();
        let local = PeerId::random();
        let odd: Vec<Multiaddr> = ["/ip4/10.0.0.1/udp/53", "/unix/tmp%2Fsock", "/ip4/10.0.0.1"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        v.told_of(local, PeerId::random(), &odd);
        v.told_of(local, PeerId::random(), &[]);
        assert!(v.peers.is_empty());
        let named: Multiaddr = "/dns4/web1.example/tcp/7301".parse().unwrap();
        v.told_of(local, PeerId::random(), &[named]);
        assert_eq!(v.peers.len(), 1);
    }

    #[test]
    fn a_dial_that_did_not_start_is_not_counted() {
        let mut v = View::default();
        let id = PeerId::random();
        v.seen_at(id, addr(1));
        let mut now = Instant::now();
        for _ in 0..MAX_DIALS_UNMET * 2 {
            assert_eq!(v.due_for_dial(now, usize::MAX).len(), 1);
            v.dial_not_started(id);
            now += Duration::from_secs(5);
        }
        assert!(v.peers.contains_key(&id));
    }

    #[test]
    fn a_peer_never_reached_is_forgotten_after_a_minute_whatever_its_dials() {
        let mut v = View::default();
        let id = PeerId::random();
        v.seen_at(id, addr(1));
        assert_eq!(v.due_for_dial(Instant::now(), usize::MAX).len(), 1);
        assert!(v.peers.contains_key(&id));
        v.due_for_dial(Instant::now() + UNMET_FOR, usize::MAX);
        assert!(!v.peers.contains_key(&id));
    }

    #[test]
    fn the_stall_of_a_node_leaves_what_it_saw_of_disconnected_peers() {
        let mut v = View::default();
        let id = PeerId::random();
        v.connected(id, true);
        v.disconnected(id, 0, true);
        let seen = v.peers[&id].last_seen;
        v.forgive(
            Instant::now() + Duration::from_secs(10),
            Duration::from_secs(9),
        );
        assert_eq!(v.peers[&id].last_seen, seen);
    }

    #[test]
    fn the_time_a_node_itself_stood_still_is_not_counted_as_its_peers_silence() {
        let mut v = View::default();
        let id = PeerId::random();
        join(&mut v, id, catalogue("web1", 1));
        v.connected(id, true);
        let after_stall = Instant::now() + Duration::from_secs(10);
        v.forgive(after_stall, Duration::from_secs(9));
        assert!(
            v.silent_for(after_stall, Duration::from_secs(3), &everyone(&v))
                .is_empty(),
            "silent 10 s, of which 9 s this node's own"
        );
        assert_eq!(
            v.silent_for(
                after_stall + Duration::from_secs(3),
                Duration::from_secs(3),
                &everyone(&v)
            ),
            [id]
        );
    }

    #[test]
    fn a_peer_heard_of_but_never_reached_is_forgotten_after_a_few_dials() {
        let mut v = View::default();
        let (unmet, met) = (PeerId::random(), PeerId::random());
        v.seen_at(unmet, addr(1));
        v.seen_at(met, addr(2));
        v.connected(met, true);
        v.disconnected(met, 0, true);
        let mut now = Instant::now();
        for _ in 0..MAX_DIALS_UNMET {
            assert_eq!(v.due_for_dial(now, usize::MAX).len(), 2);
            now += Duration::from_secs(5);
        }
        assert_eq!(v.due_for_dial(now, usize::MAX), [(met, vec![addr(2)])]);
        assert!(!v.peers.contains_key(&unmet));
    }

    #[test]
    fn a_member_told_of_keeps_only_dialable_addresses() {
        let mut v = View::default();
        let id = PeerId::random();
        let said: Vec<Multiaddr> = ["/ip4/10.0.0.1/udp/53", "/ip4/10.0.0.1/tcp/7301"]
            .iter()
            .map(|a| a.parse::<Multiaddr>().unwrap())
            .collect();
        v.told_of(PeerId::random(), id, &said);
        assert_eq!(
            v.peers[&id].addrs,
            ["/ip4/10.0.0.1/tcp/7301".parse::<Multiaddr>().unwrap()]
        );
    }

    #[test]
    fn a_known_peer_with_no_address_takes_one_from_another_agent() {
        let mut v = View::default();
        let (local, id) = (PeerId::random(), PeerId::random());
        v.seen_at(id, addr(1));
        v.peers.get_mut(&id).unwrap().addrs.clear();
        v.told_of(local, id, &[addr(5)]);
        assert_eq!(v.peers[&id].addrs, [addr(5)]);
    }
}
