//! Every method of the agent API, from a member of the mesh that is not an operator of the
//! agent it asks: the methods that change states are refused, every other is answered as the
//! location itself answers it. The list is the API's own, not one written here.

mod common;

use armonic_mesh::Identity;
use armonic_proto::{ApiError, Call, Endpoint, Request, finish};
use common::{config, eventually, start, start_with};

#[tokio::test]
async fn a_member_that_is_not_an_operator_is_refused_every_method_that_changes_states_and_served_every_read()
 {
    let key = armonic_mesh::SwarmKey::random().unwrap();
    let stranger = start("stranger", &key, &[]).await;
    let operator = Identity::ephemeral();
    let mut guarded = config(&key, Identity::ephemeral(), &[&stranger]);
    guarded.operators = Some(vec![operator.peer_id()]);
    let b = start_with("b", guarded).await;
    eventually("the stranger to see b", || async { stranger.sees("b") }).await;
    let generation = b.local.location().generation();
    let examples = Request::examples();
    assert_eq!(examples.len(), armonic_proto::method::NAMES.len());
    let mut refused = Vec::new();
    for request in examples {
        let name = request.method();
        let through_mesh = finish(
            stranger
                .handle
                .endpoint("b")
                .call(Call::new(request.clone())),
            |_| {},
        )
        .await;
        if request.changes_state() {
            match through_mesh {
                Err(ApiError::Unauthorized { message }) => {
                    assert!(message.contains("not an operator"), "{name}: {message}");
                }
                other => panic!("{name} was not refused: {other:?}"),
            }
            refused.push(name);
        } else {
            let here = finish(Endpoint::call(&b.local, Call::new(request)), |_| {}).await;
            assert!(
                !matches!(through_mesh, Err(ApiError::Unauthorized { .. })),
                "{name} was refused: {through_mesh:?}"
            );
            assert_eq!(through_mesh, here, "{name} answered as b answers it");
        }
    }
    assert!(!refused.is_empty());
    assert_eq!(
        b.local.location().generation(),
        generation,
        "no lifecycle of b moved"
    );
}
