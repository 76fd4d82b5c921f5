//! Who may call what on real agents: every method of the API from a member of the mesh that
//! is not an operator, asked of the agent directly or of another agent to relay; method names
//! not in the API over the control socket. The list of methods is the API's own.

use std::time::Duration;

mod common;
use common::mesh::Mesh;
use common::{eventually, greeted, next_message, text};

use armonic_proto::{ApiError, Call, Request, frame, method};

/// The peer id of agent `name`, as it lists itself.
fn peer_id(mesh: &Mesh, name: &str) -> String {
    let out = mesh.run(name, &["--format", "json", "mesh"]);
    let peers: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    peers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["local"] == true)
        .and_then(|p| p["peer_id"].as_str())
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_is_not_an_operator_changes_no_state_whether_it_asks_the_agent_or_another_to_relay()
 {
    // op may change states on guard; the intruder (a member, with the key) may not.
    let mut mesh = Mesh::start(&["op"]);
    let op = peer_id(&mesh, "op");
    mesh.spawn_with("guard", &["--operator", &op]);
    eventually("op and guard to see each other", || {
        mesh.live("op") == ["guard"] && mesh.live("guard") == ["op"]
    });
    let key = armonic_mesh::SwarmKey::read(&mesh.dir.path().join("swarm.key")).unwrap();
    let (guard_addr, op_addr) = (mesh.addr("guard"), mesh.addr("op"));
    let join = armonic_mesh::intruder::Intruder::join;
    let mut at_guard = join(&key, &guard_addr).await.unwrap();
    let mut at_op = join(&key, &op_addr).await.unwrap();
    let mut refused = Vec::new();
    for request in Request::examples() {
        let name = request.method();
        let direct = at_guard.call(Call::new(request.clone()).at("guard")).await;
        if request.changes_state() {
            assert!(
                matches!(&direct, Err(ApiError::Unauthorized { message }) if message.contains("not an operator")),
                "{name}: {direct:?}"
            );
            // Through op, which guard trusts: op does not relay it.
            let relayed = at_op.call(Call::new(request).at("guard")).await;
            assert!(
                matches!(&relayed, Err(ApiError::InvalidRequest { message }) if message.contains("ask guard itself")),
                "{name} through op: {relayed:?}"
            );
            refused.push(name);
        } else {
            assert!(
                !matches!(direct, Err(ApiError::Unauthorized { .. })),
                "{name} was refused: {direct:?}"
            );
        }
    }
    assert_eq!(refused, ["state_goto", "provide_call"]);
    // Named by its address alone, a call to op is op's: it does not reach guard.
    let by_address = at_op
        .call(Call::new(method::ProvideCall {
            uri: "/guard/WebServer//start".parse().unwrap(),
            values: Default::default(),
            path_idx: 0,
        }))
        .await;
    assert!(by_address.is_err(), "{by_address:?}");
    // guard ran nothing that changes states.
    let out = mesh.run("guard", &["state-current", "//WebServer"]);
    assert!(
        text(&out.stdout).contains("/guard/WebServer/NotInstalled"),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = mesh.run("guard", &["journal", "--no-lines"]);
    let journal = text(&out.stdout);
    assert!(
        !journal.contains(": state_goto") && !journal.contains(": provide_call "),
        "{journal}"
    );
}

/// A call whose request names its method `method`, as a client not built from the API could
/// send it.
#[derive(serde::Serialize)]
struct RawCall<'a> {
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
fn a_method_name_not_in_the_api_is_refused_over_the_control_socket_naming_the_methods_there_are() {
    let mesh = Mesh::start(&["web1"]);
    let socket = mesh.state("web1").join("agent.sock");
    let mut s = greeted(&socket);
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    for (id, name) in [(1, "frobnicate"), (2, "ProvideCall"), (3, "state_goto ")] {
        let raw = RawCall {
            message: "call",
            id,
            call: "8c7bd6ee-56a5-4b3f-8f5a-0f5b4c8b1d2e",
            request: RawRequest {
                method: name,
                xpath: "//WebServer",
            },
        };
        frame::write_frame(&mut s, &raw, frame::MAX_FRAME).unwrap();
        match next_message(&mut s) {
            Some(armonic_proto::ServerMessage::Refused {
                id: Some(got),
                error: ApiError::InvalidRequest { message },
            }) => {
                assert_eq!(got, id);
                assert!(
                    message.starts_with(&format!("unknown method '{}'", name.escape_debug())),
                    "{message}"
                );
                assert!(message.contains("provide_call"), "{message}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // The connection still serves.
    frame::write_frame(
        &mut s,
        &RawCall {
            message: "call",
            id: 4,
            call: "5e0c0e5e-3b0f-4d7e-9d0c-2f1f4c7a9b10",
            request: RawRequest {
                method: "state",
                xpath: "//WebServer",
            },
        },
        frame::MAX_FRAME,
    )
    .unwrap();
    assert!(
        matches!(
            next_message(&mut s),
            Some(armonic_proto::ServerMessage::Reply {
                id: 4,
                result: Ok(_)
            })
        ),
        "served"
    );
}
