//! Agents in a mesh: they find each other, know each other's catalogues, call each other,
//! notice deaths and returns, and keep strangers and non-operators out.

mod common;

use std::time::{Duration, Instant};

use armonic_lifecycle::{Level, LogRecord};
use armonic_mesh::{Handle, Identity, SwarmKey};
use armonic_proto::{ApiError, Call, DeploymentId, Event, Listed, Response, finish, method};
use common::{config, eventually, start, start_with};

fn provide_call(uri: &str, deployment: &DeploymentId) -> Call {
    Call::new(method::ProvideCall {
        uri: uri.parse().unwrap(),
        values: Default::default(),
        path_idx: 0,
    })
    .in_deployment(deployment.clone())
}

/// Makes `call` on location `at` of the mesh, keeping its lines.
async fn call(mesh: &Handle, at: &str, call: Call) -> (Result<Response, ApiError>, Vec<LogRecord>) {
    let mut lines = Vec::new();
    let result = finish(mesh.endpoint(at).call(call), |e| {
        if let Event::Lines { lines: batch, .. } = e {
            lines.extend(batch.records());
        }
    })
    .await;
    (result, lines)
}

fn info() -> Call {
    Call::new(method::Info {})
}

#[tokio::test]
async fn agents_given_one_peer_find_every_other_and_their_catalogues() {
    let key = SwarmKey::random().unwrap();
    let a = start("a", &key, &[]).await;
    let b = start("b", &key, &[&a]).await;
    let c = start("c", &key, &[&a]).await;
    eventually("every agent to know every other", || async {
        a.sees("b") && a.sees("c") && b.sees("a") && b.sees("c") && c.sees("a") && c.sees("b")
    })
    .await;
    let peers = c.handle.peers();
    let b_info = peers
        .iter()
        .find(|p| p.name.as_deref() == Some("b"))
        .unwrap();
    let catalogue = b_info.catalogue.as_ref().unwrap();
    assert!(catalogue.lifecycles.iter().any(|l| l.name == "WebServer"));
    assert!(b_info.live);
    assert_eq!(
        c.handle.offering(&"//WebServer//start".parse().unwrap()),
        ["a", "b"]
    );
}

#[tokio::test]
async fn a_remote_call_streams_its_log_lines_in_order_before_its_result() {
    let key = SwarmKey::random().unwrap();
    let a = start("a", &key, &[]).await;
    let b = start("b", &key, &[&a]).await;
    eventually("a to see b", || async { a.sees("b") }).await;
    let d = DeploymentId::new();
    let (result, lines) = call(&a.handle, "b", provide_call("//WebServer//start", &d)).await;
    match result {
        Ok(Response::ProvideCall(Some(v))) => {
            assert_eq!(v.to_string(), r#"{"url":"http://b:80"}"#)
        }
        other => panic!("{other:?}"),
    }
    let info: Vec<&str> = lines
        .iter()
        .filter(|r| r.level == Level::Info)
        .map(|r| r.message.as_str())
        .collect();
    assert_eq!(
        info,
        [
            "Installation of webserver packages...",
            "Configuration of webserver service...",
            "Webserver listening on port 80",
            "Activation of webserver service...",
        ]
    );
    assert!(
        lines
            .iter()
            .all(|r| r.location == "b" && r.deployment.as_deref() == Some(d.as_str()))
    );
    // The state changed on b, and the mesh hears of it.
    b.announce().await;
    eventually("a to see b's WebServer active", || async {
        a.handle.peers().iter().any(|p| {
            p.name.as_deref() == Some("b")
                && p.catalogue.as_ref().is_some_and(|c| {
                    c.lifecycles
                        .iter()
                        .any(|l| l.name == "WebServer" && l.current.as_deref() == Some("Active"))
                })
        })
    })
    .await;
}

#[tokio::test]
async fn any_member_may_read_the_journal_of_another_and_follow_a_deployment() {
    use armonic_proto::journal::{Query, What};
    use armonic_proto::serve::{ReadEvent, ReadRequest};
    use futures::StreamExt;
    let key = SwarmKey::random().unwrap();
    let a = start("a", &key, &[]).await;
    let _b = start("b", &key, &[&a]).await;
    let c = start("c", &key, &[&a]).await;
    eventually("the mesh to form", || async { a.sees("b") && c.sees("b") }).await;
    let d = DeploymentId::new();
    // A line written before the reader began is read too.
    let (result, _) = call(&a.handle, "b", provide_call("//WebServer//start", &d)).await;
    assert!(result.is_ok(), "{result:?}");
    let read = ReadRequest {
        query: Query {
            deployment: Some(d.clone()),
            follow: true,
            ..Query::default()
        },
        location: None,
        all: false,
        caller: armonic_proto::Caller::Process { pid: 0 },
    };
    let mut entries = c.handle.read_journal("b", read);
    let mut lines = Vec::new();
    let mut caught_up = false;
    while let Some(event) = tokio::time::timeout(Duration::from_secs(10), entries.next())
        .await
        .expect("entries come")
    {
        match event {
            ReadEvent::Entries { location, entries } => {
                assert_eq!(location, "b");
                for e in entries {
                    if let What::Line { record, .. } = e.what {
                        lines.push(record.message);
                    }
                }
            }
            ReadEvent::CaughtUp => {
                caught_up = true;
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(caught_up);
    assert!(
        lines
            .iter()
            .any(|m| m == "Activation of webserver service..."),
        "{lines:?}"
    );
}

#[tokio::test]
async fn only_operators_may_change_states_but_anyone_may_read() {
    let key = SwarmKey::random().unwrap();
    let a = start("a", &key, &[]).await;
    let operator = Identity::ephemeral();
    let mut guarded = config(&key, Identity::ephemeral(), &[&a]);
    guarded.operators = Some(vec![operator.peer_id()]);
    let _b = start_with("b", guarded).await;
    let op = start_with("op", config(&key, operator, &[&a])).await;
    eventually("b to be known", || async { a.sees("b") && op.sees("b") }).await;
    let d = DeploymentId::new();
    let refused = call(&a.handle, "b", provide_call("//WebServer//start", &d))
        .await
        .0
        .unwrap_err();
    assert!(
        matches!(refused, ApiError::Unauthorized { .. }),
        "{refused}"
    );
    assert!(refused.to_string().contains("not an operator"), "{refused}");
    let read = call(
        &a.handle,
        "b",
        Call::new(method::Provide {
            xpath: "//WebServer//start".parse().unwrap(),
        }),
    )
    .await
    .0;
    assert!(matches!(read, Ok(Response::Provide(_))), "{read:?}");
    let allowed = call(&op.handle, "b", provide_call("//WebServer//start", &d))
        .await
        .0;
    assert!(allowed.is_ok(), "{allowed:?}");
}

#[tokio::test]
async fn an_agent_without_the_swarm_key_learns_nothing() {
    let key = SwarmKey::random().unwrap();
    let a = start("a", &key, &[]).await;
    let b = start("b", &key, &[&a]).await;
    let other = SwarmKey::random().unwrap();
    let stranger = start("stranger", &other, &[&a, &b]).await;
    eventually("a and b to meet", || async { a.sees("b") }).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let listed: Vec<String> = stranger
        .handle
        .peers()
        .into_iter()
        .filter(|p| !p.local)
        .map(|p| p.peer_id)
        .collect();
    assert!(listed.is_empty(), "the stranger lists no one: {listed:?}");
    let id = stranger.identity.peer_id();
    for member in [&a, &b] {
        assert!(
            !member.handle.peers().iter().any(|p| p.peer_id == id),
            "{} does not list the stranger",
            member.name
        );
    }
    assert!(!a.sees("stranger") && !b.sees("stranger"));
    let err = call(&stranger.handle, "a", info()).await.0.unwrap_err();
    assert!(err.is_unreachable(), "{err}");
}

#[tokio::test]
async fn a_dead_agent_is_noticed_within_seconds_and_comes_back_when_it_returns() {
    let key = SwarmKey::random().unwrap();
    let a = start("a", &key, &[]).await;
    let identity = Identity::ephemeral();
    let b = start_with("b", config(&key, identity.clone(), &[&a])).await;
    eventually("a to see b", || async { a.sees("b") }).await;
    let addr = b.addr.clone();
    b.handle.shutdown().await;
    let start_time = Instant::now();
    eventually("a to see b gone", || async { !a.sees("b") }).await;
    let noticed = start_time.elapsed();
    assert!(noticed < Duration::from_secs(5), "{noticed:?}");
    let err = call(&a.handle, "b", info()).await.0.unwrap_err();
    assert!(err.is_unreachable(), "{err}");
    assert!(
        err.to_string().contains("has not answered"),
        "a known member: {err}"
    );
    let _ = <method::Info as Listed>::NAME;
    // b returns, same identity, same address: a dials it again.
    let mut again = config(&key, identity, &[]);
    again.listen = vec![addr];
    let _b = start_with("b", again).await;
    eventually("a to see b back", || async { a.sees("b") }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_agents_joined_through_one_know_each_other_over_a_few_connections_each() {
    let key = SwarmKey::random().unwrap();
    let mut nodes = vec![start("n0", &key, &[]).await];
    for i in 1..20 {
        let node = start(&format!("n{i}"), &key, &[&nodes[0]]).await;
        nodes.push(node);
    }
    eventually("every agent to know the 19 others", || async {
        nodes.iter().all(|n| n.handle.live().len() == 19)
    })
    .await;
    // Every agent first connects with the one it was given; once each holds the links it
    // keeps, the others are let go: none is connected with all, and all still know all.
    eventually("no agent to hold a connection with every other", || async {
        nodes
            .iter()
            .all(|n| n.handle.stats().connected < 19 && n.handle.live().len() == 19)
    })
    .await;
    let most = nodes
        .iter()
        .map(|n| n.handle.stats().connected)
        .max()
        .unwrap();
    assert!(most < 19, "{most}");
}
