//! Agents in a mesh: they find each other, know each other's catalogues, call each other,
//! notice deaths and returns, and keep strangers and non-operators out.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use armonic_lifecycle::{Level, MemorySink};
use armonic_mesh::{Identity, SwarmKey};
use armonic_proto::{ApiError, DeploymentId, Request, Response};
use common::{config, eventually, start, start_with};

fn provide_call(uri: &str, deployment: &DeploymentId) -> Request {
    Request::ProvideCall {
        uri: uri.parse().unwrap(),
        values: Default::default(),
        path_idx: 0,
        deployment: deployment.clone(),
    }
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
    let logs = MemorySink::new();
    let d = DeploymentId::new();
    let result = a
        .handle
        .call(
            "b",
            provide_call("//WebServer//start", &d),
            Arc::new(logs.clone()),
        )
        .await
        .unwrap();
    match result {
        Response::Returned(Some(v)) => assert_eq!(v.to_string(), r#"{"url":"http://b:80"}"#),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        logs.messages(Level::Info),
        [
            "Installation of webserver packages...",
            "Configuration of webserver service...",
            "Webserver listening on port 80",
            "Activation of webserver service...",
        ]
    );
    let lines = logs.records();
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
async fn anyone_may_watch_a_deployments_log_lines() {
    let key = SwarmKey::random().unwrap();
    let a = start("a", &key, &[]).await;
    let _b = start("b", &key, &[&a]).await;
    let c = start("c", &key, &[&a]).await;
    eventually("the mesh to form", || async { a.sees("b") && c.sees("b") }).await;
    let d = DeploymentId::new();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let watcher = {
        let (handle, seen, d) = (c.handle.clone(), Arc::clone(&seen), d.clone());
        tokio::spawn(async move {
            handle
                .watch(&d, |r| seen.lock().unwrap().push(r.message), async {
                    let _ = stopped.await;
                })
                .await
        })
    };
    // The watcher's subscription takes a moment to reach b: call until it sees a call's lines.
    eventually("the watcher to see the lines", || async {
        a.handle
            .call(
                "b",
                provide_call("//WebServer//start", &d),
                Arc::new(MemorySink::new()),
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        seen.lock()
            .unwrap()
            .iter()
            .any(|m| m == "Activation of webserver service...")
    })
    .await;
    let _ = stop.send(());
    watcher.await.unwrap().unwrap();
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
    let refused = a
        .handle
        .call(
            "b",
            provide_call("//WebServer//start", &d),
            Arc::new(MemorySink::new()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ApiError::Unauthorized { .. }),
        "{refused}"
    );
    assert!(refused.to_string().contains("not an operator"), "{refused}");
    let read = a
        .handle
        .call(
            "b",
            Request::Provide {
                xpath: "//WebServer//start".parse().unwrap(),
            },
            Arc::new(MemorySink::new()),
        )
        .await;
    assert!(matches!(read, Ok(Response::Provides(_))), "{read:?}");
    let allowed = op
        .handle
        .call(
            "b",
            provide_call("//WebServer//start", &d),
            Arc::new(MemorySink::new()),
        )
        .await;
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
    assert!(
        stranger
            .handle
            .peers()
            .iter()
            .all(|p| p.catalogue.is_none() && !p.live)
    );
    assert!(!a.sees("stranger") && !b.sees("stranger"));
    let err = stranger
        .handle
        .call("a", Request::Info, Arc::new(MemorySink::new()))
        .await
        .unwrap_err();
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
    let err = a
        .handle
        .call("b", Request::Info, Arc::new(MemorySink::new()))
        .await
        .unwrap_err();
    assert!(err.is_unreachable(), "{err}");
    // b returns, same identity, same address: a dials it again.
    let mut again = config(&key, identity, &[]);
    again.listen = vec![addr];
    let _b = start_with("b", again).await;
    eventually("a to see b back", || async { a.sees("b") }).await;
}
