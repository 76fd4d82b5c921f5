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
use libp2p::{
    PeerId, StreamProtocol, Swarm, Transport, connection_limits, gossipsub, mdns, noise, tcp, yamux,
};

use crate::book::Book;
use crate::codec::Cbor;
use crate::protocol::{self, Ack, CatalogueReply, CatalogueRequest, Probe};

/// The behaviours of an agent.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    /// Bounds on connections: handshakes under way from others, connections per peer.
    pub limits: connection_limits::Behaviour,
    /// Calls and journal reads, each on a stream of its own.
    pub calls: libp2p_stream::Behaviour,
    pub catalogue: request_response::Behaviour<Cbor<CatalogueRequest, CatalogueReply>>,
    pub gossip: gossipsub::Behaviour,
    pub mdns: Toggle<mdns::tokio::Behaviour>,
    /// Liveness: each node probes the few peers it watches (see `view::View::watch`).
    pub probe: request_response::Behaviour<Cbor<Probe, Ack>>,
    /// Where peers were seen, for dials by peer id (a call to a peer not connected).
    pub book: Book,
}

/// Most connections others may have in their handshake with this node at once: the rest are
/// refused before any cryptography, and dial again after their backoff. A node many join at
/// once (the bootstrap peer of a mesh starting) takes them a few at a time rather than falling
/// behind on all.
const MAX_HANDSHAKING: u32 = 64;

/// Most connections with one peer (two agents dialing each other at once make two).
const MAX_PER_PEER: u32 = 2;

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
        // Small messages: each is sent by its publisher to every subscribed peer at once, and
        // passed on to one peer only, with no gossip about it afterwards: a digest missed is
        // said again after a while (and a catalogue unheard of is fetched directly), whereas
        // every copy received costs a signature check. With the default mesh of 6 and gossip
        // to a quarter of the peers, a mesh of 100 agents spent most of a core idle on copies.
        .flood_publish(true)
        .mesh_n(1)
        .mesh_n_low(1)
        .mesh_n_high(2)
        .mesh_outbound_min(0)
        .gossip_lazy(0)
        .gossip_factor(0.0)
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
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_pending_incoming(Some(MAX_HANDSHAKING))
        .with_max_established_per_peer(Some(MAX_PER_PEER));
    let behaviour = Behaviour {
        limits: connection_limits::Behaviour::new(limits),
        calls: libp2p_stream::Behaviour::new(),
        catalogue,
        gossip,
        mdns: mdns.into(),
        probe: request_response::Behaviour::with_codec(
            Cbor::new(protocol::MAX_PROBE).requests_up_to(protocol::MAX_PROBE),
            [(StreamProtocol::new(protocol::PROBE), ProtocolSupport::Full)],
            request_response::Config::default().with_request_timeout(opts.ping_every * 2),
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
