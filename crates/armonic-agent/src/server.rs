//! The control socket's door: every connection on a task of its own, served by the one call
//! server (`armonic_proto::serve`), its caller the local user the kernel names.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use armonic_proto::io::Budget;
use armonic_proto::serve::{self, Door, Service};
use armonic_proto::{ApiError, Caller, ServerMessage, frame};
use tokio::net::UnixListener;
use tokio::task::JoinSet;
use tokio_util::compat::TokioAsyncReadCompatExt;

/// Bounds of what clients of the socket may ask.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest frame read (checked before reading it).
    pub max_frame: u32,
    /// Time a new connection has to greet.
    pub hello_timeout: Duration,
    /// Calls open at once on one connection.
    pub calls_per_connection: usize,
    /// Journal reads open at once on one connection.
    pub reads_per_connection: usize,
    /// Connections open at once.
    pub connections: usize,
    /// Bytes of frames being read at once, from all connections together.
    pub budget: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_frame: frame::MAX_FRAME,
            hello_timeout: Duration::from_secs(5),
            calls_per_connection: 64,
            reads_per_connection: 16,
            connections: 256,
            budget: 32 * 1024 * 1024,
        }
    }
}

/// What every connection of the socket shares.
pub(crate) struct SocketDoor {
    pub name: String,
    pub limits: Limits,
    pub grace: Duration,
}

/// The connections being served, to let them finish.
pub(crate) struct Connections(JoinSet<()>);

impl Connections {
    /// Lets the connections send their last answers for `wait`, then closes them.
    pub async fn finish(mut self, wait: Duration) {
        let flushed = async { while self.0.join_next().await.is_some() {} };
        if tokio::time::timeout(wait, flushed).await.is_err() {
            self.0.abort_all();
        }
    }
}

/// The user behind a connection, as the kernel says.
fn caller(stream: &tokio::net::UnixStream) -> Caller {
    match stream.peer_cred() {
        Ok(cred) => {
            let uid = cred.uid();
            let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
                .ok()
                .flatten()
                .map(|u| u.name);
            Caller::Local {
                uid,
                user,
                pid: cred.pid(),
            }
        }
        // Only the agent's own user can open the socket.
        Err(_) => Caller::Local {
            uid: nix::unistd::geteuid().as_raw(),
            user: None,
            pid: None,
        },
    }
}

/// Accepts connections on `listener` until `shutdown` completes; each is served on a task of
/// its own. Past the limit of connections, a new one is told why and closed.
pub(crate) async fn accept(
    listener: UnixListener,
    door: SocketDoor,
    service: Arc<dyn Service>,
    shutdown: impl Future<Output = ()>,
) -> Connections {
    let budget = Budget::new(door.limits.budget);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    if connections.len() >= door.limits.connections {
                        let error = ApiError::Busy {
                            message: format!(
                                "the agent has {} connections open (at most {}): try again shortly",
                                connections.len(),
                                door.limits.connections
                            ),
                        };
                        let max = door.limits.max_frame;
                        tokio::spawn(async move {
                            let mut io = stream.compat();
                            let refusal = ServerMessage::Refused { id: None, error };
                            let _ = tokio::time::timeout(
                                Duration::from_secs(1),
                                armonic_proto::io::write_frame(&mut io, &refusal, max),
                            )
                            .await;
                        });
                        continue;
                    }
                    let d = Door {
                        name: door.name.clone(),
                        caller: caller(&stream),
                        refused_changes: None,
                        limits: serve::Limits {
                            max_frame: door.limits.max_frame,
                            calls: door.limits.calls_per_connection,
                            reads: door.limits.reads_per_connection,
                            budget: Some(budget.clone()),
                        },
                        grace: door.grace,
                    };
                    let service = Arc::clone(&service);
                    let hello = door.limits.hello_timeout;
                    connections.spawn(async move {
                        // A local socket closes when the agent dies: no need to say it is alive.
                        let ticks = futures::stream::pending();
                        serve::serve(stream.compat(), d, &*service, tokio::time::sleep(hello), ticks)
                            .await;
                    });
                }
                Err(e) => {
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    Connections(connections)
}
