//! The handle: what the rest of the agent holds of the mesh. Clonable; talks to the event
//! loop through a bounded channel, reads the view directly, opens call streams itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use armonic_lifecycle::Address;
use armonic_lifecycle::info::Info;
use armonic_proto::client::Session;
use armonic_proto::serve::{ReadRequest, ReadStream};
use armonic_proto::{ApiError, Catalogue, Endpoint, PeerInfo};
use libp2p::PeerId;
use tokio::sync::{mpsc, oneshot};

use crate::calls::{self, Conn, Remote};
use crate::event_loop::Command;
use crate::view::View;

/// A clonable handle on a running mesh node.
#[derive(Clone)]
pub struct Handle {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub commands: mpsc::Sender<Command>,
    pub view: Arc<RwLock<View>>,
    pub local: PeerId,
    pub control: libp2p_stream::Control,
    pub query_timeout: Duration,
    pub reattach_for: Duration,
    /// Call streams kept open between calls, per peer, with when each was last used.
    pub idle: Mutex<HashMap<PeerId, Vec<Kept>>>,
}

/// A call stream kept between calls, and when it was last used.
pub(crate) type Kept = (Instant, Session<Conn>);

/// Most call streams kept open to one peer between calls.
const IDLE_PER_PEER: usize = 4;

/// How long a call stream is kept unused.
const IDLE_FOR: Duration = Duration::from_secs(30);

impl Handle {
    fn view(&self) -> std::sync::RwLockReadGuard<'_, View> {
        self.inner
            .view
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> String {
        self.inner.local.to_string()
    }

    /// Every member known, live or not, and this node (marked `local`).
    pub fn peers(&self) -> Vec<PeerInfo> {
        let view = self.view();
        let mut out = view.peers();
        if let Some(c) = &view.local {
            out.push(PeerInfo {
                name: Some(c.info.name.clone()),
                peer_id: self.peer_id(),
                addresses: Vec::new(),
                catalogue: Some(c.clone()),
                last_seen_secs: 0,
                live: true,
                local: true,
            });
            out.sort_by(|a, b| (&a.name, &a.peer_id).cmp(&(&b.name, &b.peer_id)));
        }
        out
    }

    /// The live locations of the mesh (not this node's), by name.
    pub fn live(&self) -> Vec<Info> {
        self.view().live()
    }

    /// The live locations whose catalogue offers a provide `xpath` matches, by name.
    pub fn offering(&self, xpath: &Address) -> Vec<String> {
        self.view().offering(xpath)
    }

    /// When location `name` is a member known to this node but not live: why it cannot be
    /// reached.
    pub fn gone(&self, name: &str) -> Option<ApiError> {
        let view = self.view();
        if view.peer_of(name).is_some() {
            return None;
        }
        view.last_seen(name).map(|secs| ApiError::Unreachable {
            location: name.to_owned(),
            message: format!("it has not answered for {secs} s"),
        })
    }

    /// The addresses this node listens on.
    pub async fn listen_addrs(&self) -> Vec<String> {
        let (tx, rx) = oneshot::channel();
        if self
            .inner
            .commands
            .send(Command::ListenAddrs(tx))
            .await
            .is_err()
        {
            return Vec::new();
        }
        rx.await
            .unwrap_or_default()
            .into_iter()
            .map(|a| a.to_string())
            .collect()
    }

    /// Tells the mesh this node's catalogue changed.
    pub async fn set_catalogue(&self, catalogue: Catalogue) {
        let _ = self
            .inner
            .commands
            .send(Command::SetCatalogue(Box::new(catalogue)))
            .await;
    }

    /// Location `name` of the mesh as an [`Endpoint`]: each call goes on a stream of its
    /// own; a call whose stream breaks is re-attached to. Its streams need this node's
    /// runtime: poll them on it, or on a thread that entered it.
    pub fn endpoint(&self, name: &str) -> Arc<dyn Endpoint> {
        Arc::new(Remote {
            name: name.to_owned(),
            mesh: self.clone(),
        })
    }

    /// Reads the journal of location `name`.
    pub fn read_journal(&self, name: &str, read: ReadRequest) -> ReadStream {
        calls::read_journal(self, name, read)
    }

    /// Stops the node.
    pub async fn shutdown(&self) {
        let _ = self.inner.commands.send(Command::Shutdown).await;
    }

    /// The live peer of location `name`.
    pub(crate) fn live_peer(&self, name: &str) -> Result<PeerId, ApiError> {
        if let Some(p) = self.view().peer_of(name) {
            return Ok(p);
        }
        Err(self.gone(name).unwrap_or_else(|| ApiError::Unreachable {
            location: name.to_owned(),
            message: "no live agent of the mesh has this name".into(),
        }))
    }

    /// A call stream to `peer` kept from an earlier call, if one was.
    pub(crate) fn reuse(&self, peer: PeerId) -> Option<Session<Conn>> {
        let mut idle = self
            .inner
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let kept = idle.get_mut(&peer)?;
        while let Some((since, session)) = kept.pop() {
            if since.elapsed() < IDLE_FOR {
                return Some(session);
            }
        }
        None
    }

    /// Keeps `session`, whose exchange is over, for the next call to `peer`.
    pub(crate) fn keep(&self, peer: PeerId, session: Session<Conn>) {
        let mut idle = self
            .inner
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let kept = idle.entry(peer).or_default();
        kept.retain(|(since, _)| since.elapsed() < IDLE_FOR);
        if kept.len() < IDLE_PER_PEER {
            kept.push((Instant::now(), session));
        }
    }

    /// A new call stream to `peer`, dialing it if needed.
    pub(crate) async fn open(&self, peer: PeerId) -> Result<Conn, String> {
        let mut control = self.inner.control.clone();
        control
            .open_stream(peer, calls::PROTOCOL)
            .await
            .map(Conn)
            .map_err(|e| e.to_string())
    }

    /// `peer` answered on a stream: it is alive.
    pub(crate) fn heard(&self, peer: PeerId) {
        self.inner
            .view
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .heard(peer);
    }

    /// The location name of `peer`, once its catalogue is known.
    pub(crate) fn name_of(&self, peer: PeerId) -> Option<String> {
        self.view()
            .peers
            .get(&peer)
            .and_then(|p| p.catalogue.as_ref().map(|c| c.info.name.clone()))
    }

    /// This node's location name, once its catalogue is said.
    pub(crate) fn local_name(&self) -> Option<String> {
        self.view().local.as_ref().map(|c| c.info.name.clone())
    }
}
