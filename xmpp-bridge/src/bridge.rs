//! The bridge: a node of the mesh that serves no location, and one XMPP client for each live
//! location of the mesh, started when the location appears and stopped when it leaves.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use armonic_mesh::Handle;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use xmpp_parsers::jid::FullJid;

use crate::config::{AGENT_RESOURCE, Config, MASTER_RESOURCE};
use crate::session::{self, Role, Spec};
use crate::shared::Shared;

/// Why the bridge cannot start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The mesh could not be joined.
    #[error(transparent)]
    Mesh(#[from] armonic_mesh::Error),
}

/// A running bridge.
pub struct Bridge {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    supervisor: JoinHandle<()>,
}

impl Bridge {
    /// Joins the mesh and starts following its live locations.
    pub async fn start(config: Config) -> Result<Bridge, Error> {
        // A node that serves no call and announces no catalogue: never a location itself.
        let mesh = armonic_mesh::start(config.mesh.clone(), None).await?;
        if config.allow.is_empty() {
            tracing::warn!(
                "no JID is allowed to change states: state_goto and provide_call will be refused"
            );
        }
        let shared = Arc::new(Shared {
            config: Arc::new(config),
            mesh,
            online: Mutex::new(BTreeSet::new()),
        });
        let (stop, stopped) = watch::channel(false);
        let supervisor = tokio::spawn(supervise(Arc::clone(&shared), stopped));
        Ok(Bridge {
            shared,
            stop,
            supervisor,
        })
    }

    /// The bridge's handle on the mesh.
    pub fn mesh(&self) -> &Handle {
        &self.shared.mesh
    }

    /// The locations whose agent is logged in now.
    pub fn online(&self) -> Vec<String> {
        self.shared
            .online
            .lock()
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Logs every agent out, then leaves the mesh.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.supervisor.await;
        self.shared.mesh.shutdown().await;
    }
}

/// An agent's client task.
struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// The JID of `location`'s agent.
pub fn agent_jid(location: &str, domain: &str) -> Result<FullJid, String> {
    FullJid::new(&format!("{location}@{domain}/{AGENT_RESOURCE}")).map_err(|e| e.to_string())
}

/// Logs the master in, when its password is known: it offers the ad-hoc commands.
fn start_master(shared: &Arc<Shared>) -> Option<Running> {
    let Some(password) = shared.config.master_password.clone() else {
        tracing::info!(
            "no password for the master's account: the ad-hoc commands (provides, build) are not offered"
        );
        return None;
    };
    let jid = match shared.config.master.with_resource_str(MASTER_RESOURCE) {
        Ok(jid) => jid,
        Err(e) => {
            tracing::warn!("the master's JID cannot take a resource: {e}");
            return None;
        }
    };
    tracing::info!("the master logs in as {jid} and offers the ad-hoc commands");
    let spec = Spec {
        location: MASTER_RESOURCE.to_owned(),
        role: Role::Master,
        jid,
        password,
    };
    let (stop, stop_rx) = oneshot::channel();
    let task = tokio::spawn(session::run(spec, Arc::clone(shared), stop_rx));
    Some(Running { stop, task })
}

async fn supervise(shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    let master = start_master(&shared);
    let mut running: HashMap<String, Running> = HashMap::new();
    // Locations that cannot have an agent (no password, no valid JID): said once.
    let mut refused: HashSet<String> = HashSet::new();
    let mut tick = tokio::time::interval(shared.config.watch_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            _ = tick.tick() => {}
        }
        let live: BTreeSet<String> = shared.mesh.live().into_iter().map(|i| i.name).collect();
        let gone: Vec<String> = running
            .keys()
            .filter(|name| !live.contains(*name))
            .cloned()
            .collect();
        for name in gone {
            if let Some(agent) = running.remove(&name) {
                tracing::info!(location = name, "left the mesh: its agent goes offline");
                stop(agent).await;
            }
        }
        refused.retain(|name| live.contains(name));
        for name in live {
            if running.contains_key(&name) || refused.contains(&name) {
                continue;
            }
            let Some(password) = shared.config.password_of(&name) else {
                tracing::warn!(
                    location = name,
                    "no password for its XMPP account: it stays offline"
                );
                refused.insert(name);
                continue;
            };
            let jid = match agent_jid(&name, &shared.config.domain) {
                Ok(jid) => jid,
                Err(e) => {
                    tracing::warn!(
                        location = name,
                        "its name cannot be a JID, it stays offline: {e}"
                    );
                    refused.insert(name);
                    continue;
                }
            };
            let spec = Spec {
                location: name.clone(),
                role: Role::Agent,
                jid,
                password: password.to_owned(),
            };
            let (stop, stop_rx) = oneshot::channel();
            let task = tokio::spawn(session::run(spec, Arc::clone(&shared), stop_rx));
            tracing::info!(location = name, "joined the mesh: its agent logs in");
            running.insert(name, Running { stop, task });
        }
    }
    let all: Vec<Running> = running.into_values().chain(master).collect();
    futures::future::join_all(all.into_iter().map(stop)).await;
}

/// Stops an agent's client, waiting a little for it to say goodbye.
async fn stop(agent: Running) {
    let _ = agent.stop.send(());
    let mut task = agent.task;
    if tokio::time::timeout(Duration::from_secs(10), &mut task)
        .await
        .is_err()
    {
        task.abort();
    }
}
