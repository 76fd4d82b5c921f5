//! A node's view of the mesh: every peer it knows, where it was seen, whether it is live, and
//! its catalogue. Plain data, changed by the event loop, read by anyone through the handle.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use armonic_lifecycle::Address;
use armonic_lifecycle::info::Info;
use armonic_proto::{Catalogue, Digest, PeerInfo};
use libp2p::{Multiaddr, PeerId};

/// One peer.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub addrs: Vec<Multiaddr>,
    pub connections: usize,
    /// Connected, and answering pings.
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
}

/// Most addresses kept per peer.
const MAX_ADDRS: usize = 8;

impl View {
    fn peer(&mut self, id: PeerId) -> &mut Peer {
        self.peers
            .entry(id)
            .or_insert_with(|| Peer::new(Instant::now()))
    }

    /// A peer was seen at `addr` (mDNS, identify, a connection).
    pub fn seen_at(&mut self, id: PeerId, addr: Multiaddr) {
        let p = self.peer(id);
        if !p.addrs.contains(&addr) {
            p.addrs.push(addr);
            if p.addrs.len() > MAX_ADDRS {
                p.addrs.remove(0);
            }
        }
    }

    /// A connection to `id` is up.
    pub fn connected(&mut self, id: PeerId) {
        let p = self.peer(id);
        p.connections += 1;
        p.live = true;
        p.last_seen = Instant::now();
        p.backoff = Duration::from_millis(500);
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

    /// `id` stopped answering (a ping failed).
    pub fn silent(&mut self, id: PeerId) {
        self.peer(id).live = false;
    }

    /// Connected peers not heard from for `limit`: marked silent, and returned (to be
    /// disconnected). A frozen or cut-off peer keeps its TCP connection up; only silence
    /// tells.
    pub fn silent_for(&mut self, now: Instant, limit: Duration) -> Vec<PeerId> {
        let mut out = Vec::new();
        for (id, p) in &mut self.peers {
            if p.connections > 0 && now.saturating_duration_since(p.last_seen) > limit {
                p.live = false;
                out.push(*id);
            }
        }
        out
    }

    /// A digest was heard: whether its catalogue must be fetched.
    pub fn digest(&mut self, id: PeerId, digest: Digest) -> bool {
        let p = self.peer(id);
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
        let p = self.peer(id);
        p.last_seen = Instant::now();
        p.heard_of = p.last_seen;
        p.catalogue = Some(catalogue);
    }

    /// Peers to dial now (known addresses, not connected, their backoff over); their next
    /// attempt is pushed back.
    pub fn due_for_dial(&mut self, now: Instant) -> Vec<(PeerId, Vec<Multiaddr>)> {
        let mut out = Vec::new();
        for (id, p) in &mut self.peers {
            if p.connections == 0 && !p.addrs.is_empty() && p.next_dial <= now {
                out.push((*id, p.addrs.clone()));
                p.next_dial = now + p.backoff;
                p.backoff = (p.backoff * 2).min(Duration::from_secs(4));
            }
        }
        out
    }

    /// The live peer of location `name`.
    pub fn peer_of(&self, name: &str) -> Option<PeerId> {
        self.peers
            .iter()
            .filter(|(_, p)| p.live && p.name() == Some(name))
            .map(|(id, _)| *id)
            .next()
    }

    /// The live locations, by name: each with its facts.
    pub fn live(&self) -> Vec<Info> {
        let mut out: Vec<Info> = self
            .peers
            .values()
            .filter(|p| p.live)
            .filter_map(|p| p.catalogue.as_ref().map(|c| c.info.clone()))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out.dedup_by(|a, b| a.name == b.name);
        out
    }

    /// The live peers whose catalogue offers a provide `xpath` matches, by name.
    pub fn offering(&self, xpath: &Address) -> Vec<String> {
        let mut out: Vec<String> = self
            .peers
            .values()
            .filter(|p| p.live)
            .filter_map(|p| p.catalogue.as_ref())
            .filter(|c| c.offers_provide(xpath))
            .map(|c| c.info.name.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Every peer, for `armonic mesh`.
    pub fn peers(&self) -> Vec<PeerInfo> {
        let mut out: Vec<PeerInfo> = self
            .peers
            .iter()
            .map(|(id, p)| PeerInfo {
                name: p.name().map(str::to_owned),
                peer_id: id.to_string(),
                addresses: p.addrs.iter().map(ToString::to_string).collect(),
                catalogue: p.catalogue.clone(),
                last_seen_secs: p.last_seen.elapsed().as_secs(),
                live: p.live,
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
    fn a_peer_is_live_while_connected_and_answering() {
        let mut v = View::default();
        let id = PeerId::random();
        v.catalogue(id, catalogue("web1", 1));
        assert!(v.live().is_empty(), "known, not connected");
        v.connected(id);
        assert_eq!(v.live()[0].name, "web1");
        assert_eq!(v.peer_of("web1"), Some(id));
        v.silent(id);
        assert!(v.live().is_empty(), "a failed ping");
        v.heard(id);
        assert_eq!(v.live().len(), 1);
        v.disconnected(id, 0);
        assert!(v.live().is_empty());
        assert_eq!(v.peer_of("web1"), None);
    }

    #[test]
    fn a_connected_peer_that_stays_silent_is_not_live() {
        let mut v = View::default();
        let id = PeerId::random();
        v.catalogue(id, catalogue("web1", 1));
        v.connected(id);
        let now = Instant::now();
        assert!(v.silent_for(now, Duration::from_secs(3)).is_empty());
        assert_eq!(
            v.silent_for(now + Duration::from_secs(4), Duration::from_secs(3)),
            [id]
        );
        assert!(v.live().is_empty());
    }

    #[test]
    fn a_digest_asks_for_the_catalogue_only_when_it_is_new() {
        let mut v = View::default();
        let id = PeerId::random();
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
        assert_eq!(v.due_for_dial(now).len(), 1);
        assert!(v.due_for_dial(now).is_empty(), "not before the backoff");
        assert_eq!(v.due_for_dial(now + Duration::from_secs(5)).len(), 1);
        v.connected(id);
        assert!(v.due_for_dial(now + Duration::from_secs(60)).is_empty());
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
}
