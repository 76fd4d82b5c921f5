//! A node's view of the mesh: every peer it knows, where it was seen, whether it is live, and
//! its catalogue. Plain data, changed by the event loop, read by anyone through the handle.
//!
//! Two kinds of peers are kept. Members proved they hold the swarm key: a connection with
//! them came up, which takes the private network's handshake and then Noise (their peer id).
//! Candidates are only heard of (an mDNS announcement, which anyone on the LAN can make, a
//! member's word, a digest) and kept to be dialed, for a while. Only members are ever listed
//! or answered about ([`View::peers`], [`View::live`]…); a candidate becomes a member when
//! its connection comes up, or is forgotten.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use armonic_lifecycle::Address;
use armonic_lifecycle::info::Info;
use armonic_proto::{Catalogue, Digest, PeerInfo};
use libp2p::{Multiaddr, PeerId};
use serde_bytes::ByteBuf;

use crate::protocol::{KnownPeer, MAX_KNOWN_PEERS};

/// One peer.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub addrs: Vec<Multiaddr>,
    pub connections: usize,
    /// Connected, and not cut for silence.
    pub live: bool,
    pub last_seen: Instant,
    pub catalogue: Option<Catalogue>,
    /// The newest digest heard of, to fetch its catalogue when it is not the one held.
    pub digest: Option<Digest>,
    /// When the next dial may be tried, and the wait after that.
    pub next_dial: Instant,
    pub backoff: Duration,
    /// When its catalogue was last heard of (a digest, or the catalogue itself).
    pub heard_of: Instant,
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
            live: false,
            last_seen: now,
            catalogue: None,
            digest: None,
            next_dial: now,
            backoff: Duration::from_millis(500),
            heard_of: now,
            met: false,
            dials: 0,
            since: now,
        }
    }

    fn name(&self) -> Option<&str> {
        self.catalogue.as_ref().map(|c| c.info.name.as_str())
    }
}

/// The view.
#[derive(Debug, Default)]
pub(crate) struct View {
    pub peers: HashMap<PeerId, Peer>,
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
    /// Catalogues fetched.
    pub fetches: u64,
    /// Ticks of the loop that came late, and how late in all.
    pub stalls: u64,
    pub stalled: Duration,
}

/// Most addresses kept per peer.
pub(crate) const MAX_ADDRS: usize = 8;

/// Addresses in their binary form, as peers send them: those that do not parse are skipped,
/// and no more than a peer keeps.
pub(crate) fn addrs(bytes: &[ByteBuf]) -> impl Iterator<Item = Multiaddr> + '_ {
    bytes
        .iter()
        .take(MAX_ADDRS)
        .filter_map(|a| Multiaddr::try_from(a.to_vec()).ok())
        .filter(dialable)
}

/// An address agents can be dialed at: an IP address or a DNS name, then a TCP port, then at
/// most the peer's id.
pub(crate) fn dialable(addr: &Multiaddr) -> bool {
    use libp2p::multiaddr::Protocol;
    let mut parts = addr.iter();
    matches!(
        parts.next(),
        Some(
            Protocol::Ip4(_)
                | Protocol::Ip6(_)
                | Protocol::Dns(_)
                | Protocol::Dns4(_)
                | Protocol::Dns6(_)
        )
    ) && matches!(parts.next(), Some(Protocol::Tcp(_)))
        && matches!(parts.next(), None | Some(Protocol::P2p(_)))
        && parts.next().is_none()
}

/// Dials given to a peer never reached before it is forgotten (about 15 s of trying).
const MAX_DIALS_UNMET: u32 = 6;

/// How long a peer never reached is kept.
const UNMET_FOR: Duration = Duration::from_secs(60);

/// Most peers never reached a view keeps at once.
const MAX_UNMET: usize = 256;

/// Most peers not known before taken from one agent's answer, and most addresses taken for
/// each.
const MAX_TOLD_NEW: usize = 64;
const HEARSAY_ADDRS: usize = 4;

/// How long the agent of the greater peer id waits for a peer it heard of to dial it.
pub(crate) const HEARSAY_GRACE: Duration = Duration::from_secs(2);

/// Most peers a view takes from what others tell of the mesh.
const MAX_PEERS: usize = 4 * MAX_KNOWN_PEERS;

impl View {
    fn peer(&mut self, id: PeerId) -> &mut Peer {
        self.peers
            .entry(id)
            .or_insert_with(|| Peer::new(Instant::now()))
    }

    /// A peer was seen at `addr` (mDNS, a connection, its own word, another agent). A new
    /// address gives a peer not reached yet its dials again.
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

    /// The live peers with known addresses, but `except` (who asked): what an agent tells
    /// another of the mesh. At most [`MAX_KNOWN_PEERS`].
    pub fn known(&self, except: PeerId) -> Vec<KnownPeer> {
        self.members()
            .filter(|(id, p)| **id != except && p.live && !p.addrs.is_empty())
            .take(MAX_KNOWN_PEERS)
            .map(|(id, p)| KnownPeer {
                id: id.to_bytes(),
                addrs: p.addrs.iter().map(|a| ByteBuf::from(a.to_vec())).collect(),
            })
            .collect()
    }

    /// Peers another agent said it knows, to be dialed. What it says is hearsay, so it only
    /// adds peers this view does not know at all (never the addresses of a known one), with
    /// a dialable address; at most [`MAX_TOLD_NEW`] from one answer, each with at most
    /// [`HEARSAY_ADDRS`] addresses, and only while fewer than [`MAX_UNMET`] peers wait to be
    /// reached.
    pub fn told_of(&mut self, local: PeerId, peers: &[KnownPeer]) {
        let mut unmet = self.unmet();
        let mut added = 0;
        for known in peers.iter().take(MAX_KNOWN_PEERS) {
            if added == MAX_TOLD_NEW || unmet >= MAX_UNMET {
                break;
            }
            let Ok(id) = PeerId::from_bytes(&known.id) else {
                continue;
            };
            if id == local {
                continue;
            }
            let addrs: Vec<Multiaddr> = addrs(&known.addrs).take(HEARSAY_ADDRS).collect();
            if addrs.is_empty() {
                continue;
            }
            match self.peers.get(&id) {
                // A known peer is left as it is, unless nothing tells where to find it.
                Some(p) if p.connections > 0 || !p.addrs.is_empty() => continue,
                Some(_) => {}
                None => {
                    if !self.admit(local, id, &mut unmet) {
                        continue;
                    }
                    added += 1;
                }
            }
            for addr in addrs {
                self.seen_at(id, addr);
            }
        }
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

    /// Peer `id` says it listens at `addrs` (its digest): kept, if the peer is known or there
    /// is room for it (see [`View::admit`]). Whether the peer is in the view.
    pub fn heard_at(
        &mut self,
        local: PeerId,
        id: PeerId,
        addrs: impl Iterator<Item = Multiaddr>,
    ) -> bool {
        if id == local {
            return false;
        }
        if !self.peers.contains_key(&id) {
            let mut unmet = self.unmet();
            if !self.admit(local, id, &mut unmet) {
                return false;
            }
        }
        for addr in addrs.filter(dialable).take(MAX_ADDRS) {
            self.seen_at(id, addr);
        }
        true
    }

    /// A dial counted by [`View::due_for_dial`] did not start (one was under way already).
    pub fn dial_not_started(&mut self, id: PeerId) {
        self.counts.dials = self.counts.dials.saturating_sub(1);
        if let Some(p) = self.peers.get_mut(&id) {
            p.dials = p.dials.saturating_sub(1);
        }
    }

    /// A connection to `id` is up.
    pub fn connected(&mut self, id: PeerId) {
        self.counts.connections += 1;
        let p = self.peer(id);
        p.connections += 1;
        p.live = true;
        p.last_seen = Instant::now();
        p.backoff = Duration::from_millis(500);
        p.met = true;
    }

    /// A connection to `id` closed; `remaining` are still open.
    pub fn disconnected(&mut self, id: PeerId, remaining: usize) {
        let p = self.peer(id);
        p.connections = remaining;
        if remaining == 0 {
            p.live = false;
        }
    }

    /// `id` answered.
    pub fn heard(&mut self, id: PeerId) {
        let p = self.peer(id);
        p.last_seen = Instant::now();
        if p.connections > 0 {
            p.live = true;
        }
    }

    /// The peers of `among` connected and not heard from for `limit`, marked nothing yet.
    pub fn would_be_silent(
        &self,
        now: Instant,
        limit: Duration,
        among: &HashSet<PeerId>,
    ) -> Vec<PeerId> {
        among
            .iter()
            .filter(|id| {
                self.peers.get(id).is_some_and(|p| {
                    p.connections > 0 && now.saturating_duration_since(p.last_seen) > limit
                })
            })
            .copied()
            .collect()
    }

    /// The peers of `among` connected and not heard from for `limit`: marked silent, and
    /// returned (to be disconnected). A frozen or cut-off peer keeps its TCP connection up;
    /// only silence tells.
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

    /// `id` is taken for dead: not live until it answers again (it is to be disconnected).
    pub fn cut(&mut self, id: PeerId) {
        if let Some(p) = self.peers.get_mut(&id) {
            p.live = false;
            self.counts.silenced += 1;
        }
    }

    /// When `id` was last heard from.
    pub fn last_heard(&self, id: PeerId) -> Option<Instant> {
        self.peers.get(&id).map(|p| p.last_seen)
    }

    /// `id` starts being watched: its silence counts from now, not from before (nobody
    /// asked it anything then).
    pub fn watched_from(&mut self, id: PeerId, now: Instant) {
        if let Some(p) = self.peers.get_mut(&id) {
            p.last_seen = p.last_seen.max(now);
        }
    }

    /// The peers this node watches: the `k` connected members that follow `local` in the
    /// order of peer ids, coming round after the greatest. Each node is so watched by the
    /// `k` before it, and each watches `k`, whatever the size of the mesh: liveness costs a
    /// node `k` probes per period, not one per peer. Watchers that cut a peer tell the others
    /// (see `EventLoop`), who confirm.
    pub fn watch(&self, local: PeerId, k: usize) -> HashSet<PeerId> {
        let mut ring: Vec<PeerId> = self
            .members()
            .filter(|(_, p)| p.connections > 0)
            .map(|(id, _)| *id)
            .collect();
        if ring.len() <= k {
            return ring.into_iter().collect();
        }
        ring.sort_unstable();
        let start = ring.partition_point(|id| *id < local);
        (0..k).map(|i| ring[(start + i) % ring.len()]).collect()
    }

    /// This node itself stood still for `stall` (a suspended process, an overloaded machine):
    /// the silence of its peers over that time is its own, not theirs, and is not counted.
    pub fn forgive(&mut self, now: Instant, stall: Duration) {
        self.counts.stalls += 1;
        self.counts.stalled += stall;
        for p in self.peers.values_mut().filter(|p| p.connections > 0) {
            p.last_seen = (p.last_seen + stall).min(now);
        }
    }

    /// A digest was heard: whether its catalogue must be fetched. Only a peer in the view
    /// is counted (see [`View::heard_at`]).
    pub fn digest(&mut self, id: PeerId, digest: Digest) -> bool {
        let Some(p) = self.peers.get_mut(&id) else {
            return false;
        };
        // Any difference counts: a restarted agent counts its versions from 0 again.
        let stale = p.catalogue.as_ref().is_none_or(|c| c.digest() != digest);
        p.digest = Some(digest);
        p.heard_of = Instant::now();
        stale
    }

    /// Connected peers whose catalogue nothing was heard of for longer than `limit` (their
    /// digests, said every few seconds, did not arrive): their catalogue is to be asked for
    /// directly. They are not listed again before another `limit`.
    pub fn unheard_for(&mut self, now: Instant, limit: Duration) -> Vec<PeerId> {
        let mut out = Vec::new();
        for (id, p) in &mut self.peers {
            if p.connections > 0 && now.saturating_duration_since(p.heard_of) > limit {
                p.heard_of = now;
                out.push(*id);
            }
        }
        out
    }

    /// A catalogue arrived: the peer's own answer, so the current one.
    pub fn catalogue(&mut self, id: PeerId, catalogue: Catalogue) {
        self.counts.fetches += 1;
        let p = self.peer(id);
        p.last_seen = Instant::now();
        p.heard_of = p.last_seen;
        p.catalogue = Some(catalogue);
    }

    /// Peers to dial now (known addresses, not connected, their backoff over), `most` of
    /// them, those waiting longest first; their next attempt is pushed back.
    ///
    /// A peer never reached after [`MAX_DIALS_UNMET`] dials, or for [`UNMET_FOR`], is
    /// forgotten: addresses heard of (from mDNS, another agent, a digest) may lead nowhere,
    /// and are not dialed forever. A peer once met is dialed until it comes back.
    pub fn due_for_dial(&mut self, now: Instant, most: usize) -> Vec<(PeerId, Vec<Multiaddr>)> {
        self.peers.retain(|_, p| {
            p.met
                || p.connections > 0
                || (now.saturating_duration_since(p.since) < UNMET_FOR
                    && (p.dials < MAX_DIALS_UNMET || p.next_dial > now))
        });
        let mut due: Vec<(Instant, PeerId)> = self
            .peers
            .iter()
            .filter(|(_, p)| p.connections == 0 && !p.addrs.is_empty() && p.next_dial <= now)
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
            p.backoff = (p.backoff * 2).min(Duration::from_secs(4));
        }
        out
    }

    /// The live peer of location `name`.
    pub fn peer_of(&self, name: &str) -> Option<PeerId> {
        self.members()
            .filter(|(_, p)| p.live && p.name() == Some(name))
            .map(|(id, _)| *id)
            .next()
    }

    /// Seconds since the member named `name` was last heard from, when it is known.
    pub fn last_seen(&self, name: &str) -> Option<u64> {
        self.members()
            .filter(|(_, p)| p.name() == Some(name))
            .map(|(_, p)| p.last_seen.elapsed().as_secs())
            .min()
    }

    /// The live locations, by name: each with its facts.
    pub fn live(&self) -> Vec<Info> {
        let mut out: Vec<Info> = self
            .members()
            .filter(|(_, p)| p.live)
            .filter_map(|(_, p)| p.catalogue.as_ref().map(|c| c.info.clone()))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out.dedup_by(|a, b| a.name == b.name);
        out
    }

    /// The live peers whose catalogue offers a provide `xpath` matches, by name.
    pub fn offering(&self, xpath: &Address) -> Vec<String> {
        let mut out: Vec<String> = self
            .members()
            .filter(|(_, p)| p.live)
            .filter_map(|(_, p)| p.catalogue.as_ref())
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
            fetches: self.counts.fetches,
            stalls: self.counts.stalls,
            stalled: self.counts.stalled,
            ..crate::MeshStats::default()
        };
        for p in self.peers.values() {
            stats.connections += p.connections;
            if !p.met {
                stats.candidates += 1;
                continue;
            }
            stats.members += 1;
            if p.connections > 0 {
                stats.connected += 1;
            }
            if p.live && p.catalogue.is_some() {
                stats.live += 1;
            }
        }
        stats
    }

    /// The members: peers a connection came up with, at least once.
    fn members(&self) -> impl Iterator<Item = (&PeerId, &Peer)> {
        self.peers.iter().filter(|(_, p)| p.met)
    }

    /// Every member, for `armonic mesh`; never a peer only heard of.
    pub fn peers(&self) -> Vec<PeerInfo> {
        let mut out: Vec<PeerInfo> = self
            .members()
            .map(|(id, p)| PeerInfo {
                name: p.name().map(str::to_owned),
                peer_id: id.to_string(),
                addresses: p.addrs.iter().map(ToString::to_string).collect(),
                catalogue: p.catalogue.clone(),
                last_seen_secs: p.last_seen.elapsed().as_secs(),
                live: p.live,
                local: false,
            })
            .collect();
        out.sort_by(|a, b| (&a.name, &a.peer_id).cmp(&(&b.name, &b.peer_id)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use armonic_proto::LifecycleEntry;

    fn catalogue(name: &str, version: u64) -> Catalogue {
        Catalogue {
            info: Info {
                name: name.into(),
                os_type: "debian".into(),
                os_release: None,
                version: "0.1.0".into(),
                public_ip: name.into(),
            },
            version,
            lifecycles: vec![LifecycleEntry {
                name: "WebServer".into(),
                states: vec!["Active".into()],
                provides: vec!["Active/start".into()],
                current: None,
            }],
        }
    }

    #[test]
    fn a_peer_only_heard_of_is_never_listed_until_a_connection_with_it_comes_up() {
        let mut v = View::default();
        let local = PeerId::random();
        let (announced, hearsay, digested) = (PeerId::random(), PeerId::random(), PeerId::random());
        // An mDNS announcement (anyone on the LAN, with the key or not), a member's word, a
        // digest: addresses to dial, no more.
        v.seen_at(announced, addr(1));
        v.told_of(local, &[told(hearsay, &[addr(2)])]);
        v.heard_at(local, digested, [addr(3)].into_iter());
        let now = Instant::now();
        assert_eq!(
            v.due_for_dial(now + HEARSAY_GRACE, usize::MAX).len(),
            3,
            "all dialed"
        );
        // Every dial fails (a peer without the key fails the first handshake).
        for id in [announced, hearsay, digested] {
            assert!(v.peers.contains_key(&id), "kept to be dialed again");
        }
        assert!(v.peers().is_empty(), "{:?}", v.peers());
        assert!(v.live().is_empty());
        assert!(v.known(PeerId::random()).is_empty());
        assert_eq!(v.last_seen("web1"), None);
        // A connection comes up: the peer proved it holds the key.
        v.connected(announced);
        let listed: Vec<String> = v.peers().into_iter().map(|p| p.peer_id).collect();
        assert_eq!(listed, [announced.to_string()]);
        // Gone again, it stays listed, not live.
        v.disconnected(announced, 0);
        let listed = v.peers();
        assert_eq!(listed.len(), 1);
        assert!(!listed[0].live);
        // The others are forgotten, never having been listed.
        v.due_for_dial(now + UNMET_FOR, usize::MAX);
        assert_eq!(v.peers.len(), 1);
    }

    #[test]
    fn a_peer_is_live_while_connected_and_answering() {
        let mut v = View::default();
        let id = PeerId::random();
        v.catalogue(id, catalogue("web1", 1));
        assert!(v.live().is_empty(), "known, not connected");
        v.connected(id);
        assert_eq!(v.live()[0].name, "web1");
        assert_eq!(v.peer_of("web1"), Some(id));
        v.cut(id);
        assert!(v.live().is_empty(), "cut");
        v.heard(id);
        assert_eq!(v.live().len(), 1);
        v.disconnected(id, 0);
        assert!(v.live().is_empty());
        assert_eq!(v.peer_of("web1"), None);
    }

    #[test]
    fn each_node_watches_the_few_connected_members_that_follow_it_in_peer_id_order() {
        let mut v = View::default();
        let mut ids: Vec<PeerId> = (0..6).map(|_| PeerId::random()).collect();
        ids.sort_unstable();
        let local = ids.remove(2);
        assert!(v.watch(local, 3).is_empty());
        v.connected(ids[0]);
        v.connected(ids[4]);
        assert_eq!(
            v.watch(local, 3),
            HashSet::from([ids[0], ids[4]]),
            "all, while few"
        );
        for id in &ids {
            v.connected(*id);
        }
        // Those after it, then round from the smallest.
        assert_eq!(v.watch(local, 3), HashSet::from([ids[2], ids[3], ids[4]]));
        v.disconnected(ids[3], 0);
        assert_eq!(v.watch(local, 3), HashSet::from([ids[2], ids[4], ids[0]]));
        // Each connected member is watched by exactly k others.
        let all: Vec<PeerId> = ids.iter().copied().chain([local]).collect();
        let mut full = View::default();
        for id in &all {
            full.connected(*id);
        }
        for watched in &all {
            let watchers = all
                .iter()
                .filter(|w| {
                    let mut view = View::default();
                    for id in all.iter().filter(|id| id != w) {
                        view.connected(*id);
                    }
                    view.watch(**w, 2).contains(watched)
                })
                .count();
            assert_eq!(watchers, 2, "{watched}");
        }
    }

    #[test]
    fn a_connected_peer_that_stays_silent_is_not_live() {
        let mut v = View::default();
        let id = PeerId::random();
        v.catalogue(id, catalogue("web1", 1));
        v.connected(id);
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
    fn a_digest_asks_for_the_catalogue_only_when_it_is_new() {
        let mut v = View::default();
        let id = PeerId::random();
        assert!(
            !v.digest(id, catalogue("web1", 1).digest()),
            "not in the view"
        );
        v.connected(id);
        assert!(v.digest(id, catalogue("web1", 1).digest()));
        v.catalogue(id, catalogue("web1", 1));
        assert!(!v.digest(id, catalogue("web1", 1).digest()));
        assert!(v.digest(id, catalogue("web1", 2).digest()));
    }

    #[test]
    fn a_connected_peer_whose_digests_stop_arriving_is_asked_directly_once_per_period() {
        let mut v = View::default();
        let id = PeerId::random();
        v.connected(id);
        v.catalogue(id, catalogue("web1", 1));
        let limit = Duration::from_secs(10);
        let now = Instant::now();
        assert!(v.unheard_for(now, limit).is_empty());
        let later = now + limit + Duration::from_secs(1);
        assert_eq!(v.unheard_for(later, limit), [id]);
        assert!(v.unheard_for(later, limit).is_empty(), "not again at once");
        v.digest(id, catalogue("web1", 1).digest());
        assert!(v.unheard_for(Instant::now() + limit / 2, limit).is_empty());
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
        v.connected(id);
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
        v.catalogue(a, catalogue("web1", 1));
        v.connected(a);
        v.connected(b);
        v.connected(b);
        let s = v.stats();
        assert_eq!(
            (s.members, s.live, s.connected, s.connections, s.candidates),
            (2, 1, 2, 3, 1)
        );
        assert_eq!((s.connections_made, s.fetches), (3, 1));
        let late = Instant::now() + Duration::from_secs(10);
        assert_eq!(
            v.would_be_silent(late, Duration::from_secs(3), &everyone(&v))
                .len(),
            2
        );
        assert_eq!(v.stats().silenced, 0, "not marked by looking");
        v.silent_for(late, Duration::from_secs(3), &everyone(&v));
        v.cut(a);
        let s = v.stats();
        assert_eq!((s.silenced, s.live), (3, 0));
    }

    #[test]
    fn offering_names_the_live_peers_whose_catalogue_matches() {
        let mut v = View::default();
        for name in ["web2", "web1"] {
            let id = PeerId::random();
            v.catalogue(id, catalogue(name, 1));
            v.connected(id);
        }
        let a: Address = "//WebServer//start".parse().unwrap();
        assert_eq!(v.offering(&a), ["web1", "web2"]);
        let none: Address = "//Proxy//start".parse().unwrap();
        assert!(v.offering(&none).is_empty());
    }

    fn everyone(v: &View) -> HashSet<PeerId> {
        v.peers.keys().copied().collect()
    }

    fn addr(port: u16) -> Multiaddr {
        format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()
    }

    #[test]
    fn an_agent_tells_the_live_peers_it_knows_but_the_asker() {
        let mut v = View::default();
        let (asker, live, gone, nowhere) = (
            PeerId::random(),
            PeerId::random(),
            PeerId::random(),
            PeerId::random(),
        );
        for (i, id) in [asker, live, gone].into_iter().enumerate() {
            v.seen_at(id, addr(i as u16 + 1));
            v.connected(id);
        }
        v.disconnected(gone, 0);
        v.connected(nowhere);
        let told = v.known(asker);
        assert_eq!(
            told,
            [KnownPeer {
                id: live.to_bytes(),
                addrs: vec![ByteBuf::from(addr(2).to_vec())],
            }],
            "neither the asker, nor a peer gone, nor one without an address"
        );
    }

    #[test]
    fn peers_told_of_are_kept_to_be_dialed_and_bad_entries_skipped() {
        let mut v = View::default();
        let local = PeerId::random();
        let other = PeerId::random();
        let bytes = |a: Multiaddr| ByteBuf::from(a.to_vec());
        let told = [
            KnownPeer {
                id: b"not a peer id".to_vec(),
                addrs: vec![bytes(addr(1))],
            },
            KnownPeer {
                id: local.to_bytes(),
                addrs: vec![bytes(addr(2))],
            },
            KnownPeer {
                id: other.to_bytes(),
                addrs: vec![ByteBuf::from(b"garbage".to_vec()), bytes(addr(3))],
            },
        ];
        v.told_of(local, &told);
        assert_eq!(v.peers.len(), 1, "only the valid entry of another peer");
        assert_eq!(v.peers[&other].addrs, [addr(3)]);
        let later = Instant::now() + HEARSAY_GRACE;
        assert_eq!(v.due_for_dial(later, usize::MAX)[0].0, other);
    }

    #[test]
    fn of_two_agents_hearing_of_each_other_the_smaller_peer_id_dials_first() {
        let (a, b) = (PeerId::random(), PeerId::random());
        let (small, great) = if a < b { (a, b) } else { (b, a) };
        let mut at_small = View::default();
        at_small.heard_at(small, great, [addr(1)].into_iter());
        assert_eq!(
            at_small.due_for_dial(Instant::now(), usize::MAX).len(),
            1,
            "dials at once"
        );
        let mut at_great = View::default();
        at_great.heard_at(great, small, [addr(2)].into_iter());
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
            v.heard_at(local, PeerId::random(), [addr(1)].into_iter());
        }
        assert_eq!(v.peers.len(), MAX_UNMET);
    }

    fn told(id: PeerId, addrs: &[Multiaddr]) -> KnownPeer {
        KnownPeer {
            id: id.to_bytes(),
            addrs: addrs.iter().map(|a| ByteBuf::from(a.to_vec())).collect(),
        }
    }

    #[test]
    fn what_another_agent_tells_never_changes_the_addresses_of_a_known_peer() {
        let mut v = View::default();
        let (local, honest) = (PeerId::random(), PeerId::random());
        v.seen_at(honest, addr(1));
        v.connected(honest);
        v.disconnected(honest, 0);
        let lies: Vec<Multiaddr> = (2..12).map(addr).collect();
        v.told_of(local, &[told(honest, &lies)]);
        assert_eq!(v.peers[&honest].addrs, [addr(1)]);
    }

    #[test]
    fn only_so_much_is_taken_from_one_answer() {
        let mut v = View::default();
        let local = PeerId::random();
        let many: Vec<KnownPeer> = (0..MAX_TOLD_NEW + 10)
            .map(|_| told(PeerId::random(), &(1..10).map(addr).collect::<Vec<_>>()))
            .collect();
        v.told_of(local, &many);
        assert_eq!(v.peers.len(), MAX_TOLD_NEW);
        assert!(v.peers.values().all(|p| p.addrs.len() == HEARSAY_ADDRS));
    }

    #[test]
    fn peers_told_of_without_a_dialable_address_are_not_taken() {
        let mut v = View::default();
        let local = PeerId::random();
        let odd: Vec<Multiaddr> = ["/ip4/10.0.0.1/udp/53", "/unix/tmp%2Fsock", "/ip4/10.0.0.1"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        v.told_of(
            local,
            &[told(PeerId::random(), &odd), told(PeerId::random(), &[])],
        );
        assert!(v.peers.is_empty());
        let named: Multiaddr = "/dns4/web1.example/tcp/7301".parse().unwrap();
        v.told_of(local, &[told(PeerId::random(), &[named])]);
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
        assert!(v.heard_at(PeerId::random(), id, std::iter::empty()));
        assert!(
            v.due_for_dial(Instant::now(), usize::MAX).is_empty(),
            "no address"
        );
        assert!(v.peers.contains_key(&id));
        v.due_for_dial(Instant::now() + UNMET_FOR, usize::MAX);
        assert!(!v.peers.contains_key(&id));
    }

    #[test]
    fn the_stall_of_a_node_leaves_what_it_saw_of_disconnected_peers() {
        let mut v = View::default();
        let id = PeerId::random();
        v.connected(id);
        v.disconnected(id, 0);
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
        v.catalogue(id, catalogue("web1", 1));
        v.connected(id);
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
        v.connected(met);
        v.disconnected(met, 0);
        let mut now = Instant::now();
        for _ in 0..MAX_DIALS_UNMET {
            assert_eq!(v.due_for_dial(now, usize::MAX).len(), 2);
            now += Duration::from_secs(5);
        }
        assert_eq!(v.due_for_dial(now, usize::MAX), [(met, vec![addr(2)])]);
        assert!(!v.peers.contains_key(&unmet));
    }

    #[test]
    fn the_digest_of_a_peer_there_is_no_room_for_is_not_kept() {
        let mut v = View::default();
        let local = PeerId::random();
        for _ in 0..MAX_UNMET {
            v.heard_at(local, PeerId::random(), [addr(1)].into_iter());
        }
        let late = PeerId::random();
        assert!(!v.heard_at(local, late, [addr(2)].into_iter()));
        assert!(!v.digest(late, catalogue("web1", 1).digest()));
        assert!(!v.peers.contains_key(&late));
    }

    #[test]
    fn a_digest_keeps_only_dialable_addresses() {
        let mut v = View::default();
        let id = PeerId::random();
        let said = ["/ip4/10.0.0.1/udp/53", "/ip4/10.0.0.1/tcp/7301"]
            .iter()
            .map(|a| a.parse::<Multiaddr>().unwrap());
        v.heard_at(PeerId::random(), id, said);
        assert_eq!(
            v.peers[&id].addrs,
            ["/ip4/10.0.0.1/tcp/7301".parse::<Multiaddr>().unwrap()]
        );
    }

    #[test]
    fn a_known_peer_with_no_address_takes_one_from_another_agent() {
        let mut v = View::default();
        let (local, id) = (PeerId::random(), PeerId::random());
        v.heard_at(local, id, std::iter::empty());
        v.told_of(local, &[told(id, &[addr(5)])]);
        assert_eq!(v.peers[&id].addrs, [addr(5)]);
    }
}
