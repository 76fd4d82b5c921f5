//! Who may call what, at the call server every door of an agent goes through: each method of
//! the list, sent through a door that refuses state changes (a mesh peer that is not an
//! operator) and through one that allows them; and names that are not in the list.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use armonic_lifecycle::{Location, OsType};
use armonic_proto::frame::{self, MAX_FRAME};
use armonic_proto::serve::{self, Door, ReadRequest, ReadStream, Service};
use armonic_proto::{
    ApiError, Call, CallId, CallStream, Caller, ClientMessage, Hello, Request, ServerMessage,
    answered, method,
};
use futures::{AsyncRead, AsyncWrite};

/// A connection whose client says `input`, then waits; what the server says is kept.
struct Scripted {
    input: Vec<u8>,
    at: usize,
    out: Arc<Mutex<Vec<u8>>>,
}

impl AsyncRead for Scripted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.at == self.input.len() {
            // The client stays connected, saying nothing more.
            return Poll::Pending;
        }
        let n = buf.len().min(self.input.len() - self.at);
        buf[..n].copy_from_slice(&self.input[self.at..self.at + n]);
        self.at += n;
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for Scripted {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.out.lock().unwrap().extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A location with the shipped lifecycles, in simulation (no command runs), answering every
/// call it is given and keeping the name of each.
struct Recording {
    location: Location,
    seen: Mutex<Vec<&'static str>>,
}

impl Recording {
    fn new() -> Recording {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lifecycles");
        let catalog = armonic_lifecycle::load_dirs(&[dir]);
        let config = armonic_lifecycle::Config {
            name: "web1".into(),
            os: OsType::all(),
            simulation: true,
            ..armonic_lifecycle::Config::default()
        };
        let location = Location::builder(config)
            .sink(Arc::new(armonic_lifecycle::MemorySink::new()))
            .build(catalog.lifecycles)
            .expect("the location starts");
        Recording {
            location,
            seen: Mutex::new(Vec::new()),
        }
    }
}

impl Service for Recording {
    fn call(&self, call: Call) -> CallStream {
        self.seen.lock().unwrap().push(call.request.method());
        let cx = armonic_proto::Context::new(Arc::new(armonic_lifecycle::MemorySink::new()));
        answered(call.request.apply(&self.location, &cx))
    }

    fn read(&self, _: ReadRequest) -> ReadStream {
        Box::pin(futures::stream::empty())
    }
}

/// The door a mesh peer comes through; `refused` says why it may not change states.
fn door(refused: Option<&str>) -> Door {
    Door {
        name: "web1".into(),
        caller: Caller::Peer {
            peer_id: "12D3KooWPeer".into(),
            name: Some("web2".into()),
        },
        refused_changes: refused.map(str::to_owned),
        limits: serve::Limits::default(),
        grace: Duration::from_secs(1),
    }
}

fn framed<T: serde::Serialize>(message: &T) -> Vec<u8> {
    frame::encode(message, MAX_FRAME).unwrap()
}

fn call_of(id: u64, request: Request) -> ClientMessage {
    ClientMessage::Call {
        id,
        call: CallId::new(),
        request,
        location: None,
        deployment: None,
        from_seq: 0,
        again: false,
        on_behalf_of: None,
        caller_location: None,
        step: None,
        plan: None,
    }
}

/// Serves one connection through `door` whose client greets then sends `frames`, until
/// nothing more can happen (the client waits, every answer is given); what the server said
/// after its greeting.
fn exchange(door: Door, service: &Recording, frames: &[Vec<u8>]) -> Vec<ServerMessage> {
    let mut input = framed(&Hello::new("test"));
    for f in frames {
        input.extend_from_slice(f);
    }
    let out = Arc::new(Mutex::new(Vec::new()));
    let io = Scripted {
        input,
        at: 0,
        out: Arc::clone(&out),
    };
    let mut server = std::pin::pin!(serve::serve(
        io,
        door,
        service,
        futures::future::pending::<()>(),
        futures::stream::pending::<()>(),
    ));
    // Nothing here waits on anything outside: the server is polled until it says nothing
    // more.
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    let mut quiet = 0;
    while quiet < 3 {
        let before = out.lock().unwrap().len();
        assert!(
            server.as_mut().poll(&mut cx).is_pending(),
            "the server keeps the connection"
        );
        quiet = if out.lock().unwrap().len() == before {
            quiet + 1
        } else {
            0
        };
    }
    let bytes = out.lock().unwrap().clone();
    let mut rest = &bytes[..];
    let hello = frame::read_frame(&mut rest, MAX_FRAME).unwrap().unwrap();
    frame::decode::<Hello>(&hello).expect("the server greets");
    let mut said = Vec::new();
    while let Some(payload) = frame::read_frame(&mut rest, MAX_FRAME).unwrap() {
        said.push(frame::decode::<ServerMessage>(&payload).unwrap());
    }
    said
}

/// What the server said to exchange `id`.
fn said_to(said: &[ServerMessage], id: u64) -> &ServerMessage {
    said.iter()
        .find(|m| m.id() == Some(id))
        .unwrap_or_else(|| panic!("nothing said to exchange {id}: {said:?}"))
}

#[test]
fn at_a_door_refusing_state_changes_every_method_that_changes_states_is_refused_and_every_read_served()
 {
    let examples = Request::examples();
    assert_eq!(examples.len(), method::NAMES.len());
    let frames: Vec<Vec<u8>> = examples
        .iter()
        .enumerate()
        .map(|(i, r)| framed(&call_of(i as u64 + 1, r.clone())))
        .collect();
    let service = Recording::new();
    let said = exchange(
        door(Some("peer web2 is not an operator of this agent")),
        &service,
        &frames,
    );
    let mut refused = Vec::new();
    for (i, request) in examples.iter().enumerate() {
        let answer = said_to(&said, i as u64 + 1);
        if request.changes_state() {
            match answer {
                ServerMessage::Refused {
                    error: ApiError::Unauthorized { message },
                    ..
                } => assert!(message.contains("not an operator"), "{message}"),
                other => panic!("{} was not refused: {other:?}", request.method()),
            }
            refused.push(request.method());
        } else {
            assert!(
                matches!(answer, ServerMessage::Reply { .. }),
                "{} was not served: {answer:?}",
                request.method()
            );
        }
    }
    assert!(!refused.is_empty(), "some method changes states");
}

#[test]
fn at_a_door_allowing_state_changes_every_method_is_served() {
    let examples = Request::examples();
    let frames: Vec<Vec<u8>> = examples
        .iter()
        .enumerate()
        .map(|(i, r)| framed(&call_of(i as u64 + 1, r.clone())))
        .collect();
    let service = Recording::new();
    let said = exchange(door(None), &service, &frames);
    for (i, request) in examples.iter().enumerate() {
        let answer = said_to(&said, i as u64 + 1);
        assert!(
            matches!(answer, ServerMessage::Reply { .. }),
            "{} was not served: {answer:?}",
            request.method()
        );
    }
    let mut seen = service.seen.lock().unwrap().clone();
    seen.sort_unstable();
    let mut all = method::NAMES.to_vec();
    all.sort_unstable();
    assert_eq!(seen, all, "each reached the service once");
}

/// A call of exchange `id` whose request's `method` is `name`, its other fields those of a
/// `state` request.
fn call_named(id: u64, name: ciborium::Value) -> Vec<u8> {
    use ciborium::Value;
    let valid = call_of(
        id,
        method::State {
            xpath: "//WebServer".parse().unwrap(),
        }
        .into(),
    );
    let mut value = Value::serialized(&valid).unwrap();
    let request = value
        .as_map_mut()
        .unwrap()
        .iter_mut()
        .find(|(k, _)| k.as_text() == Some("request"))
        .map(|(_, v)| v)
        .unwrap();
    for (k, v) in request.as_map_mut().unwrap() {
        if k.as_text() == Some("method") {
            *v = name.clone();
        }
    }
    framed(&value)
}

#[test]
fn a_method_name_not_in_the_list_is_refused_naming_the_methods_there_are() {
    use ciborium::Value;
    let names = [
        "frobnicate",
        "ProvideCall",
        "PROVIDE_CALL",
        "provide_call ",
        "provide-call",
        "",
        "__private",
    ];
    let mut frames: Vec<Vec<u8>> = names
        .iter()
        .enumerate()
        .map(|(i, n)| call_named(i as u64 + 1, Value::Text((*n).into())))
        .collect();
    // Not a name at all: a method's place in the list, or nothing.
    let by_number = names.len() as u64 + 1;
    frames.push(call_named(by_number, Value::Integer(14.into())));
    frames.push(call_named(by_number + 1, Value::Null));
    let service = Recording::new();
    let said = exchange(door(None), &service, &frames);
    for (i, name) in names.iter().enumerate() {
        match said_to(&said, i as u64 + 1) {
            ServerMessage::Refused {
                error: ApiError::InvalidRequest { message },
                ..
            } => {
                assert!(
                    message.starts_with(&format!("unknown method '{}'", name.escape_debug())),
                    "{message}"
                );
                assert!(message.contains("provide_call, to_dot"), "{message}");
            }
            other => panic!("'{name}' was not refused as unknown: {other:?}"),
        }
    }
    for id in [by_number, by_number + 1] {
        let answer = said_to(&said, id);
        assert!(
            matches!(
                answer,
                ServerMessage::Refused {
                    error: ApiError::InvalidRequest { .. },
                    ..
                }
            ),
            "{answer:?}"
        );
    }
    assert!(service.seen.lock().unwrap().is_empty(), "nothing ran");
}
