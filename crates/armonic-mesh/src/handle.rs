//! The handle: what the rest of the agent holds of the mesh. Clonable; talks to the event
//! loop through a bounded channel, reads the view directly.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use armonic_lifecycle::info::Info;
use armonic_lifecycle::{Address, LogRecord, LogSink};
use armonic_proto::{ApiError, Catalogue, DeploymentId, Endpoint, PeerInfo, Request, Response};
use libp2p::PeerId;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::event_loop::Command;
use crate::protocol::{self, ApiCall, LogLine};
use crate::view::View;

/// A clonable handle on a running mesh node.
#[derive(Clone)]
pub struct Handle {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) view: Arc<RwLock<View>>,
    pub(crate) local: PeerId,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) query_timeout: Duration,
}

fn gone() -> ApiError {
    ApiError::Agent {
        message: "the mesh has stopped".into(),
    }
}

/// Delivers a call's lines in order, whatever order they arrive in, each once.
struct InOrder<'a> {
    next: u64,
    early: BTreeMap<u64, LogRecord>,
    logs: &'a dyn LogSink,
}

impl InOrder<'_> {
    fn line(&mut self, seq: u64, record: LogRecord) {
        if seq < self.next {
            return;
        }
        self.early.insert(seq, record);
        while let Some(r) = self.early.remove(&self.next) {
            self.logs.log(&r);
            self.next += 1;
        }
    }
}

impl Handle {
    fn view(&self) -> std::sync::RwLockReadGuard<'_, View> {
        self.view
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> String {
        self.local.to_string()
    }

    /// Every peer known, live or not.
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.view().peers()
    }

    /// The live locations of the mesh (not this node's), by name.
    pub fn live(&self) -> Vec<Info> {
        self.view().live()
    }

    /// The live locations whose catalogue offers a provide `xpath` matches, by name.
    pub fn offering(&self, xpath: &Address) -> Vec<String> {
        self.view().offering(xpath)
    }

    /// The addresses this node listens on.
    pub async fn listen_addrs(&self) -> Vec<String> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::ListenAddrs(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await
            .unwrap_or_default()
            .into_iter()
            .map(|a| a.to_string())
            .collect()
    }

    /// Tells the mesh this node's catalogue changed.
    pub async fn set_catalogue(&self, catalogue: Catalogue) {
        let _ = self
            .commands
            .send(Command::SetCatalogue(Box::new(catalogue)))
            .await;
    }

    /// Calls `request` on the agent of location `location`; the log lines of the call go to
    /// `logs` in order, every one of them before the answer.
    ///
    /// Reads time out; state changes last as long as they last, unless the peer goes away
    /// (then the call fails as `unreachable`).
    pub async fn call(
        &self,
        location: &str,
        request: Request,
        logs: Arc<dyn LogSink>,
    ) -> Result<Response, ApiError> {
        let peer = self
            .view()
            .peer_of(location)
            .ok_or_else(|| ApiError::Unreachable {
                location: location.to_owned(),
                message: "no live agent of the mesh has this name".into(),
            })?;
        let topic = request
            .deployment()
            .map(|d| protocol::log_topic(d.as_str()));
        let mut lines = match &topic {
            Some(t) => Some(self.subscribe(t).await?),
            None => None,
        };
        let changes = request.changes_state();
        let call = ApiCall {
            call: DeploymentId::new().to_string(),
            request,
        };
        let id = call.call.clone();
        let (tx, rx) = oneshot::channel();
        let sent = self
            .commands
            .send(Command::Call {
                peer,
                call,
                reply: tx,
            })
            .await;
        let result = async {
            sent.map_err(|_| gone())?;
            let mut order = InOrder {
                next: 0,
                early: BTreeMap::new(),
                logs: &*logs,
            };
            let reply = {
                tokio::pin!(rx);
                loop {
                    let line = async {
                        match lines.as_mut() {
                            Some(l) => l.recv().await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        r = &mut rx => break r.map_err(|_| gone())?,
                        l = line => match l {
                            Ok(LogLine { call, seq, record }) if call == id => order.line(seq, record),
                            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                            Err(broadcast::error::RecvError::Closed) => lines = None,
                        },
                    }
                }
            }?;
            // Lines missed live come with the reply, before the result.
            for (seq, record) in reply.logs.into_iter().enumerate() {
                order.line(seq as u64, record);
            }
            if reply.dropped > 0 {
                tracing::warn!(
                    location,
                    "{} log lines of the call were too many to keep",
                    reply.dropped
                );
            }
            reply.result
        };
        let result = if changes {
            result.await
        } else {
            match tokio::time::timeout(self.query_timeout, result).await {
                Ok(r) => r,
                Err(_) => Err(ApiError::Timeout {
                    location: location.to_owned(),
                    seconds: self.query_timeout.as_secs(),
                }),
            }
        };
        if let Some(t) = topic {
            let _ = self.commands.send(Command::Unsubscribe { topic: t }).await;
        }
        result
    }

    /// Location `name` of the mesh as an [`Endpoint`]: its calls are
    /// [`Handle::call_blocking`], so use it from threads that do not run the mesh's runtime.
    pub fn endpoint(&self, name: &str) -> Arc<dyn Endpoint> {
        Arc::new(Remote {
            name: name.to_owned(),
            mesh: self.clone(),
        })
    }

    /// Like [`Handle::call`], from a thread that is not running the mesh's runtime; the log
    /// lines are given to `logs` on this thread (a sink may then block).
    pub fn call_blocking(
        &self,
        location: &str,
        request: Request,
        logs: Arc<dyn LogSink>,
    ) -> Result<Response, ApiError> {
        enum Msg {
            Line(LogRecord),
            Done(Result<Response, ApiError>),
        }
        struct Forward(std::sync::mpsc::Sender<Msg>);
        impl LogSink for Forward {
            fn log(&self, record: &LogRecord) {
                let _ = self.0.send(Msg::Line(record.clone()));
            }
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let forward = Arc::new(Forward(tx.clone()));
        let (me, location) = (self.clone(), location.to_owned());
        self.runtime.spawn(async move {
            let result = me.call(&location, request, forward).await;
            let _ = tx.send(Msg::Done(result));
        });
        loop {
            match rx.recv() {
                Ok(Msg::Line(record)) => logs.log(&record),
                Ok(Msg::Done(result)) => return result,
                Err(_) => return Err(gone()),
            }
        }
    }

    async fn subscribe(&self, topic: &str) -> Result<broadcast::Receiver<LogLine>, ApiError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Subscribe {
                topic: topic.to_owned(),
                lines: tx,
            })
            .await
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())
    }

    /// Streams the log lines of deployment `id`, from any agent of the mesh, to `each` until
    /// `stop` completes.
    pub async fn watch(
        &self,
        id: &DeploymentId,
        mut each: impl FnMut(LogRecord),
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), ApiError> {
        let topic = protocol::log_topic(id.as_str());
        let mut lines = self.subscribe(&topic).await?;
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                l = lines.recv() => match l {
                    Ok(line) => each(line.record),
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            }
        }
        let _ = self.commands.send(Command::Unsubscribe { topic }).await;
        Ok(())
    }

    /// Stops the node.
    pub async fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown).await;
    }
}

/// Another location of the mesh, as an endpoint.
struct Remote {
    name: String,
    mesh: Handle,
}

impl Endpoint for Remote {
    fn name(&self) -> &str {
        &self.name
    }

    fn call(&self, request: Request, logs: Arc<dyn LogSink>) -> Result<Response, ApiError> {
        self.mesh.call_blocking(&self.name, request, logs)
    }
}
