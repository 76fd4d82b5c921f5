//! Catalogues shared by content. A catalogue is split in two: its *shape* (each lifecycle's
//! name, states and provides), which every agent running the same lifecycles shares, and its
//! *card* (the agent's location, the catalogue's version, each lifecycle's current state, and
//! the hash of its shape), which is the agent's own. Entries carry cards, a few hundred bytes;
//! a shape is fetched once, by its hash, from the peer that passed on a card naming it, and
//! checked against that hash. A thousand agents running the same lifecycles pass around a
//! thousand cards and one shape, not a thousand catalogues, and each agent holds one copy of
//! the lifecycles of all members standing in the same states.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use armonic_lifecycle::info::Info;
use armonic_proto::{Catalogue, LifecycleEntry};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};

/// A shape's hash: SHA-256 of its encoding (a peer cannot pass off one shape for another).
pub(crate) type Hash = [u8; 32];

/// The hash of `bytes`.
pub(crate) fn hash(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

/// What an entry carries of its member's catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Card {
    /// The member's location.
    pub info: Info,
    /// The catalogue's version.
    pub version: u64,
    /// The hash of its shape.
    pub shape: ByteBuf,
    /// The current state of each lifecycle of the shape, in its order.
    pub current: Vec<Option<String>>,
}

/// One lifecycle of a shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Lifecycle {
    name: String,
    states: Vec<String>,
    provides: Vec<String>,
}

/// `catalogue` split: its card and its shape, both encoded, and the shape's hash.
pub(crate) fn split(catalogue: &Catalogue) -> (Vec<u8>, Hash, Vec<u8>) {
    let shape: Vec<Lifecycle> = catalogue
        .lifecycles
        .iter()
        .map(|l| Lifecycle {
            name: l.name.clone(),
            states: l.states.clone(),
            provides: l.provides.clone(),
        })
        .collect();
    let mut raw_shape = Vec::new();
    // Encoding plain structs into memory cannot fail.
    let _ = ciborium::into_writer(&shape, &mut raw_shape);
    let shape_hash = hash(&raw_shape);
    let card = Card {
        info: catalogue.info.clone(),
        version: catalogue.version,
        shape: ByteBuf::from(shape_hash.to_vec()),
        current: catalogue
            .lifecycles
            .iter()
            .map(|l| l.current.clone())
            .collect(),
    };
    let mut raw_card = Vec::new();
    let _ = ciborium::into_writer(&card, &mut raw_card);
    (raw_card, shape_hash, raw_shape)
}

/// Why a card makes no catalogue.
#[derive(Debug, PartialEq)]
pub(crate) enum Unmade {
    /// Its shape is not held here: to be fetched.
    Unknown(Hash),
    /// It does not read, or does not fit its shape.
    Bad,
}

/// A shape held.
#[derive(Debug)]
struct Held {
    raw: ByteBuf,
    lifecycles: Vec<Lifecycle>,
    /// The lifecycles made of it, by current states: members standing in the same states
    /// share one copy, kept while one of them holds it.
    made: HashMap<Vec<Option<String>>, Weak<Vec<LifecycleEntry>>>,
}

/// The shapes an agent holds, by hash.
#[derive(Debug, Default)]
pub(crate) struct Shapes {
    held: HashMap<Hash, Held>,
    bytes: usize,
}

impl Shapes {
    /// Whether shape `hash` is held.
    pub fn has(&self, hash: &Hash) -> bool {
        self.held.contains_key(hash)
    }

    /// Shape `hash`, encoded, if held.
    pub fn raw(&self, hash: &Hash) -> Option<&ByteBuf> {
        self.held.get(hash).map(|h| &h.raw)
    }

    /// Bytes of shapes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// How many shapes are held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Keeps the shape encoded as `raw`, if it reads: its hash.
    pub fn insert(&mut self, raw: ByteBuf) -> Option<Hash> {
        let hash = hash(&raw);
        if self.held.contains_key(&hash) {
            return Some(hash);
        }
        let lifecycles: Vec<Lifecycle> = ciborium::from_reader(raw.as_slice()).ok()?;
        self.bytes += raw.len();
        self.held.insert(
            hash,
            Held {
                raw,
                lifecycles,
                made: HashMap::new(),
            },
        );
        Some(hash)
    }

    /// Drops the shapes `keep` does not keep.
    pub fn sweep(&mut self, keep: impl Fn(&Hash) -> bool) {
        let bytes = &mut self.bytes;
        self.held.retain(|hash, held| {
            let kept = keep(hash);
            if !kept {
                *bytes -= held.raw.len();
            }
            kept
        });
    }

    /// The catalogue `card` describes, and its shape's hash.
    pub fn catalogue(&mut self, card: Card) -> Result<(Catalogue, Hash), Unmade> {
        let hash: Hash = card.shape.as_slice().try_into().map_err(|_| Unmade::Bad)?;
        let held = self.held.get_mut(&hash).ok_or(Unmade::Unknown(hash))?;
        if card.current.len() != held.lifecycles.len() {
            return Err(Unmade::Bad);
        }
        let lifecycles = match held.made.get(&card.current).and_then(Weak::upgrade) {
            Some(made) => made,
            None => {
                let made = Arc::new(
                    held.lifecycles
                        .iter()
                        .zip(&card.current)
                        .map(|(l, current)| LifecycleEntry {
                            name: l.name.clone(),
                            states: l.states.clone(),
                            provides: l.provides.clone(),
                            current: current.clone(),
                        })
                        .collect(),
                );
                if held.made.len() >= 64 {
                    held.made.retain(|_, w| w.strong_count() > 0);
                }
                held.made.insert(card.current, Arc::downgrade(&made));
                made
            }
        };
        let catalogue = Catalogue {
            info: card.info,
            version: card.version,
            lifecycles,
        };
        Ok((catalogue, hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::members::tests::catalogue;

    fn card(raw: &[u8]) -> Card {
        ciborium::from_reader(raw).unwrap()
    }

    #[test]
    fn a_catalogue_split_and_made_again_is_the_same_catalogue() {
        let mut c = catalogue("web1", 4);
        Arc::make_mut(&mut c.lifecycles)[0].current = Some("Active".into());
        let (raw_card, shape, raw_shape) = split(&c);
        let mut shapes = Shapes::default();
        assert_eq!(
            shapes.catalogue(card(&raw_card)),
            Err(Unmade::Unknown(shape)),
            "no catalogue before its shape"
        );
        assert_eq!(shapes.insert(ByteBuf::from(raw_shape)), Some(shape));
        let (made, hash) = shapes.catalogue(card(&raw_card)).unwrap();
        assert_eq!(made, c);
        assert_eq!(hash, shape);
    }

    #[test]
    fn members_with_the_same_lifecycles_share_one_shape_and_in_the_same_states_one_copy() {
        let (card1, shape1, raw) = split(&catalogue("web1", 1));
        let (card2, shape2, _) = split(&catalogue("web2", 9));
        assert_eq!(
            shape1, shape2,
            "the location and version are not the shape's"
        );
        let mut moved = catalogue("web3", 1);
        Arc::make_mut(&mut moved.lifecycles)[0].current = Some("Active".into());
        let (card3, shape3, _) = split(&moved);
        assert_eq!(shape1, shape3, "nor are the current states");
        assert!(card1.len() < 200, "a card is small: {} bytes", card1.len());

        let mut shapes = Shapes::default();
        shapes.insert(ByteBuf::from(raw));
        let (a, _) = shapes.catalogue(card(&card1)).unwrap();
        let (b, _) = shapes.catalogue(card(&card2)).unwrap();
        let (c, _) = shapes.catalogue(card(&card3)).unwrap();
        assert!(Arc::ptr_eq(&a.lifecycles, &b.lifecycles));
        assert!(!Arc::ptr_eq(&a.lifecycles, &c.lifecycles));
        assert_eq!(b.info.name, "web2");
        assert_eq!(c.lifecycles[0].current.as_deref(), Some("Active"));
    }

    #[test]
    fn a_card_that_does_not_fit_its_shape_makes_no_catalogue() {
        let (raw_card, _, raw_shape) = split(&catalogue("web1", 1));
        let mut shapes = Shapes::default();
        shapes.insert(ByteBuf::from(raw_shape));
        let mut long = card(&raw_card);
        long.current.push(None);
        assert_eq!(shapes.catalogue(long), Err(Unmade::Bad));
        let mut short_hash = card(&raw_card);
        short_hash.shape = ByteBuf::from(vec![1, 2, 3]);
        assert_eq!(shapes.catalogue(short_hash), Err(Unmade::Bad));
    }

    #[test]
    fn a_shape_that_does_not_read_is_not_kept_and_swept_shapes_are_gone() {
        let mut shapes = Shapes::default();
        assert_eq!(shapes.insert(ByteBuf::from(b"not cbor".to_vec())), None);
        assert_eq!(shapes.len(), 0);
        let (_, shape, raw) = split(&catalogue("web1", 1));
        let size = raw.len();
        shapes.insert(ByteBuf::from(raw));
        assert_eq!(shapes.bytes(), size);
        shapes.sweep(|h| *h != shape);
        assert!(!shapes.has(&shape));
        assert_eq!(shapes.bytes(), 0);
    }
}
