//! The wire format: every request and response survives a round trip, and no input, however
//! broken, panics the decoder.

use armonic_lifecycle::{Level, LogRecord, Value};
use armonic_proto::frame::{self, MAX_FRAME};
use armonic_proto::journal::{Entry, Query, What};
use armonic_proto::{
    ApiError, CallId, Caller, ClientMessage, DeploymentId, Request, Response, ServerMessage,
};
use proptest::prelude::*;

fn call(id: u64, request: Request) -> ClientMessage {
    ClientMessage::Call {
        id,
        call: CallId::new(),
        request,
        location: None,
        deployment: Some(DeploymentId::new()),
        from_seq: 0,
        again: false,
        on_behalf_of: None,
        caller_location: None,
        step: None,
        plan: None,
    }
}

fn round_trip<T>(msg: &T) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let bytes = frame::encode(msg, MAX_FRAME).unwrap();
    let payload = frame::read_frame(&mut &bytes[..], MAX_FRAME)
        .unwrap()
        .unwrap();
    frame::decode(&payload).unwrap()
}

#[test]
fn every_request_of_every_method_round_trips() {
    for (id, request) in Request::examples().into_iter().enumerate() {
        let msg = call(id as u64, request);
        assert_eq!(round_trip(&msg), msg);
    }
}

#[test]
fn requests_keep_the_originals_method_names_on_the_wire() {
    let json = serde_json::to_value(Request::from(armonic_proto::method::ProvideCallPath {
        xpath: "//start".parse().unwrap(),
    }))
    .unwrap();
    assert_eq!(
        json,
        serde_json::json!({"method": "provide_call_path", "xpath": "//start"})
    );
    let info = serde_json::to_value(Request::from(armonic_proto::method::Info {})).unwrap();
    assert_eq!(info, serde_json::json!({"method": "info"}));
    let back: Request = serde_json::from_value(info).unwrap();
    assert_eq!(back.method(), "info");
}

fn line(message: &str) -> LogRecord {
    LogRecord {
        level: Level::Info,
        location: "vm".into(),
        lifecycle: "WebServer".into(),
        state: Some("Active".into()),
        provide: Some("start".into()),
        deployment: Some("d".into()),
        message: message.into(),
    }
}

#[test]
fn lines_replies_journal_entries_and_errors_round_trip() {
    let id = CallId::new();
    let msgs = vec![
        ServerMessage::Lines {
            id: 3,
            seq: 0,
            lines: [line("Activation of webserver service..."), line("done")]
                .into_iter()
                .collect(),
        },
        ServerMessage::Missed { id: 3, count: 12 },
        ServerMessage::Reply {
            id: 3,
            result: Ok(Response::ProvideCall(Some(Value::from("x")))),
        },
        ServerMessage::Reply {
            id: 4,
            result: Err(ApiError::MultipleMatch {
                xpath: "//start".into(),
                matches: vec!["/a/X/S/start".into(), "/b/X/S/start".into()],
            }),
        },
        ServerMessage::Entries {
            id: 5,
            location: "web2".into(),
            entries: vec![
                Entry {
                    n: 1,
                    time_ms: 1_700_000_000_000,
                    what: What::Call {
                        id: id.clone(),
                        caller: Some(Caller::Peer {
                            peer_id: "12D3KooW".into(),
                            name: Some("web1".into()),
                        }),
                        on_behalf_of: Some("root@web1".into()),
                        deployment: None,
                        lifecycle: Some("WebServer".into()),
                        request: Request::examples().remove(14),
                        step: Some("node_0_1".into()),
                        plan: Some(std::sync::Arc::new(armonic_proto::DeploymentDoc {
                            root: "//WebSite//start".into(),
                            driver: "web1".into(),
                            started_ms: 1_700_000_000_000,
                            steps: vec![armonic_proto::PlannedStep {
                                node: "node_0_1".into(),
                                xpath: "WebServer/Active/start".into(),
                                location: "web2".into(),
                                ..Default::default()
                            }],
                            ..Default::default()
                        })),
                    },
                },
                Entry {
                    n: 2,
                    time_ms: 1_700_000_000_001,
                    what: What::Line {
                        id: id.clone(),
                        seq: 0,
                        record: line("x"),
                    },
                },
                Entry {
                    n: 3,
                    time_ms: 1_700_000_000_002,
                    what: What::End {
                        id,
                        lines: 1,
                        millis: 2,
                        result: Err(ApiError::Unknown {
                            location: "web2".into(),
                            message: "the agent stopped during the step".into(),
                        }),
                    },
                },
            ],
        },
        ServerMessage::CaughtUp { id: 5 },
        ServerMessage::Ended { id: 5, error: None },
        ServerMessage::Refused {
            id: None,
            error: ApiError::TooLarge { size: 9, max: 8 },
        },
    ];
    for msg in msgs {
        assert_eq!(round_trip(&msg), msg);
    }
    let read = ClientMessage::Read {
        id: 9,
        query: Query {
            deployment: Some(DeploymentId::new()),
            follow: true,
            ..Query::default()
        },
        location: None,
        all: true,
    };
    assert_eq!(round_trip(&read), read);
}

#[derive(serde::Serialize)]
struct Raw<'a> {
    message: &'a str,
    id: u64,
    call: &'a str,
    request: RawRequest<'a>,
}

#[derive(serde::Serialize)]
struct RawRequest<'a> {
    method: &'a str,
    xpath: &'a str,
}

#[test]
fn a_malformed_request_is_refused_naming_the_exchange_it_belongs_to() {
    let raw = Raw {
        message: "call",
        id: 41,
        call: "c",
        request: RawRequest {
            method: "state",
            xpath: "///bad",
        },
    };
    let bytes = frame::encode(&raw, MAX_FRAME).unwrap();
    let (id, err) = ClientMessage::decode(&bytes[frame::HEADER..]).unwrap_err();
    assert_eq!(id, Some(41), "the client waiting for exchange 41 hears why");
    assert_eq!(err.kind(), "protocol");
    assert!(err.to_string().contains("not valid"), "{err}");
    let (id, _) = ClientMessage::decode(b"\xff\x00").unwrap_err();
    assert_eq!(id, None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_bytes_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = ClientMessage::decode(&bytes);
        let _ = frame::decode::<ServerMessage>(&bytes);
        let _ = frame::decode::<armonic_proto::Hello>(&bytes);
        let _ = frame::read_frame(&mut &bytes[..], 256);
    }

    #[test]
    fn no_mutation_of_a_valid_call_panics_the_decoder(
        index in 0usize..32,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let requests = Request::examples();
        let msg = call(7, requests[index % requests.len()].clone());
        let mut bytes = frame::encode(&msg, MAX_FRAME).unwrap()[frame::HEADER..].to_vec();
        for (at, byte) in flips {
            let n = bytes.len();
            bytes[at % n] ^= byte;
        }
        let n = bytes.len();
        bytes.truncate(cut % (n + 1));
        let _ = ClientMessage::decode(&bytes);
    }
}

/// An agent on the other end of `client`: greets, reads one frame, answers `answer`.
fn agent_answering(mut server: std::os::unix::net::UnixStream, answer: ServerMessage) {
    let hello = frame::read_frame(&mut server, MAX_FRAME).unwrap().unwrap();
    frame::decode::<armonic_proto::Hello>(&hello).unwrap();
    frame::write_frame(&mut server, &armonic_proto::Hello::new("web1"), MAX_FRAME).unwrap();
    let _call = frame::read_frame(&mut server, MAX_FRAME).unwrap().unwrap();
    frame::write_frame(&mut server, &answer, MAX_FRAME).unwrap();
}

#[test]
fn a_refusal_without_an_exchange_id_ends_the_call_with_its_reason() {
    use futures::StreamExt;
    let (client, server) = std::os::unix::net::UnixStream::pair().unwrap();
    let agent = std::thread::spawn(move || {
        agent_answering(
            server,
            ServerMessage::Refused {
                id: None,
                error: ApiError::Protocol {
                    message: "undecodable message".into(),
                },
            },
        )
    });
    client
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let call = armonic_proto::Call::new(armonic_proto::method::Info {});
    let heard: Vec<_> = futures::executor::block_on(
        armonic_proto::client::converse(
            futures::io::AllowStdIo::new(client),
            "cli".into(),
            call,
            MAX_FRAME,
        )
        .collect(),
    );
    agent.join().unwrap();
    match heard.as_slice() {
        [Ok(armonic_proto::client::Heard::Event(armonic_proto::Event::Done(Err(e))))] => {
            assert_eq!(e.kind(), "protocol", "{e}");
        }
        other => panic!("the call should end with the refusal, heard {other:?}"),
    }
}
