//! A hostile peer: it has the swarm key, but speaks garbage on the mesh's protocols. The agent
//! refuses it (the stream is dropped, nothing is decoded past the size cap), bounds what it may
//! hold open, and serves everyone else.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, StreamProtocol};

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

type MembersCodec = crate::codec::Cbor<protocol::MembersRequest, protocol::MembersReply>;

/// A peer that answers probes and membership questions (as any peer of the mesh), sends raw
/// requests, and opens raw streams.
#[derive(libp2p::swarm::NetworkBehaviour)]
struct Hostile {
    api: request_response::Behaviour<Raw>,
    streams: libp2p_stream::Behaviour,
    members: request_response::Behaviour<MembersCodec>,
}

fn hostile_swarm(key: &SwarmKey, name: &'static str) -> Result<libp2p::Swarm<Hostile>, String> {
    let identity = libp2p::identity::Keypair::generate_ed25519();
    let transport = crate::swarm::transport(&identity, key.0, 1024).map_err(|e| e.to_string())?;
    let behaviour = Hostile {
        api: request_response::Behaviour::<Raw>::new(
            [(StreamProtocol::new(name), ProtocolSupport::Outbound)],
            request_response::Config::default().with_request_timeout(Duration::from_secs(10)),
        ),
        streams: libp2p_stream::Behaviour::new(),
        members: request_response::Behaviour::with_codec(
            crate::codec::Cbor::new(16 << 20),
            [(
                StreamProtocol::new(protocol::MEMBERS),
                ProtocolSupport::Full,
            )],
            request_response::Config::default(),
        ),
    };
    Ok(libp2p::SwarmBuilder::with_existing_identity(identity)
        .with_tokio()
        .with_other_transport(|_| transport)
        .map_err(|e| e.to_string())?
        .with_behaviour(|_| behaviour)
        .map_err(|e| e.to_string())?
        .build())
}

/// Sends `bytes` as a request of protocol `name` to the agent at `addr`.
async fn send_raw_on(
    name: &'static str,
    key: &SwarmKey,
    addr: &str,
    bytes: Vec<u8>,
) -> Result<Vec<u8>, String> {
    let mut swarm = hostile_swarm(key, name)?;
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

/// A hostile member connected to the agent at `addr`: a control to open call streams to it
/// (its swarm runs on a task of its own).
async fn member(key: &SwarmKey, addr: &str) -> (libp2p_stream::Control, PeerId) {
    let mut swarm = hostile_swarm(key, protocol::MEMBERS).unwrap();
    let control = swarm.behaviour().streams.new_control();
    let mut own =
        crate::members::Members::new(*swarm.local_peer_id(), crate::members::now_ms(), 1 << 20);
    own.set_own(&named_catalogue("intruder"), &[]);
    let entry = own.own_news().unwrap();
    swarm.dial(addr.parse::<Multiaddr>().unwrap()).unwrap();
    let peer = loop {
        if let SwarmEvent::ConnectionEstablished { peer_id, .. } = swarm.select_next_some().await {
            break peer_id;
        }
    };
    swarm
        .behaviour_mut()
        .members
        .send_request(&peer, protocol::MembersRequest::Push(vec![entry.clone()]));
    // Its watchers' probes are answered, as any member answers them.
    let mut probes = control.clone().accept(crate::probes::PROTOCOL).unwrap();
    let answering = Arc::new(std::sync::RwLock::new(crate::view::View::new(
        *swarm.local_peer_id(),
        crate::members::now_ms(),
        1 << 20,
    )));
    tokio::spawn(async move {
        while let Some((peer, stream)) = probes.next().await {
            let view = Arc::clone(&answering);
            tokio::spawn(async move { crate::probes::answer(stream, &view, peer).await });
        }
    });
    tokio::spawn(async move {
        loop {
            if let SwarmEvent::Behaviour(HostileEvent::Members(
                request_response::Event::Message {
                    message:
                        request_response::Message::Request {
                            channel, request, ..
                        },
                    ..
                },
            )) = swarm.select_next_some().await
            {
                let reply = match request {
                    protocol::MembersRequest::Shapes(hashes) => protocol::MembersReply {
                        shapes: own.shapes(&hashes, 1 << 20),
                        ..Default::default()
                    },
                    _ => protocol::MembersReply {
                        entries: vec![entry.clone()],
                        ..Default::default()
                    },
                };
                let _ = swarm.behaviour_mut().members.send_response(channel, reply);
            }
        }
    });
    (control, peer)
}

/// Writes `bytes` on a new call stream and reads what comes back until the agent closes it
/// (or 5 s pass).
async fn exchange(control: &mut libp2p_stream::Control, peer: PeerId, bytes: &[u8]) -> Vec<u8> {
    let mut s = control
        .open_stream(peer, crate::links::PROTOCOL)
        .await
        .unwrap();
    let _ = s.write_all(bytes).await;
    let _ = s.flush().await;
    let mut back = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut back)).await;
    back
}

/// Writes `bytes` on a new call stream and reads what comes back until the agent ends the
/// exchange (a reply, the end of a read, a refusal), or 10 s pass.
async fn ask(
    control: &mut libp2p_stream::Control,
    peer: PeerId,
    bytes: &[u8],
) -> Vec<armonic_proto::ServerMessage> {
    use armonic_proto::ServerMessage;
    let mut s = control
        .open_stream(peer, crate::links::PROTOCOL)
        .await
        .unwrap();
    s.write_all(bytes).await.unwrap();
    s.flush().await.unwrap();
    let mut back = Vec::new();
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => back.extend_from_slice(&buf[..n]),
            }
            let over = messages(&back).iter().any(|m| {
                matches!(
                    m,
                    ServerMessage::Reply { .. }
                        | ServerMessage::Ended { .. }
                        | ServerMessage::Refused { .. }
                )
            });
            if over {
                return;
            }
        }
    })
    .await;
    messages(&back)
}

/// The server's messages in `bytes`, after its greeting.
fn messages(bytes: &[u8]) -> Vec<armonic_proto::ServerMessage> {
    use armonic_proto::frame;
    let mut r = bytes;
    let mut out = Vec::new();
    while let Ok(Some(p)) = frame::read_frame(&mut r, frame::MAX_FRAME) {
        if let Ok(m) = frame::decode::<armonic_proto::ServerMessage>(&p) {
            out.push(m);
        }
    }
    out
}

async fn agent_with(key: &SwarmKey, limits: crate::Limits) -> (crate::Handle, String) {
    let host = armonic_journal::Host::open(target_location()).unwrap();
    serving(key, limits, Arc::new(host)).await
}

/// The location of the agent under test: `target`, one lifecycle.
fn target_location() -> armonic_lifecycle::Location {
    let text = "name = \"Noop\"\ninitial = \"Off\"\ntransitions = [[\"Off\", \"On\"]]\n[states.Off]\n[states.On]\n";
    let def = armonic_lifecycle::format::parse(text, std::path::Path::new("noop.toml")).unwrap();
    armonic_lifecycle::Location::builder(armonic_lifecycle::Config {
        name: "target".into(),
        os: armonic_lifecycle::OsType::all(),
        ..armonic_lifecycle::Config::default()
    })
    .build(vec![def])
    .unwrap()
}

/// An agent serving `service`.
async fn serving(
    key: &SwarmKey,
    limits: crate::Limits,
    service: Arc<dyn armonic_proto::serve::Service>,
) -> (crate::Handle, String) {
    let mut config = Config::new(Identity::ephemeral(), key.clone());
    config.listen = vec!["/ip4/127.0.0.1/tcp/0".into()];
    config.mdns = false;
    config.limits = limits;
    let handle = crate::start(config, Some(service)).await.unwrap();
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

async fn agent(key: &SwarmKey) -> (crate::Handle, String) {
    agent_with(key, crate::Limits::default()).await
}

fn hello_and_info() -> (Vec<u8>, Vec<u8>) {
    use armonic_proto::frame;
    let hello = frame::encode(&armonic_proto::Hello::new("hostile"), frame::MAX_FRAME).unwrap();
    let call = armonic_proto::ClientMessage::Call {
        id: 1,
        call: armonic_proto::CallId::new(),
        request: armonic_proto::method::Info {}.into(),
        location: None,
        deployment: None,
        from_seq: 0,
        again: false,
        on_behalf_of: None,
        caller_location: None,
        step: None,
        plan: None,
    };
    (hello, frame::encode(&call, frame::MAX_FRAME).unwrap())
}

#[tokio::test]
async fn garbage_truncated_and_oversized_frames_are_refused_and_the_agent_serves_on() {
    let key = SwarmKey::random().unwrap();
    let (target, addr) = agent(&key).await;
    named(&target).await;
    let (mut control, peer) = member(&key, &addr).await;
    // Not a frame: its "length" is far over the cap, refused before anything is read.
    let garbage = exchange(&mut control, peer, &[0xff, 0x00, 0x13, 0x37, 0x42]).await;
    assert!(
        garbage.is_empty()
            || messages(&garbage)
                .iter()
                .all(|m| matches!(m, armonic_proto::ServerMessage::Refused { .. })),
        "{garbage:?}"
    );
    let (hello, call) = hello_and_info();
    // A valid call, cut short: no answer.
    let mut cut = hello.clone();
    cut.extend_from_slice(&call[..call.len() / 2]);
    let truncated = messages(&exchange(&mut control, peer, &cut).await);
    assert!(
        !truncated
            .iter()
            .any(|m| matches!(m, armonic_proto::ServerMessage::Reply { .. })),
        "{truncated:?}"
    );
    // A frame announcing more than the cap: refused, naming the cap.
    let mut oversized = hello.clone();
    oversized.extend_from_slice(&(9u32 * 1024 * 1024).to_be_bytes());
    oversized.extend_from_slice(&[0x41; 1024]);
    let refused = messages(&exchange(&mut control, peer, &oversized).await);
    assert!(
        refused.iter().any(|m| matches!(
            m,
            armonic_proto::ServerMessage::Refused {
                error: armonic_proto::ApiError::TooLarge { .. },
                ..
            }
        )),
        "{refused:?}"
    );
    // The same call, whole: answered.
    let mut whole = hello;
    whole.extend_from_slice(&call);
    let answered = messages(&exchange(&mut control, peer, &whole).await);
    assert!(
        answered.iter().any(|m| matches!(
            m,
            armonic_proto::ServerMessage::Reply {
                result: Ok(armonic_proto::Response::Info(_)),
                ..
            }
        )),
        "{answered:?}"
    );
}

#[tokio::test]
async fn a_member_holding_more_streams_than_allowed_is_refused_the_rest_with_a_reason() {
    let key = SwarmKey::random().unwrap();
    let limits = crate::Limits {
        per_peer: 4,
        ..crate::Limits::default()
    };
    let (target, addr) = agent_with(&key, limits).await;
    named(&target).await;
    let (mut control, peer) = member(&key, &addr).await;
    // Four streams held open, saying nothing.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = control
            .open_stream(peer, crate::links::PROTOCOL)
            .await
            .unwrap();
        s.write_all(&[0, 0]).await.unwrap();
        s.flush().await.unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (hello, call) = hello_and_info();
    let mut whole = hello;
    whole.extend_from_slice(&call);
    let refused = messages(&exchange(&mut control, peer, &whole).await);
    assert!(
        refused.iter().any(|m| matches!(m, armonic_proto::ServerMessage::Refused { error: armonic_proto::ApiError::Busy { message }, .. } if message.contains("at most 4"))),
        "{refused:?}"
    );
    // Once they go, calls are served again.
    drop(held);
    let mut answered = Vec::new();
    for _ in 0..50 {
        answered = messages(&exchange(&mut control, peer, &whole).await);
        if answered
            .iter()
            .any(|m| matches!(m, armonic_proto::ServerMessage::Reply { .. }))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        answered
            .iter()
            .any(|m| matches!(m, armonic_proto::ServerMessage::Reply { result: Ok(_), .. })),
        "{answered:?}"
    );
}

/// Has `target` say its catalogue, and waits until it knows its own name (it serves calls
/// from then on).
async fn named(target: &crate::Handle) {
    target.set_catalogue(target_catalogue()).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !target.peers().iter().any(|p| p.local) {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent never took its name"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn target_catalogue() -> armonic_proto::Catalogue {
    named_catalogue("target")
}

fn named_catalogue(name: &str) -> armonic_proto::Catalogue {
    armonic_proto::Catalogue {
        info: armonic_lifecycle::info::Info {
            name: name.into(),
            os_type: "debian".into(),
            os_release: None,
            version: "0.1.0".into(),
            public_ip: name.into(),
        },
        version: 1,
        lifecycles: Default::default(),
    }
}

fn encoded(request: &protocol::MembersRequest) -> Vec<u8> {
    let mut bytes = Vec::new();
    ciborium::into_writer(request, &mut bytes).unwrap();
    bytes
}

#[tokio::test]
async fn a_membership_question_over_its_cap_is_dropped_and_a_fair_one_answered() {
    let key = SwarmKey::random().unwrap();
    let (target, addr) = agent(&key).await;
    named(&target).await;
    // Larger than the largest catalogue and what goes with it.
    let big = vec![
        0xa0;
        (Config::new(Identity::ephemeral(), key.clone()).max_message + (2 << 20))
            as usize
    ];
    let refused = send_raw_on(protocol::MEMBERS, &key, &addr, big).await;
    assert!(refused.as_ref().map_or(true, Vec::is_empty), "{refused:?}");
    let garbage = send_raw_on(protocol::MEMBERS, &key, &addr, b"not cbor".to_vec()).await;
    assert!(garbage.as_ref().map_or(true, Vec::is_empty), "{garbage:?}");
    let answer = send_raw_on(
        protocol::MEMBERS,
        &key,
        &addr,
        encoded(&protocol::MembersRequest::Sync(Vec::new())),
    )
    .await
    .expect("a fair question is answered");
    let reply: protocol::MembersReply = ciborium::from_reader(answer.as_slice()).unwrap();
    assert_eq!(reply.entries.len(), 1, "its own entry, no other member");
    let own: crate::shapes::Card =
        ciborium::from_reader(reply.entries[0].card.as_ref().unwrap().as_slice()).unwrap();
    assert_eq!(own.info.name, "target");
}

#[tokio::test]
async fn an_entry_saying_the_agent_down_makes_it_say_itself_alive_with_a_greater_stamp() {
    let key = SwarmKey::random().unwrap();
    let (target, addr) = agent(&key).await;
    named(&target).await;
    let ask = || encoded(&protocol::MembersRequest::Sync(Vec::new()));
    let first = send_raw_on(protocol::MEMBERS, &key, &addr, ask())
        .await
        .unwrap();
    let first: protocol::MembersReply = ciborium::from_reader(first.as_slice()).unwrap();
    let mut down = first.entries[0].clone();
    down.status = protocol::Status::Down;
    down.card = None;
    send_raw_on(
        protocol::MEMBERS,
        &key,
        &addr,
        encoded(&protocol::MembersRequest::Push(vec![down.clone()])),
    )
    .await
    .unwrap();
    let again = send_raw_on(protocol::MEMBERS, &key, &addr, ask())
        .await
        .unwrap();
    let again: protocol::MembersReply = ciborium::from_reader(again.as_slice()).unwrap();
    assert_eq!(again.entries[0].status, protocol::Status::Alive);
    assert!(
        again.entries[0].stamp > down.stamp,
        "{:?} after {:?}",
        again.entries[0],
        down
    );
}

/// A service that would serve any location it is asked for (as an agent's relays to the
/// mesh), keeping the location each call named and how many reads it was asked.
struct Relaying {
    host: armonic_journal::Host,
    calls: std::sync::Mutex<Vec<Option<String>>>,
    reads: std::sync::atomic::AtomicUsize,
}

impl armonic_proto::serve::Service for Relaying {
    fn call(&self, call: armonic_proto::Call) -> armonic_proto::CallStream {
        self.calls.lock().unwrap().push(call.location.clone());
        let mut call = call;
        call.location = None;
        armonic_proto::Endpoint::call(&self.host, call)
    }

    fn read(&self, read: armonic_proto::serve::ReadRequest) -> armonic_proto::serve::ReadStream {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        armonic_proto::serve::Service::read(&self.host, read)
    }
}

/// A call of exchange 1, framed after a greeting, for `location`.
fn hello_and_call(request: armonic_proto::Request, location: Option<&str>) -> Vec<u8> {
    use armonic_proto::frame;
    let mut bytes = frame::encode(&armonic_proto::Hello::new("hostile"), frame::MAX_FRAME).unwrap();
    let call = armonic_proto::ClientMessage::Call {
        id: 1,
        call: armonic_proto::CallId::new(),
        request,
        location: location.map(str::to_owned),
        deployment: None,
        from_seq: 0,
        again: false,
        on_behalf_of: None,
        caller_location: None,
        step: None,
        plan: None,
    };
    bytes.extend(frame::encode(&call, frame::MAX_FRAME).unwrap());
    bytes
}

fn reply(
    said: &[armonic_proto::ServerMessage],
) -> &Result<armonic_proto::Response, armonic_proto::ApiError> {
    said.iter()
        .find_map(|m| match m {
            armonic_proto::ServerMessage::Reply { result, .. } => Some(result),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no reply: {said:?}"))
}

#[tokio::test]
async fn a_member_asking_an_agent_for_another_location_is_refused_and_nothing_is_relayed() {
    use std::sync::atomic::Ordering;
    let key = SwarmKey::random().unwrap();
    let relaying = Arc::new(Relaying {
        host: armonic_journal::Host::open(target_location()).unwrap(),
        calls: std::sync::Mutex::new(Vec::new()),
        reads: std::sync::atomic::AtomicUsize::new(0),
    });
    let (target, addr) = serving(&key, crate::Limits::default(), relaying.clone()).await;
    named(&target).await;
    let (mut control, peer) = member(&key, &addr).await;
    let goto: armonic_proto::Request = armonic_proto::method::StateGoto {
        uri: "/web2/Noop/On".parse().unwrap(),
        values: Default::default(),
        path_idx: 0,
    }
    .into();
    // Named by the call: refused, saying where to ask.
    let said = ask(
        &mut control,
        peer,
        &hello_and_call(goto.clone(), Some("web2")),
    )
    .await;
    match reply(&said) {
        Err(armonic_proto::ApiError::InvalidRequest { message }) => {
            assert!(message.contains("ask web2 itself"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        relaying.calls.lock().unwrap().is_empty(),
        "nothing reached the service"
    );
    // Named by its address only: the call is for this agent's location, whatever it names.
    let said = ask(&mut control, peer, &hello_and_call(goto, None)).await;
    assert!(reply(&said).is_err(), "{said:?}");
    assert_eq!(*relaying.calls.lock().unwrap(), [Some("target".to_owned())]);
    // Its own location, named: served.
    let info = armonic_proto::method::Info {}.into();
    let said = ask(&mut control, peer, &hello_and_call(info, Some("target"))).await;
    assert!(
        matches!(reply(&said), Ok(armonic_proto::Response::Info(_))),
        "{said:?}"
    );
    // Reads of another agent's journal, or of every agent's: refused.
    for (location, all) in [(Some("web2".to_owned()), false), (None, true)] {
        let mut bytes = armonic_proto::frame::encode(
            &armonic_proto::Hello::new("hostile"),
            armonic_proto::frame::MAX_FRAME,
        )
        .unwrap();
        let read = armonic_proto::ClientMessage::Read {
            id: 1,
            query: armonic_proto::journal::Query::default(),
            location,
            all,
        };
        bytes.extend(armonic_proto::frame::encode(&read, armonic_proto::frame::MAX_FRAME).unwrap());
        let said = ask(&mut control, peer, &bytes).await;
        assert!(
            said.iter().any(|m| matches!(
                m,
                armonic_proto::ServerMessage::Ended {
                    error: Some(armonic_proto::ApiError::InvalidRequest { .. }),
                    ..
                }
            )),
            "{said:?}"
        );
    }
    assert_eq!(relaying.reads.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_agent_that_has_not_said_its_name_serves_no_call_yet() {
    let key = SwarmKey::random().unwrap();
    let (_target, addr) = agent(&key).await;
    let (mut control, peer) = member(&key, &addr).await;
    let info = armonic_proto::method::Info {}.into();
    let said = ask(&mut control, peer, &hello_and_call(info, None)).await;
    assert!(
        matches!(reply(&said), Err(armonic_proto::ApiError::Busy { .. })),
        "{said:?}"
    );
}

/// A member that joins the agent at `addr` only to say that `silent` is down (at the stamp
/// the agent holds of it), and leaves once the agent has taken the message.
async fn say_down(key: &SwarmKey, addr: &str, silent: PeerId) {
    let ask = encoded(&protocol::MembersRequest::Sync(Vec::new()));
    let held = send_raw_on(protocol::MEMBERS, key, addr, ask)
        .await
        .unwrap();
    let held: protocol::MembersReply = ciborium::from_reader(held.as_slice()).unwrap();
    let mut down = held
        .entries
        .into_iter()
        .find(|e| e.id == silent.to_bytes())
        .expect("the agent holds the peer");
    down.status = protocol::Status::Down;
    down.card = None;
    let push = encoded(&protocol::MembersRequest::Push(vec![down]));
    send_raw_on(protocol::MEMBERS, key, addr, push)
        .await
        .expect("the word was not taken");
}

#[tokio::test]
async fn members_saying_a_peer_the_agent_hears_from_is_down_do_not_make_it_take_it_for_down() {
    let key = SwarmKey::random().unwrap();
    let (target, addr) = agent(&key).await;
    named(&target).await;
    // A member that answers probes, which the agent watches (it has few peers).
    let (_control, _) = member(&key, &addr).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let answering: PeerId = loop {
        if let Some(p) = target.peers().into_iter().find(|p| !p.local) {
            break p.peer_id.parse().unwrap();
        }
        assert!(std::time::Instant::now() < deadline, "never connected");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // Two others say it is down: enough to take down a peer nothing was heard from lately,
    // but the agent probes this one every second and hears its answers.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    say_down(&key, &addr, answering).await;
    say_down(&key, &addr, answering).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats = target.stats();
    assert_eq!(stats.silenced, 0, "{stats:?}");
    assert!(
        target
            .peers()
            .iter()
            .any(|p| p.peer_id == answering.to_string() && p.live),
        "{:?}",
        target.peers()
    );
}

#[tokio::test]
async fn a_member_opening_probe_streams_over_and_over_is_answered_on_its_latest_only() {
    let key = SwarmKey::random().unwrap();
    let (target, addr) = agent(&key).await;
    named(&target).await;
    let (mut control, peer) = member(&key, &addr).await;
    let frame = 7u64.to_be_bytes();
    let mut streams = Vec::new();
    for _ in 0..50 {
        let mut s = control
            .open_stream(peer, crate::probes::PROTOCOL)
            .await
            .unwrap();
        s.write_all(&frame).await.unwrap();
        s.flush().await.unwrap();
        streams.push(s);
    }
    // The latest (opened once the agent took the others in) is answered with the agent's
    // digest, each time it probes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut latest = control
        .open_stream(peer, crate::probes::PROTOCOL)
        .await
        .unwrap();
    latest.write_all(&frame).await.unwrap();
    latest.flush().await.unwrap();
    let mut back = [0u8; 8];
    for _ in 0..3 {
        tokio::time::timeout(Duration::from_secs(10), latest.read_exact(&mut back))
            .await
            .expect("the latest stream is answered")
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        latest.write_all(&frame).await.unwrap();
        latest.flush().await.unwrap();
    }
    // Each earlier one was ended when a later one came (or dropped, had it come faster than
    // the agent took them in): it reads to its end, an answer or none, and no more.
    for mut s in streams {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "an earlier probe stream was left open");
        assert!(rest.len() <= 8, "{} bytes on an earlier stream", rest.len());
    }
    assert_eq!(target.stats().silenced, 0);
}
