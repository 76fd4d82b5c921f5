//! Every method of the agent API, called over XMPP from a JID the bridge does not allow to
//! change states: the methods that change states are refused, every read is answered, and a
//! method the bridge does not expose is said so. The list is the API's own, not one written
//! here. Runs on Prosody and on ejabberd; a server that is not installed skips its test.

mod common;

use armonic_proto::{Request, Route};
use common::{Kind, Outcome, World, agent};
use serde_json::{Value as Json, json};

/// The original's positional arguments naming what `request` is about.
fn args_of(request: &Request) -> Json {
    let args = match request.route() {
        Route::Listing(a) | Route::Resource(a) => vec![Json::from(a.to_string())],
        Route::Lifecycle(name) => vec![Json::from(name)],
        Route::Here | Route::Everywhere => Vec::new(),
    };
    json!({"args": args, "kwargs": {}})
}

async fn a_jid_not_allowed_is_refused_every_method_that_changes_states_and_served_every_read(
    kind: Kind,
) {
    let Some(w) = World::start(kind).await else {
        return;
    };
    let web1 = agent("web1");
    let mut stranger = w.client("stranger").await;
    let current = json!({"args": ["//WebServer"], "kwargs": {}});
    let before = stranger
        .call(&web1, "state_current", current.clone(), None)
        .await
        .value();
    let mut refused = Vec::new();
    for request in Request::examples() {
        let name = request.method();
        let params = args_of(&request);
        let id = stranger.send_call(&web1, name, &params, None).await;
        let status = stranger.status(&id).await;
        if request.changes_state() {
            match status {
                Err(e) => assert_eq!(e.code(), "Unauthorized", "{name}"),
                Ok(s) => panic!("{name} was taken: {s}"),
            }
            refused.push(name);
            continue;
        }
        match status {
            Ok(s) => {
                assert_eq!(s, "executing", "{name}");
                match stranger.outcome(&id).await {
                    Outcome::Result(_) => {}
                    Outcome::Exception { code, message } => {
                        // Answered by the location (an address matching nothing is its
                        // answer), never refused.
                        assert_ne!(code, "Unauthorized", "{name}: {message}");
                    }
                }
            }
            Err(e) => {
                // The mesh's own questions are not the original's API.
                assert_eq!(e.code(), "MethodNotExposed", "{name}");
                assert!(
                    !armonic_xmpp_bridge::original::METHODS.contains(&name),
                    "{name}"
                );
            }
        }
    }
    assert_eq!(refused, ["state_goto", "provide_call"]);
    // A name in no list at all.
    let id = stranger
        .send_call(&web1, "__import__", &json!({"args": []}), None)
        .await;
    assert_eq!(
        stranger.status(&id).await.unwrap_err().code(),
        "MethodNotExposed"
    );
    // Nothing changed.
    let after = stranger
        .call(&web1, "state_current", current, None)
        .await
        .value();
    assert_eq!(after, before);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_jid_not_allowed_is_refused_every_method_that_changes_states_on_prosody() {
    a_jid_not_allowed_is_refused_every_method_that_changes_states_and_served_every_read(
        Kind::Prosody,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_jid_not_allowed_is_refused_every_method_that_changes_states_on_ejabberd() {
    a_jid_not_allowed_is_refused_every_method_that_changes_states_and_served_every_read(
        Kind::Ejabberd,
    )
    .await;
}
