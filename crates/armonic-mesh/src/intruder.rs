//! A member of the mesh that misbehaves, for tests of what an agent bears (feature
//! `intruder`): it has the swarm key, joins like any agent, then opens call streams and
//! holds them, each with a frame begun and never finished, or makes calls no agent of the
//! mesh would make (for another location than the one it asks).

use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId};

use crate::SwarmKey;

/// A member holding streams open to one agent.
pub struct Intruder {
    control: libp2p_stream::Control,
    peer: PeerId,
    held: Vec<libp2p::Stream>,
    /// The swarm's task: the streams live while it runs.
    task: tokio::task::JoinHandle<()>,
}

impl Intruder {
    /// Joins the mesh of `key` through the agent listening at `addr` (`/ip4/…/tcp/…`).
    pub async fn join(key: &SwarmKey, addr: &str) -> Result<Intruder, String> {
        let identity = libp2p::identity::Keypair::generate_ed25519();
        let transport =
            crate::swarm::transport(&identity, key.0, 4096).map_err(|e| e.to_string())?;
        let behaviour = libp2p_stream::Behaviour::new();
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(identity)
            .with_tokio()
            .with_other_transport(|_| transport)
            .map_err(|e| e.to_string())?
            .with_behaviour(|_| behaviour)
            .map_err(|e| e.to_string())?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
            .build();
        let control = swarm.behaviour().new_control();
        let addr: Multiaddr = addr.parse().map_err(|e| format!("{e}"))?;
        swarm.dial(addr).map_err(|e| e.to_string())?;
        let peer = loop {
            match swarm.select_next_some().await {
                SwarmEvent::ConnectionEstablished { peer_id, .. } => break peer_id,
                SwarmEvent::OutgoingConnectionError { error, .. } => return Err(error.to_string()),
                _ => {}
            }
        };
        let task = tokio::spawn(async move {
            loop {
                swarm.select_next_some().await;
            }
        });
        Ok(Intruder {
            control,
            peer,
            held: Vec::new(),
            task,
        })
    }

    /// Opens `n` call streams; on each sends a greeting and the beginning of a frame
    /// announcing `announced` bytes, of which it sends all but the last; holds them. Returns
    /// how many streams the agent refused at once (it said why, or closed them).
    pub async fn hold(&mut self, n: usize, announced: u32) -> usize {
        let hello = armonic_proto::frame::encode(
            &armonic_proto::Hello::new("intruder"),
            armonic_proto::frame::MAX_FRAME,
        )
        .unwrap_or_default();
        let mut refused = 0;
        for _ in 0..n {
            let Ok(mut s) = self
                .control
                .open_stream(self.peer, crate::links::PROTOCOL)
                .await
            else {
                refused += 1;
                continue;
            };
            let mut bytes = hello.clone();
            bytes.extend_from_slice(&announced.to_be_bytes());
            bytes.resize(bytes.len() + announced.saturating_sub(1) as usize, b'x');
            let sent = tokio::time::timeout(Duration::from_secs(2), async {
                s.write_all(&bytes).await?;
                s.flush().await
            })
            .await;
            // A stream the agent refused says so, or ends: what it said is read back.
            let said = read_for(&mut s, Duration::from_millis(100)).await;
            let refusal = said
                .iter()
                .any(|m| matches!(m, Said::Refused | Said::Closed));
            match sent {
                Ok(Ok(())) if !refusal => self.held.push(s),
                _ => refused += 1,
            }
        }
        refused
    }

    /// How many streams it holds.
    pub fn holding(&self) -> usize {
        self.held.len()
    }

    /// Makes `call` on a new call stream, as any member may, with whatever location the call
    /// names; the agent's answer (the lines are dropped), or why there was none within 30 s.
    pub async fn call(
        &mut self,
        call: armonic_proto::Call,
    ) -> Result<armonic_proto::Response, armonic_proto::ApiError> {
        use armonic_proto::client::{Heard, Session};
        let no_answer = |message: String| armonic_proto::ApiError::Protocol { message };
        let stream = self
            .control
            .open_stream(self.peer, crate::links::PROTOCOL)
            .await
            .map_err(|e| no_answer(e.to_string()))?;
        let session = Session::new(stream, "intruder".into(), armonic_proto::frame::MAX_FRAME);
        let mut heard = Box::pin(session.call(call, |_| {}));
        let answer = async {
            while let Some(h) = heard.next().await {
                match h {
                    Ok(Heard::Event(armonic_proto::Event::Done(result))) => return result,
                    Ok(_) => {}
                    Err(broken) => return Err(no_answer(format!("{broken:?}"))),
                }
            }
            Err(no_answer("the stream ended without an answer".into()))
        };
        tokio::time::timeout(Duration::from_secs(30), answer)
            .await
            .unwrap_or_else(|_| Err(no_answer("no answer within 30 s".into())))
    }
}

/// What the agent said on a stream.
enum Said {
    Greeting,
    Refused,
    Other,
    Closed,
}

/// What the agent says on `s` within `wait`.
async fn read_for(s: &mut libp2p::Stream, wait: Duration) -> Vec<Said> {
    let mut bytes = Vec::new();
    let mut closed = false;
    let _ = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    closed = true;
                    return;
                }
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let mut out = Vec::new();
    let mut r = bytes.as_slice();
    while let Ok(Some(p)) =
        armonic_proto::frame::read_frame(&mut r, armonic_proto::frame::MAX_FRAME)
    {
        out.push(
            if armonic_proto::frame::decode::<armonic_proto::Hello>(&p).is_ok() {
                Said::Greeting
            } else if matches!(
                armonic_proto::frame::decode::<armonic_proto::ServerMessage>(&p),
                Ok(armonic_proto::ServerMessage::Refused { .. })
            ) {
                Said::Refused
            } else {
                Said::Other
            },
        );
    }
    if closed {
        out.push(Said::Closed);
    }
    out
}

impl Drop for Intruder {
    fn drop(&mut self) {
        self.task.abort();
    }
}
