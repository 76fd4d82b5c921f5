//! The handle: what the rest of the agent holds of the mesh. Clonable; talks to the event
//! loop through a bounded channel, reads the view directly, opens call streams itself.

use std::sync::Arc;

use armonic_lifecycle::Address;
use armonic_lifecycle::info::Info;
use armonic_proto::serve::{ReadRequest, ReadStream};
use armonic_proto::{ApiError, Catalogue, Endpoint, PeerInfo};
use tokio::sync::{mpsc, oneshot};

use crate::calls::{self, Remote};
use crate::event_loop::Command;
use crate::links::Links;
use crate::view::View;

/// A clonable handle on a running mesh node.
#[derive(Clone)]
pub struct Handle {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub commands: mpsc::Sender<Command>,
    pub links: Arc<Links>,
}

impl Handle {
    fn view(&self) -> std::sync::RwLockReadGuard<'_, View> {
        self.inner.links.view()
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> String {
        self.inner.links.peer_id()
    }

    /// When location `name` is a member known to this node but not live: why it cannot be
    /// reached.
    pub fn gone(&self, name: &str) -> Option<ApiError> {
        self.inner.links.gone(name)
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

    /// What this node holds of the mesh, and what keeping it cost.
    pub fn stats(&self) -> crate::MeshStats {
        self.view().stats()
    }

    /// The live locations of the mesh (not this node's), by name.
    pub fn live(&self) -> Vec<Info> {
        self.view().live()
    }

    /// The catalogue of live location `name` (not this node's), if this node knows it: one
    /// location's, without copying every other.
    pub fn catalogue(&self, name: &str) -> Option<Catalogue> {
        self.view().catalogue_of(name)
    }

    /// The live locations whose catalogue offers a provide `xpath` matches, by name.
    pub fn offering(&self, xpath: &Address) -> Vec<String> {
        self.view().offering(xpath)
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
            mesh: Arc::clone(&self.inner.links),
        })
    }

    /// Reads the journal of location `name`.
    pub fn read_journal(&self, name: &str, read: ReadRequest) -> ReadStream {
        calls::read_journal(&self.inner.links, name, read)
    }

    /// Stops the node.
    pub async fn shutdown(&self) {
        let _ = self.inner.commands.send(Command::Shutdown).await;
    }
}
