//! The wire format: every request and response survives a round trip, and no input, however
//! broken, panics the decoder.

use armonic_lifecycle::{Kind, Level, LogRecord, Value, Values};
use armonic_proto::frame::{self, MAX_FRAME};
use armonic_proto::{ApiError, ClientMessage, DeploymentId, Request, Response, ServerMessage};
use proptest::prelude::*;

fn addr(s: &str) -> armonic_lifecycle::Address {
    s.parse().unwrap()
}

fn every_request() -> Vec<Request> {
    let values = Values::new().set("//conf/port", 8080);
    let deployment = DeploymentId::new();
    vec![
        Request::Info,
        Request::Lifecycle { xpath: addr("//*") },
        Request::State {
            xpath: addr("//WebServer"),
        },
        Request::StateCurrent {
            xpath: addr("//WebServer"),
        },
        Request::StateGotoPath {
            xpath: addr("//WebServer/Active"),
        },
        Request::StateGotoRequires {
            uri: addr("//WebServer/Active"),
            path_idx: 1,
        },
        Request::StateGoto {
            uri: addr("//WebServer/Configured"),
            values: values.clone(),
            path_idx: 0,
            deployment: deployment.clone(),
        },
        Request::Provide {
            xpath: addr("//start"),
        },
        Request::ProvideCallPath {
            xpath: addr("//start"),
        },
        Request::ProvideCallRequires {
            uri: addr("//WebServer//start"),
            path_idx: 0,
        },
        Request::ProvideCallValidate {
            uri: addr("//WebServer//start"),
            values: values.clone(),
            path_idx: 0,
        },
        Request::ProvideCall {
            uri: addr("//WebServer//start"),
            values,
            path_idx: 0,
            deployment,
        },
        Request::ToDot {
            lifecycle: "WebServer".into(),
            reachable: true,
        },
        Request::ToPrimitive {
            lifecycle: "/vm/WebServer".into(),
        },
        Request::Uri {
            xpath: addr("//*"),
            relative: true,
            kind: Some(Kind::Provide),
        },
        Request::Xpath {
            xpath: addr("//port"),
        },
    ]
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
fn every_request_round_trips() {
    for (id, request) in every_request().into_iter().enumerate() {
        let msg = ClientMessage::Call {
            id: id as u64,
            request,
            location: None,
        };
        assert_eq!(round_trip(&msg), msg);
    }
}

#[test]
fn replies_logs_and_errors_round_trip() {
    let msgs = vec![
        ServerMessage::Log {
            id: 3,
            seq: 0,
            record: LogRecord {
                level: Level::Info,
                location: "vm".into(),
                lifecycle: "WebServer".into(),
                state: Some("Active".into()),
                provide: Some("start".into()),
                deployment: Some("d".into()),
                message: "Activation of webserver service...".into(),
            },
        },
        ServerMessage::Reply {
            id: 3,
            result: Ok(Response::Returned(Some(Value::from("x")))),
        },
        ServerMessage::Reply {
            id: 4,
            result: Err(ApiError::MultipleMatch {
                xpath: "//start".into(),
                matches: vec!["/a/X/S/start".into(), "/b/X/S/start".into()],
            }),
        },
        ServerMessage::Refused {
            id: None,
            error: ApiError::TooLarge { size: 9, max: 8 },
        },
    ];
    for msg in msgs {
        assert_eq!(round_trip(&msg), msg);
    }
}

#[test]
fn a_malformed_address_is_refused_when_decoding() {
    #[derive(serde::Serialize)]
    struct Raw<'a> {
        message: &'a str,
        id: u64,
        request: RawRequest<'a>,
    }
    #[derive(serde::Serialize)]
    struct RawRequest<'a> {
        method: &'a str,
        xpath: &'a str,
    }
    let raw = Raw {
        message: "call",
        id: 1,
        request: RawRequest {
            method: "state",
            xpath: "///bad",
        },
    };
    let bytes = frame::encode(&raw, MAX_FRAME).unwrap();
    let err = frame::decode::<ClientMessage>(&bytes[frame::HEADER..]).unwrap_err();
    assert_eq!(err.kind(), "protocol");
    assert!(err.to_string().contains("not valid"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_bytes_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = frame::decode::<ClientMessage>(&bytes);
        let _ = frame::decode::<ServerMessage>(&bytes);
        let _ = frame::decode::<armonic_proto::Hello>(&bytes);
        let _ = frame::read_frame(&mut &bytes[..], 256);
    }

    #[test]
    fn no_mutation_of_a_valid_call_panics_the_decoder(
        index in 0usize..16,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let requests = every_request();
        let msg = ClientMessage::Call { id: 7, request: requests[index % requests.len()].clone(), location: None };
        let mut bytes = frame::encode(&msg, MAX_FRAME).unwrap()[frame::HEADER..].to_vec();
        for (at, byte) in flips {
            let n = bytes.len();
            bytes[at % n] ^= byte;
        }
        let n = bytes.len();
        bytes.truncate(cut % (n + 1));
        let _ = frame::decode::<ClientMessage>(&bytes);
    }
}
