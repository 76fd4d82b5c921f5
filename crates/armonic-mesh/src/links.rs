//! The links of this node to the others: the view it reads, the call streams it opens and
//! keeps between calls. What calls and handles both stand on.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use armonic_proto::ApiError;
use armonic_proto::client::Session;
use futures::{AsyncRead, AsyncWrite};
use libp2p::{PeerId, StreamProtocol};

use crate::protocol;
use crate::view::View;

/// The protocol of call streams.
pub(crate) const PROTOCOL: StreamProtocol = StreamProtocol::new(protocol::CALLS);

/// A stream to or from another agent.
pub(crate) struct Conn(pub libp2p::Stream);

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

/// A call stream kept between calls, and when it was last used.
pub(crate) type Kept = (Instant, Session<Conn>);

/// Most call streams kept open to one peer between calls.
const IDLE_PER_PEER: usize = 4;

/// How long a call stream is kept unused.
const IDLE_FOR: Duration = Duration::from_secs(30);

/// What this node knows of the others and how it reaches them.
pub(crate) struct Links {
    pub view: Arc<RwLock<View>>,
    pub local: PeerId,
    pub control: libp2p_stream::Control,
    pub query_timeout: Duration,
    pub reattach_for: Duration,
    /// Call streams kept open between calls, per peer, with when each was last used.
    pub idle: Mutex<HashMap<PeerId, Vec<Kept>>>,
    /// The event loop, asked to dial a peer a call goes to that this node is not connected
    /// with (weak: the loop stops once every handle is gone).
    pub commands: tokio::sync::mpsc::WeakSender<crate::event_loop::Command>,
}

impl Links {
    pub fn view(&self) -> std::sync::RwLockReadGuard<'_, View> {
        crate::view::read(&self.view)
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> String {
        self.local.to_string()
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

    /// The live peer of location `name`.
    pub fn live_peer(&self, name: &str) -> Result<PeerId, ApiError> {
        if let Some(p) = self.view().peer_of(name) {
            return Ok(p);
        }
        Err(self.gone(name).unwrap_or_else(|| ApiError::Unreachable {
            location: name.to_owned(),
            message: "no live agent of the mesh has this name".into(),
        }))
    }

    /// A call stream to `peer` kept from an earlier call, if one was.
    pub fn reuse(&self, peer: PeerId) -> Option<Session<Conn>> {
        let mut idle = self
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
    pub fn keep(&self, peer: PeerId, session: Session<Conn>) {
        let mut idle = self
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
        let connected = {
            let mut view = crate::view::write(&self.view);
            view.calling(peer);
            view.peers.get(&peer).is_some_and(|p| p.connections > 0)
        };
        // The loop dials it: the stream behaviour drops a dial asked while another of its own
        // is being asked, so many calls at once to peers not connected would wait in vain.
        if !connected && let Some(commands) = self.commands.upgrade() {
            let _ = commands.try_send(crate::event_loop::Command::Dial(peer));
        }
        let mut control = self.control.clone();
        control
            .open_stream(peer, PROTOCOL)
            .await
            .map(Conn)
            .map_err(|e| e.to_string())
    }

    /// `peer` answered on a stream: it is alive.
    pub fn heard(&self, peer: PeerId) {
        crate::view::write(&self.view).heard(peer);
    }

    /// The location name of `peer`, once its catalogue is known.
    pub fn name_of(&self, peer: PeerId) -> Option<String> {
        self.view()
            .members
            .get(&peer)
            .and_then(|m| m.catalogue.as_ref().map(|c| c.info.name.clone()))
    }

    /// This node's location name, once its catalogue is said.
    pub fn local_name(&self) -> Option<String> {
        self.view().local.as_ref().map(|c| c.info.name.clone())
    }
}
