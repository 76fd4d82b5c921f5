//! Membership: every member of the mesh an agent knows of, whether it is alive, where it
//! listens, and its catalogue, as agents pass it on to each other. Plain data, merged by the
//! rules below; the event loop carries it on `/armonic/members/1`.
//!
//! Each member alone says it is alive, in an entry stamped with its start (`epoch`) and a
//! count of its entry's changes (`incarnation`); a newer stamp replaces an older one. A peer
//! that watched a member and heard nothing, or lost its connection to it and could not make
//! another, says it `Down` at the stamp it holds; at an equal stamp that outranks `Alive`. A
//! member that hears itself said down while it is not says it is alive again with a greater
//! stamp (it refutes), so a wrong verdict lasts one round of gossip and never forever.
//!
//! Entries spread three ways, all carrying many entries per message: a member's own change
//! goes at once to every peer it is connected to; an entry that is news to an agent is passed
//! on once to a few of its peers; and agents compare what they hold (a connection that comes
//! up, and one peer every period), the answer carrying only what the asker lacks.
//!
//! An entry carries its member's catalogue as a card naming a shape by hash (`shapes.rs`):
//! an entry whose shape is not held here waits, a bounded while, for the shape to be asked
//! of the peer that gave it.

use std::collections::HashMap;
use std::time::Instant;

use armonic_proto::Catalogue;
use libp2p::{Multiaddr, PeerId};
use serde_bytes::ByteBuf;

use crate::protocol::{Entry, Have, Stamp, Status};
use crate::shapes::{Card, Hash, Shapes, Unmade};

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

/// Most members an agent holds (a member's word cannot grow its memory without bound).
pub(crate) const MAX_MEMBERS: usize = 8192;

/// Most entries asked for at once of the peer that passed on their news.
const MAX_WANTED: usize = 1024;

/// Most shapes asked for at once, and answered at once.
pub(crate) const MAX_SHAPES_ASKED: usize = 64;

/// Most shapes held: beyond, those no member names are dropped.
const MAX_SHAPES: usize = 1024;

/// Buckets members are spread in, by peer id, for agents to compare what they hold.
pub(crate) const BUCKETS: usize = 64;

/// Most differing buckets named in one answer to a comparison (the asker asks again).
const BUCKETS_ANSWERED: usize = 16;

/// FNV-1a, 64 bits, then mixed: the same on every build and machine.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    // splitmix64's finaliser: every bit of the input reaches every bit of the output.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The bucket of member `id`.
fn bucket(id: &PeerId) -> usize {
    let mh: &libp2p::multihash::Multihash<64> = id.as_ref();
    (fnv(&[mh.digest()]) % BUCKETS as u64) as usize
}

/// What one entry adds to its bucket's digest.
fn item(id: &PeerId, stamp: Stamp, status: Status) -> u64 {
    let mh: &libp2p::multihash::Multihash<64> = id.as_ref();
    fnv(&[
        mh.digest(),
        &stamp.epoch.to_le_bytes(),
        &stamp.incarnation.to_le_bytes(),
        &[status as u8],
    ])
}

/// Most bytes of catalogues an agent holds of all members together (a member's word cannot
/// fill its memory: a thousand agents with a few lifecycles each hold about a megabyte).
pub(crate) const MAX_HELD: usize = 256 << 20;

/// How far ahead of this machine's clock a stamp may be: one further is taken for a lie (it
/// would let nobody, not even the member, ever say anything newer of it).
const MAX_SKEW_MS: u64 = 60_000;

/// One member, as this agent holds it.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub stamp: Stamp,
    pub status: Status,
    pub addrs: Vec<Multiaddr>,
    /// Its catalogue, kept when it goes down (to be listed as not live).
    pub catalogue: Option<Catalogue>,
    /// Its card, encoded, and the hash of the shape it names.
    raw: Option<ByteBuf>,
    shape: Option<Hash>,
    /// When this agent last took news of it.
    pub changed: Instant,
}

impl Member {
    fn key(&self) -> (Stamp, Status) {
        (self.stamp, self.status)
    }

    /// Alive, with a catalogue: to be listed and called.
    pub fn live(&self) -> bool {
        self.status == Status::Alive && self.catalogue.is_some()
    }

    /// Its entry without its card: what is passed on as news (whoever lacks the card asks
    /// the sender for it).
    fn header(&self, id: &PeerId) -> Entry {
        Entry {
            card: None,
            ..self.entry(id)
        }
    }

    fn entry(&self, id: &PeerId) -> Entry {
        Entry {
            id: id.to_bytes(),
            stamp: self.stamp,
            status: self.status,
            addrs: self
                .addrs
                .iter()
                .map(|a| ByteBuf::from(a.to_vec()))
                .collect(),
            card: match self.status {
                Status::Alive => self.raw.clone(),
                Status::Down | Status::Left => None,
            },
        }
    }
}

/// What [`Members::take`] changed.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Taken {
    /// Members whose entry changed (news, to be passed on).
    pub news: Vec<PeerId>,
    /// Members that were alive and are now said down or gone.
    pub gone: Vec<PeerId>,
    /// Members first heard of.
    pub new: Vec<PeerId>,
    /// This agent was said down (or a newer entry of it was seen): it said itself alive again.
    pub refuted: bool,
    /// Members said alive with a newer stamp than the one held, without their card: to be
    /// asked of the sender.
    pub wanted: Vec<PeerId>,
    /// Shapes named by cards and not held: to be asked of the sender (the entries wait).
    pub shapes: Vec<Hash>,
}

impl Taken {
    fn extend(&mut self, other: Taken) {
        self.news.extend(other.news);
        self.gone.extend(other.gone);
        self.new.extend(other.new);
        self.refuted |= other.refuted;
        self.wanted.extend(other.wanted);
        for hash in other.shapes {
            if !self.shapes.contains(&hash) {
                self.shapes.push(hash);
            }
        }
    }
}

/// An entry waiting for the shape its card names, and how it came.
#[derive(Debug)]
struct Waiting {
    entry: Entry,
    from: Option<PeerId>,
    pass_on: bool,
}

/// The entry of this agent itself.
#[derive(Debug)]
struct Own {
    stamp: Stamp,
    addrs: Vec<ByteBuf>,
    /// Its card, encoded, and its shape's hash.
    raw: Option<ByteBuf>,
    shape: Option<Hash>,
    status: Status,
}

/// The members an agent knows.
#[derive(Debug)]
pub(crate) struct Members {
    me: PeerId,
    own: Own,
    list: HashMap<PeerId, Member>,
    /// Members whose entry is news here, to be passed on: how many more times each, and
    /// whether it went in full once already.
    news: Vec<PeerId>,
    queued: HashMap<PeerId, (u32, bool)>,
    /// Whether this agent's own entry changed since it was last sent to every peer.
    own_news: bool,
    max_catalogue: u64,
    /// Bytes of cards held.
    held: usize,
    shapes: Shapes,
    /// Entries waiting for their shapes, by shape, and how many in all.
    waiting: HashMap<Hash, Vec<Waiting>>,
    waiting_count: usize,
    /// The live members, in peer-id order (kept as entries change, read every tick).
    ring: Vec<PeerId>,
    /// Per bucket, the sum of what each member's entry adds (this agent's own aside).
    buckets: [u64; BUCKETS],
}

/// Bytes an entry takes on the wire, near enough.
pub(crate) fn size(entry: &Entry) -> usize {
    64 + entry.card.as_ref().map_or(0, |c| c.len())
        + entry.addrs.iter().map(|a| a.len() + 2).sum::<usize>()
}

/// The first of `entries` that fit in about `budget` bytes (at least one, whatever its size).
fn within(budget: usize, entries: impl Iterator<Item = Entry>) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut used = 0;
    for entry in entries {
        let size = size(&entry);
        if !out.is_empty() && used + size > budget {
            break;
        }
        used += size;
        out.push(entry);
    }
    out
}

/// Milliseconds since 1970 by this machine's clock.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The stamp after `stamp`.
fn after(stamp: Stamp) -> Stamp {
    match stamp.incarnation.checked_add(1) {
        Some(incarnation) => Stamp {
            epoch: stamp.epoch,
            incarnation,
        },
        None => Stamp {
            epoch: stamp.epoch.saturating_add(1),
            incarnation: 0,
        },
    }
}

impl Members {
    /// The members known to agent `me`, started at `epoch` (milliseconds since 1970), taking
    /// catalogues of at most `max_catalogue` bytes.
    pub fn new(me: PeerId, epoch: u64, max_catalogue: u64) -> Members {
        Members {
            me,
            own: Own {
                stamp: Stamp {
                    epoch,
                    incarnation: 0,
                },
                addrs: Vec::new(),
                raw: None,
                shape: None,
                status: Status::Alive,
            },
            list: HashMap::new(),
            news: Vec::new(),
            queued: HashMap::new(),
            own_news: false,
            max_catalogue,
            held: 0,
            shapes: Shapes::default(),
            waiting: HashMap::new(),
            waiting_count: 0,
            ring: Vec::new(),
            buckets: [0; BUCKETS],
        }
    }

    /// Member `id`'s entry went from `was` (if held) to `is`: its bucket's digest follows.
    fn restamp(&mut self, id: &PeerId, was: Option<(Stamp, Status)>, is: (Stamp, Status)) {
        let b = &mut self.buckets[bucket(id)];
        if let Some((stamp, status)) = was {
            *b = b.wrapping_sub(item(id, stamp, status));
        }
        *b = b.wrapping_add(item(id, is.0, is.1));
    }

    /// What this agent holds, as a digest per bucket, its own entry included.
    pub fn digests(&self) -> Vec<u64> {
        let mut out = self.buckets.to_vec();
        if self.own.raw.is_some() {
            let b = &mut out[bucket(&self.me)];
            *b = b.wrapping_add(item(&self.me, self.own.stamp, self.own.status));
        }
        out
    }

    /// The sum of [`Members::digests`]: equal sums, nearly surely equal holdings.
    pub fn digest(&self) -> u64 {
        self.digests().iter().fold(0, |a, d| a.wrapping_add(*d))
    }

    /// Compared with a peer's `digests`: a few of the buckets that differ, from the `start`th
    /// on (coming round), and what this agent holds in them. Nothing if the digests do not
    /// read as such.
    pub fn compare(&self, digests: &[u64], start: usize) -> (Vec<u32>, Vec<Have>) {
        if digests.len() != BUCKETS {
            return (Vec::new(), Vec::new());
        }
        let mine = self.digests();
        let differ: Vec<usize> = (0..BUCKETS)
            .map(|i| (start + i) % BUCKETS)
            .filter(|i| mine[*i] != digests[*i])
            .take(BUCKETS_ANSWERED)
            .collect();
        if differ.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let mut picked = [false; BUCKETS];
        for i in &differ {
            picked[*i] = true;
        }
        let own = (self.own.raw.is_some() && picked[bucket(&self.me)]).then(|| Have {
            id: self.me.to_bytes(),
            stamp: self.own.stamp,
            status: self.own.status,
        });
        let have = own
            .into_iter()
            .chain(
                self.list
                    .iter()
                    .filter(|(id, _)| picked[bucket(id)])
                    .map(|(id, m)| Have {
                        id: id.to_bytes(),
                        stamp: m.stamp,
                        status: m.status,
                    }),
            )
            .collect();
        (differ.into_iter().map(|i| i as u32).collect(), have)
    }

    /// A peer answered this agent's comparison: `buckets` differ, and it holds `have` in
    /// them. The members whose entries it holds newer (to be asked of it), and those this
    /// agent holds newer or it lacks (to be given to it).
    pub fn compared(&self, buckets: &[u32], have: &[Have]) -> (Vec<PeerId>, Vec<PeerId>) {
        let mut picked = [false; BUCKETS];
        for b in buckets.iter().take(BUCKETS) {
            if let Some(p) = picked.get_mut(*b as usize) {
                *p = true;
            }
        }
        let mut theirs: HashMap<PeerId, (Stamp, Status)> = HashMap::new();
        for h in have.iter().take(MAX_MEMBERS + 1) {
            if let Ok(id) = PeerId::from_bytes(&h.id)
                && picked[bucket(&id)]
            {
                theirs.insert(id, (h.stamp, h.status));
            }
        }
        let mine = |id: &PeerId| {
            if *id == self.me {
                self.own
                    .raw
                    .as_ref()
                    .map(|_| (self.own.stamp, self.own.status))
            } else {
                self.list.get(id).map(Member::key)
            }
        };
        let mut want: Vec<PeerId> = theirs
            .iter()
            .filter(|(id, key)| mine(id).is_none_or(|m| m < **key))
            .map(|(id, _)| *id)
            .collect();
        want.truncate(MAX_WANTED);
        let give = self
            .list
            .keys()
            .chain(self.own.raw.as_ref().map(|_| &self.me))
            .filter(|id| picked[bucket(id)])
            .filter(|id| {
                let held = mine(id);
                held.is_some_and(|m| theirs.get(*id).is_none_or(|t| *t < m))
            })
            .copied()
            .collect();
        (want, give)
    }

    /// The live members, in peer-id order.
    pub fn ring(&self) -> &[PeerId] {
        &self.ring
    }

    /// Member `id` was live (`was`) and is now (`is`): the ring follows.
    fn relive(&mut self, id: PeerId, was: bool, is: bool) {
        match (was, is) {
            (false, true) => {
                if let Err(at) = self.ring.binary_search(&id) {
                    self.ring.insert(at, id);
                }
            }
            (true, false) => {
                if let Ok(at) = self.ring.binary_search(&id) {
                    self.ring.remove(at);
                }
            }
            _ => {}
        }
    }

    /// This agent's catalogue and addresses changed: its entry says so, with a new stamp.
    pub fn set_own(&mut self, catalogue: &Catalogue, addrs: &[Multiaddr]) {
        let (raw, shape, raw_shape) = crate::shapes::split(catalogue);
        let addrs: Vec<ByteBuf> = addrs
            .iter()
            .take(MAX_ADDRS)
            .map(|a| ByteBuf::from(a.to_vec()))
            .collect();
        if self
            .own
            .raw
            .as_ref()
            .is_some_and(|r| r.as_slice() == raw.as_slice())
            && self.own.addrs == addrs
        {
            return;
        }
        if self.own.raw.is_some() {
            self.own.stamp = after(self.own.stamp);
        }
        self.own.raw = Some(ByteBuf::from(raw));
        self.own.shape = Some(shape);
        self.shapes.insert(ByteBuf::from(raw_shape));
        self.sweep();
        self.own.addrs = addrs;
        self.own_news = true;
    }

    /// This agent's entry, once it has a catalogue.
    pub fn own_entry(&self) -> Option<Entry> {
        let raw = self.own.raw.clone()?;
        Some(Entry {
            id: self.me.to_bytes(),
            stamp: self.own.stamp,
            status: self.own.status,
            addrs: self.own.addrs.clone(),
            card: (self.own.status == Status::Alive).then_some(raw),
        })
    }

    /// This agent's entry, if it changed since it was last taken: to go to every peer.
    pub fn own_news(&mut self) -> Option<Entry> {
        if !std::mem::take(&mut self.own_news) {
            return None;
        }
        self.own_entry()
    }

    /// This agent's stamp.
    #[cfg(test)]
    pub fn own_stamp(&self) -> Stamp {
        self.own.stamp
    }

    /// Member `id`'s entry as it stands here.
    pub fn entry_of(&self, id: &PeerId) -> Option<Entry> {
        self.list.get(id).map(|m| m.entry(id))
    }

    /// The entries of `ids` held (in full), this agent's own included, in about `budget` bytes
    /// (at least one).
    pub fn entries(&self, ids: &[serde_bytes::ByteBuf], budget: usize) -> Vec<Entry> {
        let held = ids
            .iter()
            .take(MAX_MEMBERS)
            .filter_map(|id| PeerId::from_bytes(id).ok())
            .filter_map(|id| {
                if id == self.me {
                    self.own_entry()
                } else {
                    self.entry_of(&id)
                }
            });
        within(budget, held)
    }

    /// Whether a peer holding `have` holds an entry newer than this agent's (of itself or
    /// of another): this agent has something to ask it.
    pub fn behind(&self, have: &[Have]) -> bool {
        have.iter().take(MAX_MEMBERS + 1).any(|h| {
            let Ok(id) = PeerId::from_bytes(&h.id) else {
                return false;
            };
            if id == self.me {
                return (h.stamp, h.status) > (self.own.stamp, self.own.status);
            }
            self.list
                .get(&id)
                .is_none_or(|m| m.key() < (h.stamp, h.status))
        })
    }

    pub fn get(&self, id: &PeerId) -> Option<&Member> {
        self.list.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&PeerId, &Member)> {
        self.list.iter()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Entries from peer `from` (in an answer, or passed on), to be passed on in turn if
    /// `pass_on` (the entry of `from` itself always is). Each is taken if it is news: a
    /// greater stamp, or at the same stamp a status that outranks the one held. Stamps
    /// further ahead than [`MAX_SKEW_MS`] of `now_ms` are lies and skipped, as are entries
    /// that do not parse, alive without a catalogue that reads, of a peer new once
    /// [`MAX_MEMBERS`] are held, or saying down a peer `heard_lately` (this agent hears from
    /// it itself; it will say it is alive if it is). An entry saying this agent down, or newer
    /// than its own, makes it say itself alive again with a greater stamp.
    pub fn take(
        &mut self,
        entries: Vec<Entry>,
        from: Option<PeerId>,
        pass_on: bool,
        now: Instant,
        now_ms: u64,
        heard_lately: impl Fn(&PeerId) -> bool,
    ) -> Taken {
        let mut taken = Taken::default();
        for entry in entries {
            let Ok(id) = PeerId::from_bytes(&entry.id) else {
                continue;
            };
            if entry.stamp.epoch > now_ms.saturating_add(MAX_SKEW_MS) {
                continue;
            }
            if id == self.me {
                let outranks = (entry.stamp, entry.status) > (self.own.stamp, Status::Alive);
                if self.own.status == Status::Alive && outranks {
                    self.own.stamp = after(entry.stamp.max(self.own.stamp));
                    self.own_news = true;
                    taken.refuted = true;
                }
                continue;
            }
            let held = self.list.get(&id);
            if held.is_some_and(|m| m.key() >= (entry.stamp, entry.status)) {
                continue;
            }
            if held.is_none() && self.list.len() >= MAX_MEMBERS {
                continue;
            }
            if entry.status == Status::Down && heard_lately(&id) {
                continue;
            }
            let catalogue = match (entry.status, entry.card.as_ref()) {
                (Status::Alive, None) => {
                    if taken.wanted.len() < MAX_WANTED {
                        taken.wanted.push(id);
                    }
                    continue;
                }
                (Status::Alive, Some(raw)) => {
                    let before = held.and_then(|m| m.raw.as_ref()).map_or(0, |r| r.len());
                    if raw.len() as u64 > self.max_catalogue
                        || self.held - before + raw.len() + self.shapes.bytes() > MAX_HELD
                    {
                        continue;
                    }
                    let Ok(card) = ciborium::from_reader::<Card, _>(raw.as_slice()) else {
                        continue;
                    };
                    match self.shapes.catalogue(card) {
                        Ok((c, shape)) => Some((c, raw.clone(), shape)),
                        Err(Unmade::Bad) => continue,
                        Err(Unmade::Unknown(shape)) => {
                            self.wait(shape, entry, from, pass_on, &mut taken);
                            continue;
                        }
                    }
                }
                (Status::Down | Status::Left, _) => None,
            };
            let addrs: Vec<Multiaddr> = addrs(&entry.addrs).collect();
            let was_live = held.is_some_and(Member::live);
            let was = held.map(Member::key);
            self.restamp(&id, was, (entry.stamp, entry.status));
            match self.list.get_mut(&id) {
                Some(m) => {
                    m.stamp = entry.stamp;
                    m.status = entry.status;
                    if !addrs.is_empty() {
                        m.addrs = addrs;
                    }
                    if let Some((c, raw, shape)) = catalogue {
                        self.held -= m.raw.as_ref().map_or(0, |r| r.len());
                        self.held += raw.len();
                        m.catalogue = Some(c);
                        m.raw = Some(raw);
                        m.shape = Some(shape);
                    }
                    m.changed = now;
                }
                None => {
                    let (catalogue, raw, shape) = match catalogue {
                        Some((c, r, s)) => (Some(c), Some(r), Some(s)),
                        None => (None, None, None),
                    };
                    self.held += raw.as_ref().map_or(0, |r| r.len());
                    self.list.insert(
                        id,
                        Member {
                            stamp: entry.stamp,
                            status: entry.status,
                            addrs,
                            catalogue,
                            raw,
                            shape,
                            changed: now,
                        },
                    );
                    taken.new.push(id);
                }
            }
            if was_live && entry.status != Status::Alive {
                taken.gone.push(id);
            }
            let is_live = self.list.get(&id).is_some_and(Member::live);
            self.relive(id, was_live, is_live);
            // What the member itself says is passed on however it came.
            if pass_on || from == Some(id) {
                self.queue(id);
            }
            taken.news.push(id);
        }
        taken
    }

    /// Entry `entry`, from `from`, waits for shape `shape`; the shape is to be asked for if
    /// no other entry waited for it. Entries beyond [`MAX_MEMBERS`] waiting are dropped (they
    /// come again when peers compare what they hold).
    fn wait(
        &mut self,
        shape: Hash,
        entry: Entry,
        from: Option<PeerId>,
        pass_on: bool,
        taken: &mut Taken,
    ) {
        if self.waiting_count >= MAX_MEMBERS {
            return;
        }
        let waiting = self.waiting.entry(shape).or_default();
        if waiting.is_empty() && taken.shapes.len() < MAX_SHAPES_ASKED {
            taken.shapes.push(shape);
        }
        waiting.push(Waiting {
            entry,
            from,
            pass_on,
        });
        self.waiting_count += 1;
    }

    /// Shapes `raw` came, asked for as `asked`: those asked for are kept, and the entries
    /// that waited for them taken as they came. Entries waiting for a shape asked for and not
    /// given (or not read) are dropped; they come again when peers compare what they hold.
    pub fn take_shapes(
        &mut self,
        asked: &[Hash],
        raw: Vec<ByteBuf>,
        now: Instant,
        now_ms: u64,
        heard_lately: impl Fn(&PeerId) -> bool,
    ) -> Taken {
        for raw in raw.into_iter().take(asked.len()) {
            if raw.len() as u64 > self.max_catalogue
                || self.held + self.shapes.bytes() + raw.len() > MAX_HELD
            {
                continue;
            }
            let hash = crate::shapes::hash(&raw);
            if asked.contains(&hash) && self.waiting.contains_key(&hash) {
                self.shapes.insert(raw);
            }
        }
        let mut taken = Taken::default();
        for hash in asked {
            let Some(waiting) = self.waiting.remove(hash) else {
                continue;
            };
            self.waiting_count -= waiting.len();
            if !self.shapes.has(hash) {
                continue;
            }
            for w in waiting {
                let more = self.take(vec![w.entry], w.from, w.pass_on, now, now_ms, &heard_lately);
                taken.extend(more);
            }
        }
        self.sweep();
        taken
    }

    /// The shapes of `hashes` held, encoded, in about `budget` bytes (at least one).
    pub fn shapes(&self, hashes: &[ByteBuf], budget: usize) -> Vec<ByteBuf> {
        let mut out = Vec::new();
        let mut used = 0;
        for raw in hashes
            .iter()
            .take(MAX_SHAPES_ASKED)
            .filter_map(|h| <Hash>::try_from(h.as_slice()).ok())
            .filter_map(|h| self.shapes.raw(&h))
        {
            if !out.is_empty() && used + raw.len() > budget {
                break;
            }
            used += raw.len();
            out.push(raw.clone());
        }
        out
    }

    /// Beyond [`MAX_SHAPES`] shapes held, or [`MAX_HELD`] bytes, drops the shapes no member
    /// names and no entry waits for.
    fn sweep(&mut self) {
        if self.shapes.len() <= MAX_SHAPES && self.held + self.shapes.bytes() <= MAX_HELD {
            return;
        }
        let named: std::collections::HashSet<Hash> = self
            .list
            .values()
            .filter_map(|m| m.shape)
            .chain(self.own.shape)
            .chain(self.waiting.keys().copied())
            .collect();
        self.shapes.sweep(|h| named.contains(h));
    }

    /// Entry `id` is to be passed on, a few times: each round to a few peers, half as many
    /// rounds as doublings of the mesh, and one more (each peer that has the news passes it
    /// on too, so that this is enough for every member to hear it, nearly always; what is
    /// missed is found when peers compare what they hold).
    fn queue(&mut self, id: PeerId) {
        let doublings = usize::BITS - (self.list.len() + 1).leading_zeros();
        let times = (doublings.div_ceil(2) + 1).max(2);
        if self.queued.insert(id, (times, false)).is_none() {
            self.news.push(id);
        }
    }

    /// This agent takes member `id` for dead (it watched it and heard nothing, or lost its
    /// connection to it and could not make another): said down at the stamp held. Whether it
    /// was alive.
    pub fn down(&mut self, id: PeerId, now: Instant) -> bool {
        let Some(m) = self.list.get_mut(&id) else {
            return false;
        };
        if m.status != Status::Alive {
            return false;
        }
        let was_live = m.live();
        let was = m.key();
        m.status = Status::Down;
        m.changed = now;
        let is = m.key();
        self.relive(id, was_live, false);
        self.restamp(&id, Some(was), is);
        self.queue(id);
        true
    }

    /// What this agent holds, its own entry included: for a peer to answer with what it lacks.
    pub fn summary(&self) -> Vec<Have> {
        let own = self.own.raw.is_some().then(|| Have {
            id: self.me.to_bytes(),
            stamp: self.own.stamp,
            status: self.own.status,
        });
        own.into_iter()
            .chain(self.list.iter().map(|(id, m)| Have {
                id: id.to_bytes(),
                stamp: m.stamp,
                status: m.status,
            }))
            .collect()
    }

    /// The entries a peer holding `have` lacks or holds older, this agent's own first, in
    /// about `budget` bytes (at least one entry, whatever its size); the peer asks again for
    /// the rest.
    pub fn answer(&self, have: &[Have], budget: usize) -> Vec<Entry> {
        let held: HashMap<&[u8], (Stamp, Status)> = have
            .iter()
            .take(MAX_MEMBERS + 1)
            .map(|h| (h.id.as_slice(), (h.stamp, h.status)))
            .collect();
        let stale = |id: &[u8], key: (Stamp, Status)| held.get(id).is_none_or(|k| *k < key);
        let own = self
            .own_entry()
            .filter(|e| stale(&e.id, (e.stamp, e.status)));
        let others = self
            .list
            .iter()
            .filter(|(id, m)| stale(&id.to_bytes(), m.key()))
            .map(|(id, m)| m.entry(id));
        within(budget, own.into_iter().chain(others))
    }

    /// This agent's entry and those of `k` live members, from the `start`th on (coming round):
    /// what a newcomer is answered, so that it asks the whole mesh of a few members rather
    /// than of the one it was given (which every newcomer was given too).
    pub fn sample(&self, k: usize, start: usize) -> Vec<Entry> {
        let live = &self.ring;
        let start = if live.is_empty() {
            0
        } else {
            start % live.len()
        };
        let others = live
            .iter()
            .cycle()
            .skip(start)
            .take(k.min(live.len()))
            .filter_map(|id| self.entry_of(id));
        self.own_entry().into_iter().chain(others).collect()
    }

    /// The entries that are news here, as they stand now, in about `budget` bytes (at least
    /// one): to be passed on, once more each. Each goes in full the first time, and then
    /// without its catalogue (most peers have it by then; one that does not asks for it).
    pub fn news(&mut self, budget: usize) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut used = 0;
        for id in &self.news {
            let (Some(m), Some((left, full))) = (self.list.get(id), self.queued.get_mut(id)) else {
                self.queued.insert(*id, (0, true));
                continue;
            };
            let entry = if *full { m.header(id) } else { m.entry(id) };
            let size = size(&entry);
            if !out.is_empty() && used + size > budget {
                break;
            }
            used += size;
            out.push(entry);
            *left = left.saturating_sub(1);
            *full = true;
        }
        let queued = &mut self.queued;
        self.news.retain(|id| match queued.get(id) {
            Some((0, _)) | None => {
                queued.remove(id);
                false
            }
            Some(_) => true,
        });
        out
    }

    /// Whether entries wait to be passed on.
    pub fn has_news(&self) -> bool {
        !self.news.is_empty()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use armonic_lifecycle::info::Info;
    use armonic_proto::LifecycleEntry;
    use std::collections::HashSet;

    /// The catalogue of location `name` at `version`: one lifecycle, `WebServer`.
    pub(crate) fn catalogue(name: &str, version: u64) -> Catalogue {
        Catalogue {
            info: Info {
                name: name.into(),
                os_type: "debian".into(),
                os_release: None,
                version: "0.1.0".into(),
                public_ip: name.into(),
            },
            version,
            lifecycles: std::sync::Arc::new(vec![LifecycleEntry {
                name: "WebServer".into(),
                states: vec!["Active".into()],
                provides: vec!["Active/start".into()],
                current: None,
            }]),
        }
    }

    const EPOCH: u64 = 1_800_000_000_000;

    fn addr(port: u16) -> Multiaddr {
        format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()
    }

    /// A member with its catalogue, as it says itself.
    fn member(name: &str, port: u16) -> (PeerId, Members) {
        let id = PeerId::random();
        let mut m = Members::new(id, EPOCH, 1 << 20);
        m.set_own(&catalogue(name, 1), &[addr(port)]);
        (id, m)
    }

    fn take(m: &mut Members, entries: Vec<Entry>) -> Taken {
        m.take(entries, None, true, Instant::now(), EPOCH, |_| false)
    }

    #[test]
    fn a_member_s_own_entry_reaches_another_with_its_catalogue_and_addresses() {
        let (a, mut ma) = member("web1", 1);
        let (_, mut mb) = member("db1", 2);
        let taken = take(&mut mb, vec![ma.own_news().unwrap()]);
        assert_eq!(taken.news, [a]);
        assert_eq!(taken.new, [a]);
        let held = mb.get(&a).unwrap();
        assert!(held.live());
        assert_eq!(held.catalogue.as_ref().unwrap().info.name, "web1");
        assert_eq!(held.addrs, [addr(1)]);
        assert!(ma.own_news().is_none(), "said once per change");
    }

    #[test]
    fn a_newer_stamp_replaces_an_older_one_and_an_older_is_ignored() {
        let (a, mut ma) = member("web1", 1);
        let (_, mut mb) = member("db1", 2);
        let first = ma.own_news().unwrap();
        ma.set_own(&catalogue("web1", 2), &[addr(1)]);
        let second = ma.own_news().unwrap();
        assert!(second.stamp > first.stamp);
        take(&mut mb, vec![second]);
        assert!(take(&mut mb, vec![first]).news.is_empty(), "stale");
        assert_eq!(mb.get(&a).unwrap().catalogue.as_ref().unwrap().version, 2);
    }

    #[test]
    fn an_unchanged_catalogue_makes_no_new_stamp() {
        let (_, mut ma) = member("web1", 1);
        let stamp = ma.own_stamp();
        ma.set_own(&catalogue("web1", 1), &[addr(1)]);
        assert_eq!(ma.own_stamp(), stamp);
    }

    /// Member `a` (web1), and two others (db1, app1) that took its entry, with the entry.
    fn known_to_two() -> (PeerId, Members, Members, Members, Entry) {
        let (a, mut ma) = member("web1", 1);
        let (_, mut mb) = member("db1", 2);
        let (_, mut mc) = member("app1", 3);
        let alive = ma.own_news().unwrap();
        take(&mut mb, vec![alive.clone()]);
        take(&mut mc, vec![alive.clone()]);
        (a, ma, mb, mc, alive)
    }

    #[test]
    fn down_at_the_same_stamp_outranks_alive_and_alive_again_needs_a_greater_stamp() {
        let (a, mut ma, mut mb, mut mc, alive) = known_to_two();
        assert!(mb.down(a, Instant::now()));
        let down = mb.news(usize::MAX);
        assert_eq!(down[0].status, Status::Down);
        assert_eq!(down[0].card, None, "a down entry carries no card");
        let taken = take(&mut mc, down.clone());
        assert_eq!(taken.gone, [a]);
        assert!(!mc.get(&a).unwrap().live());
        assert_eq!(
            mc.get(&a).unwrap().catalogue.as_ref().unwrap().info.name,
            "web1",
            "kept to be listed as not live"
        );
        assert!(take(&mut mc, vec![alive]).news.is_empty(), "old news");
        // The member hears it: it says itself alive again, with a greater stamp.
        let taken = take(&mut ma, down);
        assert!(taken.refuted);
        let again = ma.own_news().unwrap();
        assert_eq!(again.status, Status::Alive);
        take(&mut mc, vec![again]);
        assert!(mc.get(&a).unwrap().live());
    }

    #[test]
    fn a_member_said_down_that_this_agent_hears_from_itself_is_not_taken_for_down() {
        let (a, _, mut mb, mut mc, _) = known_to_two();
        mb.down(a, Instant::now());
        let down = mb.news(usize::MAX);
        let taken = mc.take(down, None, true, Instant::now(), EPOCH, |id| *id == a);
        assert!(taken.news.is_empty());
        assert!(mc.get(&a).unwrap().live());
    }

    #[test]
    fn a_stamp_far_in_the_future_is_a_lie_and_skipped() {
        let (a, mut ma) = member("web1", 1);
        let (_, mut mb) = member("db1", 2);
        let mut lie = ma.own_news().unwrap();
        lie.stamp.epoch = EPOCH + MAX_SKEW_MS + 1;
        assert!(take(&mut mb, vec![lie]).news.is_empty());
        assert!(mb.get(&a).is_none());
    }

    #[test]
    fn an_entry_of_an_agent_newer_than_its_own_makes_it_say_itself_anew() {
        let (a, mut ma) = member("web1", 1);
        let mut forged = ma.own_news().unwrap();
        forged.stamp.incarnation += 100;
        forged.card = Some(ByteBuf::from(b"\xa0".to_vec()));
        assert_eq!(forged.id, a.to_bytes());
        assert!(take(&mut ma, vec![forged.clone()]).refuted);
        let own = ma.own_news().unwrap();
        assert!(
            own.stamp > forged.stamp,
            "its own word outranks the forgery"
        );
    }

    #[test]
    fn bad_entries_are_skipped_and_the_others_taken() {
        let (_, mut mb) = member("db1", 2);
        let (a, mut ma) = member("web1", 1);
        let good = ma.own_news().unwrap();
        let mut no_catalogue = good.clone();
        no_catalogue.id = PeerId::random().to_bytes();
        no_catalogue.card = None;
        let mut garbage = good.clone();
        garbage.id = PeerId::random().to_bytes();
        garbage.card = Some(ByteBuf::from(b"not cbor".to_vec()));
        let mut bad_id = good.clone();
        bad_id.id = b"nobody".to_vec();
        let mut huge = good.clone();
        huge.id = PeerId::random().to_bytes();
        huge.card = Some(ByteBuf::from(vec![0; 2 << 20]));
        let taken = take(&mut mb, vec![no_catalogue, garbage, bad_id, huge, good]);
        assert_eq!(taken.news, [a]);
        assert_eq!(mb.len(), 1);
    }

    #[test]
    fn only_so_many_bytes_of_catalogues_are_held() {
        let (_, mut mb) = member("db1", 2);
        let mut big = catalogue("big", 1);
        big.info.os_type = "x".repeat(1 << 20);
        let entries: Vec<Entry> = (0..(MAX_HELD >> 20) + 5)
            .map(|_| {
                let mut m = Members::new(PeerId::random(), EPOCH, 2 << 20);
                m.set_own(&big, &[]);
                m.own_news().unwrap()
            })
            .collect();
        mb.max_catalogue = 2 << 20;
        let taken = take(&mut mb, entries);
        assert!(taken.news.len() < (MAX_HELD >> 20), "{}", taken.news.len());
        assert!(mb.held <= MAX_HELD);
    }

    #[test]
    fn only_so_many_members_are_held() {
        let (_, mut mb) = member("db1", 2);
        let template = member("web", 1).1.own_news().unwrap();
        let entries: Vec<Entry> = (0..MAX_MEMBERS + 5)
            .map(|_| Entry {
                id: PeerId::random().to_bytes(),
                ..template.clone()
            })
            .collect();
        take(&mut mb, entries);
        assert_eq!(mb.len(), MAX_MEMBERS);
    }

    #[test]
    fn an_answer_holds_only_what_the_asker_lacks_or_holds_older() {
        let (a, mut ma) = member("web1", 1);
        let (b, mut mb) = member("db1", 2);
        let (c, mut mc) = member("app1", 3);
        let ea = ma.own_news().unwrap();
        let ec = mc.own_news().unwrap();
        take(&mut mb, vec![ea.clone(), ec]);
        // The asker holds a's entry already, and its own.
        let (_, mut asker) = member("new1", 4);
        take(&mut asker, vec![ea]);
        let answer = mb.answer(&asker.summary(), usize::MAX);
        let ids: HashSet<Vec<u8>> = answer.iter().map(|e| e.id.clone()).collect();
        assert_eq!(ids, HashSet::from([b.to_bytes(), c.to_bytes()]));
        assert_eq!(answer[0].id, b.to_bytes(), "its own first");
        take(&mut asker, answer);
        assert!(mb.answer(&asker.summary(), usize::MAX).is_empty());
        let _ = a;
    }

    #[test]
    fn a_newcomer_is_answered_with_a_few_live_members_from_where_it_is_told() {
        let (b, mut mb) = member("db1", 2);
        let entries: Vec<Entry> = (0..10)
            .map(|i| member(&format!("m{i}"), 10 + i).1.own_news().unwrap())
            .collect();
        take(&mut mb, entries);
        let first = mb.sample(3, 0);
        assert_eq!(first.len(), 4, "its own and 3");
        assert_eq!(first[0].id, b.to_bytes());
        let other = mb.sample(3, 5);
        assert_ne!(first[1..], other[1..], "another start, others");
        assert_eq!(mb.sample(30, 7).len(), 11, "no more than it holds");
    }

    #[test]
    fn an_answer_stops_at_its_budget_but_always_holds_one_entry() {
        let (_, mut mb) = member("db1", 2);
        let entries: Vec<Entry> = (0..10)
            .map(|i| member(&format!("m{i}"), 10 + i).1.own_news().unwrap())
            .collect();
        take(&mut mb, entries);
        let one = size(&mb.own_entry().unwrap());
        assert_eq!(mb.answer(&[], 1).len(), 1);
        assert_eq!(mb.answer(&[], one * 3).len(), 3);
        assert_eq!(mb.answer(&[], usize::MAX).len(), 11);
    }

    #[test]
    fn news_is_passed_on_a_few_times_as_it_stands_when_asked() {
        let (a, mut ma) = member("web1", 1);
        let (_, mut mb) = member("db1", 2);
        take(&mut mb, vec![ma.own_news().unwrap()]);
        ma.set_own(&catalogue("web1", 7), &[addr(1)]);
        take(&mut mb, vec![ma.own_news().unwrap()]);
        assert!(mb.has_news());
        let mut rounds = 0;
        while mb.has_news() {
            let news = mb.news(usize::MAX);
            assert_eq!(news.len(), 1, "one entry, though it changed twice");
            assert_eq!(news[0].id, a.to_bytes());
            assert_eq!(news[0].stamp, ma.own_stamp(), "as it stands");
            rounds += 1;
        }
        assert_eq!(rounds, 2, "log2 of the members, at least 2");
        assert!(mb.news(usize::MAX).is_empty());
    }

    #[test]
    fn news_passed_on_again_carries_no_catalogue_and_whoever_lacks_it_asks_for_it() {
        let (a, mut ma) = member("web1", 1);
        let (_, mut mb) = member("db1", 2);
        let (_, mut mc) = member("app1", 3);
        take(&mut mb, vec![ma.own_news().unwrap()]);
        let first = mb.news(usize::MAX).pop().unwrap();
        assert!(first.card.is_some(), "in full the first time");
        let header = mb.news(usize::MAX).pop().unwrap();
        assert_eq!(header.card, None);
        let taken = take(&mut mc, vec![header]);
        assert_eq!(taken.wanted, [a]);
        assert!(
            taken.news.is_empty() && mc.get(&a).is_none(),
            "not held without it"
        );
        let full = mb.entries(&[ByteBuf::from(a.to_bytes())], usize::MAX);
        assert!(full[0].card.is_some());
        assert_eq!(take(&mut mc, full).news, [a]);
        assert!(mc.get(&a).unwrap().live());
    }

    /// A member whose catalogue has a shape of its own: lifecycle `Proxy`.
    fn proxy(name: &str, port: u16) -> (PeerId, Members) {
        let id = PeerId::random();
        let mut m = Members::new(id, EPOCH, 1 << 20);
        let mut c = catalogue(name, 1);
        c.lifecycles = std::sync::Arc::new(vec![LifecycleEntry {
            name: "Proxy".into(),
            states: vec!["Active".into()],
            provides: vec![],
            current: Some("Active".into()),
        }]);
        m.set_own(&c, &[addr(port)]);
        (id, m)
    }

    fn asked(hashes: &[Hash]) -> Vec<ByteBuf> {
        hashes.iter().map(|h| ByteBuf::from(h.to_vec())).collect()
    }

    #[test]
    fn an_entry_whose_shape_is_not_held_waits_for_it_and_is_taken_once_it_comes() {
        let (_, mut mb) = member("db1", 2);
        let (a, mut ma) = proxy("proxy1", 1);
        let (c, mut mc) = proxy("proxy2", 3);
        let from_a = mb.take(
            vec![ma.own_news().unwrap()],
            Some(a),
            true,
            Instant::now(),
            EPOCH,
            |_| false,
        );
        assert!(from_a.news.is_empty(), "not before its shape");
        assert_eq!(from_a.shapes.len(), 1, "its shape is asked for");
        assert!(mb.get(&a).is_none());
        let from_c = take(&mut mb, vec![mc.own_news().unwrap()]);
        assert!(from_c.shapes.is_empty(), "asked for once, whoever names it");

        let shapes = ma.shapes(&asked(&from_a.shapes), usize::MAX);
        let taken = mb.take_shapes(&from_a.shapes, shapes, Instant::now(), EPOCH, |_| false);
        let mut news = taken.news.clone();
        news.sort();
        let mut both = vec![a, c];
        both.sort();
        assert_eq!(news, both, "both waiting entries are taken");
        let held = mb.get(&a).unwrap();
        assert!(held.live());
        assert_eq!(held.catalogue.as_ref().unwrap().lifecycles[0].name, "Proxy");
        assert!(mb.has_news(), "passed on as they came");
        // The next member with that shape is taken at once.
        let (d, mut md) = proxy("proxy3", 4);
        assert_eq!(take(&mut mb, vec![md.own_news().unwrap()]).news, [d]);
    }

    #[test]
    fn a_shape_other_than_the_one_asked_for_is_not_kept_and_the_entry_asks_again_next_time() {
        let (_, mut mb) = member("db1", 2);
        let (a, mut ma) = proxy("proxy1", 1);
        let entry = ma.own_news().unwrap();
        let first = take(&mut mb, vec![entry.clone()]);
        assert_eq!(first.shapes.len(), 1);
        // A peer answers with another shape than the one named (its own, say).
        let (_, web) = member("web1", 5);
        let other = web.shapes(&asked(&[web.own.shape.unwrap()]), usize::MAX);
        let taken = mb.take_shapes(&first.shapes, other, Instant::now(), EPOCH, |_| false);
        assert!(taken.news.is_empty());
        assert!(mb.get(&a).is_none());
        assert_eq!(mb.waiting_count, 0, "the entry waits no more");
        // No answer at all (the question failed) is the same.
        let again = take(&mut mb, vec![entry.clone()]);
        assert_eq!(again.shapes, first.shapes, "asked for anew");
        assert!(
            mb.take_shapes(&again.shapes, Vec::new(), Instant::now(), EPOCH, |_| false)
                .news
                .is_empty()
        );
        assert_eq!(take(&mut mb, vec![entry]).shapes, first.shapes);
    }

    #[test]
    fn only_shapes_held_are_given_and_a_shape_not_asked_for_is_not_kept() {
        let (_, mb) = member("db1", 2);
        let (_, mut ma) = proxy("proxy1", 1);
        let mine = mb.own.shape.unwrap();
        let theirs = ma.own.shape.unwrap();
        assert_eq!(mb.shapes(&asked(&[theirs, mine]), usize::MAX).len(), 1);
        assert!(
            mb.shapes(&[ByteBuf::from(b"short".to_vec())], usize::MAX)
                .is_empty()
        );
        let unasked = ma.shapes(&asked(&[theirs]), usize::MAX);
        let mut mb = mb;
        mb.take_shapes(&[theirs], unasked, Instant::now(), EPOCH, |_| false);
        assert!(!mb.shapes.has(&theirs), "no entry waited for it");
        let _ = ma.own_news();
    }

    #[test]
    fn the_ring_holds_the_live_members_in_peer_id_order() {
        let (_, mut mb) = member("db1", 2);
        let mut ids = Vec::new();
        for port in 0..20 {
            let (id, mut m) = member("web", port);
            take(&mut mb, vec![m.own_news().unwrap()]);
            ids.push(id);
        }
        ids.sort();
        assert_eq!(mb.ring(), ids.as_slice());
        mb.down(ids[3], Instant::now());
        ids.remove(3);
        assert_eq!(mb.ring(), ids.as_slice(), "a member said down leaves it");
    }

    #[test]
    fn agents_holding_the_same_compare_equal_and_a_difference_is_found_both_ways() {
        let (a, mut ma) = member("web1", 1);
        let (b, mut mb) = member("db1", 2);
        let others: Vec<Entry> = (0..40)
            .map(|port| member("web", 100 + port).1.own_news().unwrap())
            .collect();
        take(&mut ma, others.clone());
        take(&mut mb, others.clone());
        take(&mut ma, vec![mb.own_news().unwrap()]);
        take(&mut mb, vec![ma.own_news().unwrap()]);
        assert_eq!(
            ma.digests(),
            mb.digests(),
            "the same members, the same digests"
        );
        assert_eq!(mb.compare(&ma.digests(), 0), (Vec::new(), Vec::new()));

        // b hears of a newer entry of one member, and a new member; a takes one down.
        let (c, mut mc) = member("web9", 9);
        take(&mut mb, vec![mc.own_news().unwrap()]);
        let changed = PeerId::from_bytes(&others[7].id).unwrap();
        let mut newer = others[7].clone();
        newer.stamp.incarnation += 1;
        take(&mut mb, vec![newer]);
        let gone = PeerId::from_bytes(&others[20].id).unwrap();
        ma.down(gone, Instant::now());
        assert_ne!(ma.digests(), mb.digests());

        // a asks b to compare: it wants what b holds newer, and gives what it holds newer.
        let (buckets, have) = mb.compare(&ma.digests(), 5);
        assert!(!buckets.is_empty() && buckets.len() <= 3, "{buckets:?}");
        let (mut want, give) = ma.compared(&buckets, &have);
        want.sort();
        let mut expected = vec![c, changed];
        expected.sort();
        assert_eq!(want, expected);
        assert_eq!(give, [gone]);
        let ids: Vec<ByteBuf> = want.iter().map(|id| ByteBuf::from(id.to_bytes())).collect();
        take(&mut ma, mb.entries(&ids, usize::MAX));
        let ids = [ByteBuf::from(gone.to_bytes())];
        take(&mut mb, ma.entries(&ids, usize::MAX));
        assert_eq!(ma.digests(), mb.digests(), "equal again");
        let _ = (a, b);
    }

    #[test]
    fn digests_that_do_not_read_as_such_are_answered_with_nothing() {
        let (_, mb) = member("db1", 2);
        assert_eq!(mb.compare(&[1, 2, 3], 0), (Vec::new(), Vec::new()));
        let (want, give) = mb.compared(&[u32::MAX, 7], &[]);
        assert!(want.is_empty());
        assert!(give.len() <= 1, "at most its own entry, if in bucket 7");
    }

    #[test]
    fn entries_taken_from_an_answer_are_not_passed_on() {
        let (_, mut ma) = member("web1", 1);
        let (_, mut mb) = member("db1", 2);
        let taken = mb.take(
            vec![ma.own_news().unwrap()],
            None,
            false,
            Instant::now(),
            EPOCH,
            |_| false,
        );
        assert_eq!(taken.news.len(), 1);
        assert!(!mb.has_news());
        // But a member's own entry, from itself, is.
        let (a, mut ma) = member("web1", 1);
        mb.take(
            vec![ma.own_news().unwrap()],
            Some(a),
            false,
            Instant::now(),
            EPOCH,
            |_| false,
        );
        assert!(mb.has_news());
    }
}
