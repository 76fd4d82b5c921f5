//! The swarm: TCP behind the private-network key, then Noise and Yamux; and the behaviours
//! the agents speak (the API, membership, discovery, liveness).

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
    PeerId, StreamProtocol, Swarm, Transport, connection_limits, mdns, noise, tcp, yamux,
};

use crate::book::Book;
use crate::codec::Cbor;
use crate::protocol::{self, MembersReply, MembersRequest};

/// The behaviours of an agent.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    /// Bounds on connections: handshakes under way from others, connections per peer.
    pub limits: connection_limits::Behaviour,
    /// Streams: calls and journal reads, each on a stream of its own; liveness probes, on
    /// one stream per watched peer (see `probes.rs`).
    pub streams: libp2p_stream::Behaviour,
    /// Membership: entries of who is in the mesh, passed on (see `members.rs`).
    pub members: request_response::Behaviour<Cbor<MembersRequest, MembersReply>>,
    pub mdns: Toggle<mdns::tokio::Behaviour>,
    /// Where peers were seen, for dials by peer id (a call to a peer not connected).
    pub book: Book,
}

/// Most connections others may have in their handshake with this node at once: the rest are
/// refused before any cryptography, and dial again after their backoff. A node many join at
/// once (the bootstrap peer of a mesh starting) takes them a few hundred at a time rather than
/// falling behind on all. (At 64, the one peer 300 agents were given took them at about 20 a
/// second: a handshake waits for a core as long as the machine is busy, and the slots stayed
/// full.)
const MAX_HANDSHAKING: u32 = 256;

/// Most connections with one peer (two agents dialing each other at once make two).
const MAX_PER_PEER: u32 = 2;

/// How the swarm is made.
pub(crate) struct Options {
    pub mdns: bool,
    pub max_message: u64,
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
    // Room for the largest catalogue, and for what goes with it (other entries, what an
    // agent holds of the others: about 60 bytes a member).
    let members_max = opts.max_message + (1 << 20);
    let members = request_response::Behaviour::with_codec(
        Cbor::new(members_max),
        [(
            StreamProtocol::new(protocol::MEMBERS),
            ProtocolSupport::Full,
        )],
        request_response::Config::default().with_request_timeout(protocol::MEMBERS_TIMEOUT),
    );
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_pending_incoming(Some(MAX_HANDSHAKING))
        .with_max_established_per_peer(Some(MAX_PER_PEER));
    let behaviour = Behaviour {
        limits: connection_limits::Behaviour::new(limits),
        streams: libp2p_stream::Behaviour::new(),
        members,
        mdns: mdns.into(),
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
