//! A hostile peer: it has the swarm key, but speaks garbage on the API's protocol. The agent
//! refuses it (the stream is dropped, nothing is decoded past the size cap) and serves
//! everyone else.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, StreamProtocol};

use crate::{Config, Identity, SwarmKey, protocol};

/// Writes whatever bytes it is given; reads whatever comes back.
#[derive(Clone, Default)]
struct Raw;

impl request_response::Codec for Raw {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut b = Vec::new();
        io.take(1 << 20).read_to_end(&mut b).await?;
        Ok(b)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut b = Vec::new();
        io.take(1 << 20).read_to_end(&mut b).await?;
        Ok(b)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        r: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&r).await?;
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        r: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&r).await?;
        io.close().await
    }
}

/// A peer that answers pings (as any peer of the mesh) and sends raw requests.
#[derive(libp2p::swarm::NetworkBehaviour)]
struct Hostile {
    api: request_response::Behaviour<Raw>,
    ping: libp2p::ping::Behaviour,
}

/// Sends `bytes` as a request of the API to the agent at `addr`: what came back, or the
/// failure.
async fn send_raw(key: &SwarmKey, addr: &str, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    send_raw_on(protocol::API, key, addr, bytes).await
}

/// Sends `bytes` as a request of protocol `name` to the agent at `addr`.
async fn send_raw_on(
    name: &'static str,
    key: &SwarmKey,
    addr: &str,
    bytes: Vec<u8>,
) -> Result<Vec<u8>, String> {
    let identity = libp2p::identity::Keypair::generate_ed25519();
    let transport = crate::swarm::transport(&identity, key.0).map_err(|e| e.to_string())?;
    let behaviour = Hostile {
        api: request_response::Behaviour::<Raw>::new(
            [(StreamProtocol::new(name), ProtocolSupport::Outbound)],
            request_response::Config::default().with_request_timeout(Duration::from_secs(10)),
        ),
        ping: libp2p::ping::Behaviour::default(),
    };
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(identity)
        .with_tokio()
        .with_other_transport(|_| transport)
        .map_err(|e| e.to_string())?
        .with_behaviour(|_| behaviour)
        .map_err(|e| e.to_string())?
        .build();
    let addr: Multiaddr = addr.parse().map_err(|e| format!("{e}"))?;
    swarm.dial(addr).map_err(|e| e.to_string())?;
    loop {
        match swarm.select_next_some().await {
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                swarm
                    .behaviour_mut()
                    .api
                    .send_request(&peer_id, bytes.clone());
            }
            SwarmEvent::Behaviour(HostileEvent::Api(request_response::Event::Message {
                message: request_response::Message::Response { response, .. },
                ..
            })) => return Ok(response),
            SwarmEvent::Behaviour(HostileEvent::Api(
                request_response::Event::OutboundFailure { error, .. },
            )) => {
                return Err(error.to_string());
            }
            SwarmEvent::OutgoingConnectionError { error, .. } => return Err(error.to_string()),
            _ => {}
        }
    }
}

async fn agent(key: &SwarmKey) -> (crate::Handle, String) {
    let text = "name = \"Noop\"\ninitial = \"Off\"\ntransitions = [[\"Off\", \"On\"]]\n[states.Off]\n[states.On]\n";
    let def = armonic_lifecycle::format::parse(text, std::path::Path::new("noop.toml")).unwrap();
    let location = armonic_lifecycle::Location::builder(armonic_lifecycle::Config {
        name: "target".into(),
        os: armonic_lifecycle::OsType::all(),
        ..armonic_lifecycle::Config::default()
    })
    .build(vec![def])
    .unwrap();
    let mut config = Config::new(Identity::ephemeral(), key.clone());
    config.listen = vec!["/ip4/127.0.0.1/tcp/0".into()];
    config.mdns = false;
    let local = Arc::new(armonic_proto::Local::new(location));
    let handle = crate::start(config, local).await.unwrap();
    let mut addrs = Vec::new();
    for _ in 0..200 {
        addrs = handle.listen_addrs().await;
        if !addrs.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (handle, addrs.remove(0))
}

#[tokio::test]
async fn garbage_truncated_and_oversized_requests_are_dropped_and_the_agent_serves_on() {
    let key = SwarmKey::random().unwrap();
    let (_target, addr) = agent(&key).await;
    // Not CBOR at all.
    // Refused: the stream is closed with no answer (or the connection fails).
    let refused = |r: &Result<Vec<u8>, String>| r.as_ref().map_or(true, Vec::is_empty);
    let garbage = send_raw(&key, &addr, vec![0xff, 0x00, 0x13, 0x37, 0x42]).await;
    assert!(refused(&garbage), "{garbage:?}");
    // A valid call, cut short.
    let call = protocol::ApiCall {
        call: "x".into(),
        request: armonic_proto::Request::Info,
    };
    let mut bytes = Vec::new();
    ciborium::into_writer(&call, &mut bytes).unwrap();
    let truncated = send_raw(&key, &addr, bytes[..bytes.len() / 2].to_vec()).await;
    assert!(refused(&truncated), "{truncated:?}");
    // More than the 8 MiB cap.
    let oversized = send_raw(&key, &addr, vec![0x41; 9 * 1024 * 1024]).await;
    assert!(
        refused(&oversized),
        "oversized: {:?}",
        oversized.map(|r| r.len())
    );
    // The same call, whole: answered.
    let whole = send_raw(&key, &addr, bytes)
        .await
        .expect("a whole call is answered");
    let reply: protocol::ApiReply = ciborium::from_reader(whole.as_slice()).unwrap();
    assert!(matches!(reply.result, Ok(armonic_proto::Response::Info(_))));
}

fn target_catalogue() -> armonic_proto::Catalogue {
    armonic_proto::Catalogue {
        info: armonic_lifecycle::info::Info {
            name: "target".into(),
            os_type: "debian".into(),
            os_release: None,
            version: "0.1.0".into(),
            public_ip: "target".into(),
        },
        version: 1,
        lifecycles: Vec::new(),
    }
}

/// A catalogue question carrying `addrs` addresses of 64 bytes, asking for the peers.
fn question(addrs: usize) -> Vec<u8> {
    let request = protocol::CatalogueRequest {
        addrs: vec![serde_bytes::ByteBuf::from(vec![0u8; 64]); addrs],
        peers: true,
    };
    let mut bytes = Vec::new();
    ciborium::into_writer(&request, &mut bytes).unwrap();
    bytes
}

#[tokio::test]
async fn a_catalogue_question_asked_before_the_agent_has_a_catalogue_is_answered_once_it_has() {
    let key = SwarmKey::random().unwrap();
    let (target, addr) = agent(&key).await;
    let asked = tokio::spawn({
        let key = key.clone();
        async move { send_raw_on(protocol::CATALOGUE, &key, &addr, question(1)).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !asked.is_finished(),
        "no answer before there is a catalogue"
    );
    target.set_catalogue(target_catalogue()).await;
    let answer = asked
        .await
        .unwrap()
        .expect("answered once the catalogue is said");
    let reply: protocol::CatalogueReply = ciborium::from_reader(answer.as_slice()).unwrap();
    assert_eq!(reply.catalogue.info.name, "target");
}

#[tokio::test]
async fn a_catalogue_question_over_its_small_cap_is_dropped_and_a_fair_one_answered() {
    let key = SwarmKey::random().unwrap();
    let (target, addr) = agent(&key).await;
    target.set_catalogue(target_catalogue()).await;
    let big = question(100);
    assert!(big.len() as u64 > protocol::MAX_CATALOGUE_REQUEST);
    let refused = send_raw_on(protocol::CATALOGUE, &key, &addr, big).await;
    assert!(refused.as_ref().map_or(true, Vec::is_empty), "{refused:?}");
    let answer = send_raw_on(protocol::CATALOGUE, &key, &addr, question(2))
        .await
        .expect("a fair question is answered");
    let reply: protocol::CatalogueReply = ciborium::from_reader(answer.as_slice()).unwrap();
    assert_eq!(reply.catalogue.info.name, "target");
    assert!(reply.peers.is_empty(), "it knows no live peer");
}
