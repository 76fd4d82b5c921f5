//! # armonic-agent
//!
//! The agent of a machine: it hosts the lifecycles of its location, keeps their state in the
//! state directory (whose lock it holds for its life), and serves the agent API
//! ([`armonic_proto`]) on a Unix socket in that directory, owner-only. The command line talks
//! to it there; the mesh (next) will relay other agents' calls to it.
//!
//! Where to start reading: [`Agent::start`] (what starting means), `server.rs` (a connection,
//! a call, its log lines), [`Client`] (the other end).
//!
//! ```no_run
//! # async fn demo(config: armonic_agent::Config) -> Result<(), armonic_agent::Error> {
//! let agent = armonic_agent::Agent::start(config).await?;
//! println!("ready on {}", agent.socket().display());
//! agent.serve(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

mod client;
mod mesh;
mod server;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use armonic_lifecycle::{Interrupt, LifecycleDef, Location, LockWait, LogSink, OsType};
use armonic_proto::{Endpoint, Local};
use tokio::sync::Semaphore;

pub use client::{Client, ConnectError};
pub use server::Limits;

/// Name of the control socket in the state directory.
pub const SOCKET: &str = "agent.sock";

/// Where the agent keeps its state when not told: `ARMONIC_STATE_DIR`, else
/// `/var/lib/armonic` for root, else `$XDG_STATE_HOME/armonic` or
/// `~/.local/state/armonic`.
pub fn default_state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ARMONIC_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/var/lib/armonic");
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("armonic");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
    home.join(".local/state/armonic")
}

/// The control socket of the agent keeping its state in `state_dir`.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET)
}

/// How an agent runs.
#[derive(Clone)]
pub struct Config {
    /// The location (name, OS, public address, simulation…); its `state_dir` is required.
    pub location: armonic_lifecycle::Config,
    /// The lifecycles it hosts.
    pub lifecycles: Vec<LifecycleDef>,
    /// Time running steps get between SIGTERM and SIGKILL when the agent stops.
    pub grace: Duration,
    /// Where the agent shows the log lines of the calls it runs (its own output).
    pub logs: Arc<dyn LogSink>,
    /// Bounds of what clients may ask.
    pub limits: Limits,
    /// How to join the mesh; a lone agent when `None`.
    pub mesh: Option<armonic_mesh::Config>,
}

impl Config {
    /// A configuration for the location `location` hosting `lifecycles`.
    pub fn new(location: armonic_lifecycle::Config, lifecycles: Vec<LifecycleDef>) -> Config {
        Config {
            location,
            lifecycles,
            grace: armonic_lifecycle::interrupt::DEFAULT_GRACE,
            logs: Arc::new(armonic_lifecycle::log::TracingSink),
            limits: Limits::default(),
            mesh: None,
        }
    }

    /// Builds a default location configuration for this machine.
    pub fn for_machine(state_dir: PathBuf, lifecycles: Vec<LifecycleDef>) -> Config {
        Config::new(
            armonic_lifecycle::Config {
                os: OsType::detect(),
                state_dir: Some(state_dir),
                ..armonic_lifecycle::Config::default()
            },
            lifecycles,
        )
    }
}

/// Why the agent cannot start or serve.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The agent has no state directory.
    #[error("the agent needs a state directory")]
    NoStateDir,
    /// The location could not start (the state directory is in use, a name is invalid…).
    #[error(transparent)]
    Location(#[from] armonic_lifecycle::Error),
    /// The mesh could not start (no swarm key, an address already in use…).
    #[error(transparent)]
    Mesh(#[from] armonic_mesh::Error),
    /// The control socket could not be made.
    #[error("cannot listen on {}: {source}", .path.display())]
    Socket {
        /// The socket.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// A started agent: its location is up (state restored, directory locked) and its socket
/// listens; [`Agent::serve`] answers.
pub struct Agent {
    endpoint: Arc<Local>,
    mesh: Option<armonic_mesh::Handle>,
    listener: std::os::unix::net::UnixListener,
    socket: PathBuf,
    interrupt: Interrupt,
    config: Config,
}

impl Agent {
    /// Starts the location (taking the state directory's lock and restoring every state),
    /// joins the mesh, and listens on its control socket (mode 0600).
    pub async fn start(config: Config) -> Result<Agent, Error> {
        use std::os::unix::fs::PermissionsExt;
        let state_dir = config.location.state_dir.clone().ok_or(Error::NoStateDir)?;
        let interrupt = Interrupt::new(config.grace);
        let mut location_config = config.location.clone();
        location_config.lock_wait = LockWait::No;
        let location = Location::builder(location_config)
            .sink(Arc::clone(&config.logs))
            .interrupt(interrupt.clone())
            .build(config.lifecycles.clone())?;
        for issue in location.restore_issues() {
            tracing::warn!("{issue}");
        }
        let socket = socket_path(&state_dir);
        let err = |source| Error::Socket {
            path: socket.clone(),
            source,
        };
        // The directory's lock is ours: a socket file left there is a dead agent's.
        match std::fs::remove_file(&socket) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
        }
        let listener = std::os::unix::net::UnixListener::bind(&socket).map_err(err)?;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
        listener.set_nonblocking(true).map_err(err)?;
        let endpoint = Arc::new(Local::new(location));
        let mesh = match config.mesh.clone() {
            Some(mesh_config) => {
                let service = Arc::clone(&endpoint) as Arc<dyn Endpoint>;
                let handle = armonic_mesh::start(mesh_config, service).await?;
                tokio::spawn(mesh::announce(Arc::clone(&endpoint), handle.clone()));
                Some(handle)
            }
            None => None,
        };
        Ok(Agent {
            mesh,
            endpoint,
            listener,
            socket,
            interrupt,
            config,
        })
    }

    /// The control socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The mesh, when the agent is in one.
    pub fn mesh(&self) -> Option<&armonic_mesh::Handle> {
        self.mesh.as_ref()
    }

    /// The location served.
    pub fn location(&self) -> &Location {
        self.endpoint.location()
    }

    /// What stops the agent's running steps.
    pub fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }

    /// Serves until `shutdown` completes; then stops accepting, interrupts running steps
    /// (SIGTERM, SIGKILL after the grace period), waits for the calls to end, and removes
    /// the socket. States are saved as each step ends.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let listener =
            tokio::net::UnixListener::from_std(self.listener).map_err(|source| Error::Socket {
                path: self.socket.clone(),
                source,
            })?;
        let limits = self.config.limits.clone();
        let calls = Arc::new(Semaphore::new(limits.calls));
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let meshed = mesh::Meshed {
            local: Arc::clone(&self.endpoint),
            mesh: self.mesh.clone(),
        };
        let shared = Arc::new(server::Shared {
            endpoint: Arc::new(meshed) as Arc<dyn Endpoint>,
            name: self.endpoint.name().to_owned(),
            limits: limits.clone(),
            watchers: server::Watchers::default(),
            calls: Arc::clone(&calls),
            local_logs: Arc::clone(&self.config.logs),
            interrupt: self.interrupt.clone(),
            stopping,
        });
        let mut connections = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        connections.spawn(server::connection(stream, Arc::clone(&shared)));
                    }
                    Err(e) => {
                        tracing::warn!("cannot accept a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(listener);
        let _ = std::fs::remove_file(&self.socket);
        self.interrupt.request(None);
        let _ = stop.send(true);
        // Every call holds a permit: having them all back means every call ended. Steps
        // get their grace period, then are killed; a little more for the engine to save.
        let total = u32::try_from(limits.calls).unwrap_or(u32::MAX);
        let wait = self.config.grace + Duration::from_secs(5);
        if tokio::time::timeout(wait, calls.acquire_many(total))
            .await
            .is_err()
        {
            tracing::warn!("some calls did not end in time; stopping anyway");
            self.interrupt.kill();
        }
        // Connections send their last replies and close.
        let flushed = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(2), flushed)
            .await
            .is_err()
        {
            connections.abort_all();
        }
        if let Some(mesh) = &self.mesh {
            mesh.shutdown().await;
        }
        Ok(())
    }
}
