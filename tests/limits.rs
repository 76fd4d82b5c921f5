//! What an agent bears: a member of the mesh holding many streams with frames begun, a local
//! client opening too many reads or connections. Each gets a clear refusal; the agent keeps
//! its memory and serves everyone else.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;

mod common;
use common::mesh::Mesh;
use common::{greeted, next_message as next, rss, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_holding_256_streams_with_frames_begun_cannot_push_an_agent_past_100_mb() {
    let mesh = Mesh::start(&["web1"]);
    let key = armonic_mesh::SwarmKey::read(&mesh.dir.path().join("swarm.key")).unwrap();
    let mut intruder = armonic_mesh::intruder::Intruder::join(&key, &mesh.addr("web1"))
        .await
        .unwrap();
    // 256 streams, each with a frame of 1 MiB (the largest a member may send) all but sent.
    let refused = intruder.hold(256, 1024 * 1024).await;
    let pid = mesh.pid("web1");
    let mut peak = rss(pid);
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        peak = peak.max(rss(pid));
    }
    assert!(
        peak < 100 * 1024 * 1024,
        "the agent grew to {} MB",
        peak / (1024 * 1024)
    );
    assert!(refused > 0, "holding {} streams", intruder.holding());
    assert!(intruder.holding() <= 32, "at most 32 streams per member");
    // Everyone else is served meanwhile.
    let out = mesh.run("web1", &["provide-call", "//WebServer//start"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn the_socket_refuses_reads_and_connections_past_its_limits_saying_why() {
    use armonic_proto::{ApiError, ClientMessage, ServerMessage, frame};
    let mesh = Mesh::start(&["web1"]);
    let socket = mesh.state("web1").join("agent.sock");
    // Sixteen reads following the journal on one connection; the seventeenth is refused.
    let mut s = greeted(&socket);
    for id in 1..=17 {
        let read = ClientMessage::Read {
            id,
            query: armonic_proto::journal::Query {
                follow: true,
                ..Default::default()
            },
            location: None,
            all: false,
        };
        frame::write_frame(&mut s, &read, frame::MAX_FRAME).unwrap();
    }
    s.flush().unwrap();
    let refused = loop {
        match next(&mut s) {
            Some(ServerMessage::Refused { id, error }) => break (id, error),
            Some(_) => {}
            None => panic!("the connection ended without a refusal"),
        }
    };
    assert_eq!(refused.0, Some(17));
    assert!(
        matches!(&refused.1, ApiError::Busy { message } if message.contains("at most 16")),
        "{:?}",
        refused.1
    );
    // 256 connections held; the next is told why it is refused.
    let mut held = vec![s];
    while held.len() < 256 {
        held.push(greeted(&socket));
    }
    let mut extra = UnixStream::connect(&socket).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    match next(&mut extra) {
        Some(ServerMessage::Refused { id: None, error }) => {
            assert_eq!(error.kind(), "busy");
            assert!(error.to_string().contains("at most 256"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    // Once they go, the agent serves again.
    drop(held);
    common::eventually("the agent to serve again", || {
        mesh.run("web1", &["status"]).status.success()
    });
}
