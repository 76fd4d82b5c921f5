//! The swarm: TCP behind the private-network key, then Noise and Yamux; and the behaviours
//! the agents speak (the API, catalogues, gossip, discovery, liveness).

use std::time::Duration;

use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::Boxed;
use libp2p::core::upgrade::Version;
use libp2p::identity::Keypair;
use libp2p::pnet::{PnetConfig, PreSharedKey};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{PeerId, StreamProtocol, Swarm, Transport, gossipsub, mdns, noise, ping, tcp, yamux};

use crate::book::Book;
use crate::codec::Cbor;
use crate::protocol::{self, CatalogueReply, CatalogueRequest};

/// The behaviours of an agent.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    /// Calls and journal reads, each on a stream of its own.
    pub calls: libp2p_stream::Behaviour,
    pub catalogue: request_response::Behaviour<Cbor<CatalogueRequest, CatalogueReply>>,
    pub gossip: gossipsub::Behaviour,
    pub mdns: Toggle<mdns::tokio::Behaviour>,
    pub ping: ping::Behaviour,
    /// Where peers were seen, for dials by peer id (a call to a peer not connected).
    pub book: Book,
}

/// How the swarm is made.
pub(crate) struct Options {
    pub mdns: bool,
    pub max_message: u64,
    pub ping_every: Duration,
    /// Most streams a peer may open on one connection.
    pub max_streams: usize,
}

/// TCP, the private network's handshake (a peer without the key gets no further), Noise
/// (authenticated encryption with the peer's identity), Yamux.
pub(crate) fn transport(
    key: &Keypair,
    psk: PreSharedKey,
    max_streams: usize,
) -> std::io::Result<Boxed<(PeerId, StreamMuxerBox)>> {
    let noise = noise::Config::new(key).map_err(std::io::Error::other)?;
    let mut yamux = yamux::Config::default();
    yamux.set_max_num_streams(max_streams);
    Ok(
        tcp::tokio::Transport::new(tcp::Config::default().nodelay(true))
            .and_then(move |socket, _| PnetConfig::new(psk).handshake(socket))
            .upgrade(Version::V1Lazy)
            .authenticate(noise)
            .multiplex(yamux)
            .timeout(Duration::from_secs(10))
            .boxed(),
    )
}

/// Builds the swarm of `key` in the private network of `psk`.
pub(crate) fn build(
    key: Keypair,
    psk: PreSharedKey,
    opts: &Options,
    book: Book,
) -> std::io::Result<Swarm<Behaviour>> {
    let peer = key.public().to_peer_id();
    let gossip_config = gossipsub::ConfigBuilder::default()
        .heartbeat_interval(Duration::from_millis(500))
        .validation_mode(gossipsub::ValidationMode::Strict)
        // Few peers and small messages: send every message to every subscribed peer, at once.
        .flood_publish(true)
        .mesh_n_low(1)
        .mesh_outbound_min(0)
        .max_transmit_size(opts.max_message as usize)
        .build()
        .map_err(std::io::Error::other)?;
    let gossip = gossipsub::Behaviour::new(
        gossipsub::MessageAuthenticity::Signed(key.clone()),
        gossip_config,
    )
    .map_err(std::io::Error::other)?;
    let mdns = if opts.mdns {
        let config = mdns::Config {
            // Asked again often, so a peer that comes back is found soon.
            query_interval: Duration::from_secs(5),
            ..mdns::Config::default()
        };
        Some(mdns::tokio::Behaviour::new(config, peer)?)
    } else {
        None
    };
    let catalogue = request_response::Behaviour::with_codec(
        Cbor::new(opts.max_message).requests_up_to(protocol::MAX_CATALOGUE_REQUEST),
        [(
            StreamProtocol::new(protocol::CATALOGUE),
            ProtocolSupport::Full,
        )],
        request_response::Config::default().with_request_timeout(protocol::CATALOGUE_TIMEOUT),
    );
    let behaviour = Behaviour {
        calls: libp2p_stream::Behaviour::new(),
        catalogue,
        gossip,
        mdns: mdns.into(),
        ping: ping::Behaviour::new(
            ping::Config::new()
                .with_interval(opts.ping_every)
                .with_timeout(opts.ping_every * 2),
        ),
        book,
    };
    let transport = transport(&key, psk, opts.max_streams)?;
    let swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_other_transport(|_| transport)
        .map_err(std::io::Error::other)?
        .with_behaviour(|_| behaviour)
        .map_err(std::io::Error::other)?
        // Connections stay up while idle: liveness is read from them. A stream proposing one
        // protocol carries data at once, without waiting for the other end to agree (every
        // agent speaks them all; one that does not fails the stream, as it would have).
        .with_swarm_config(|c| {
            c.with_idle_connection_timeout(Duration::from_secs(3600))
                .with_substream_upgrade_protocol_override(Version::V1Lazy)
        })
        .build();
    Ok(swarm)
}
