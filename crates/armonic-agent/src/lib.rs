//! # armonic-agent
//!
//! The agent of a machine: it hosts the lifecycles of its location, keeps their state in the
//! state directory (whose lock it holds for its life), runs every call into its journal
//! (`STATE_DIR/journal`, `armonic-journal`), and serves the agent API on two doors: a Unix
//! socket in the state directory, owner-only, for the command line of its machine, and the
//! mesh, for the other agents. Both doors are the same server (`armonic_proto::serve`); what
//! differs is who the caller is and what it may do.
//!
//! Where to start reading: [`Agent::start`] (what starting means), `mesh.rs` (where a call
//! goes: this location or another agent of the mesh), `server.rs` (the socket's door),
//! [`Client`] (the other end).
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
mod reads;
mod server;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use armonic_journal::Host;
use armonic_lifecycle::{Interrupt, LifecycleDef, Location, LockWait, OsType};
use armonic_proto::serve::Service;

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
    /// Time running steps get between SIGTERM and SIGKILL when the agent stops, and calls
    /// stopped by their caller unless it gives its own.
    pub grace: Duration,
    /// Bounds of what clients may ask.
    pub limits: Limits,
    /// How much the journal keeps.
    pub journal: armonic_journal::Limits,
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
            limits: Limits::default(),
            journal: armonic_journal::Limits::default(),
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
    /// The journal could not be opened.
    #[error(transparent)]
    Journal(#[from] armonic_journal::OpenError),
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

/// A started agent: its location is up (state restored, directory locked, journal open) and
/// its socket listens; [`Agent::serve`] answers.
pub struct Agent {
    host: Host,
    service: Arc<mesh::Meshed>,
    mesh: Option<armonic_mesh::Handle>,
    listener: std::os::unix::net::UnixListener,
    socket: PathBuf,
    interrupt: Interrupt,
    config: Config,
}

impl Agent {
    /// Starts the location (taking the state directory's lock and restoring every state),
    /// opens its journal (ending as unknown the calls a previous run left unfinished), joins
    /// the mesh, and listens on its control socket (mode 0600).
    pub async fn start(config: Config) -> Result<Agent, Error> {
        use std::os::unix::fs::PermissionsExt;
        let state_dir = config.location.state_dir.clone().ok_or(Error::NoStateDir)?;
        let interrupt = Interrupt::new(config.grace);
        let mut location_config = config.location.clone();
        location_config.lock_wait = LockWait::No;
        let location = Location::builder(location_config)
            .interrupt(interrupt.clone())
            .build(config.lifecycles.clone())?;
        for issue in location.restore_issues() {
            tracing::warn!("{issue}");
        }
        let journal = armonic_journal::Config {
            limits: config.journal.clone(),
            ..armonic_journal::Config::in_dir(state_dir.join("journal"))
        };
        let runtime = tokio::runtime::Handle::current();
        let host = Host::new(location, &journal)?.spawning(Arc::new(move |job| {
            runtime.spawn_blocking(job);
        }));
        host.journal().agent("started");
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
        let service = Arc::new(mesh::Meshed::new(host.clone()));
        let mesh = match config.mesh.clone() {
            Some(mut mesh_config) => {
                mesh_config.grace = config.grace;
                let handle = armonic_mesh::start(
                    mesh_config,
                    Some(Arc::clone(&service) as Arc<dyn Service>),
                )
                .await?;
                service.join(handle.clone());
                tokio::spawn(mesh::announce(host.clone(), handle.clone()));
                Some(handle)
            }
            None => None,
        };
        Ok(Agent {
            host,
            service,
            mesh,
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
        self.host.location()
    }

    /// What stops the agent's running steps.
    pub fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }

    /// Serves until `shutdown` completes; then stops accepting, interrupts running steps
    /// (SIGTERM, SIGKILL after the grace period), waits for the calls to end, and removes
    /// the socket. States are saved as each step ends; the journal says the agent stopped.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let listener =
            tokio::net::UnixListener::from_std(self.listener).map_err(|source| Error::Socket {
                path: self.socket.clone(),
                source,
            })?;
        let door = server::SocketDoor {
            name: self.host.location().config().name.clone(),
            limits: self.config.limits.clone(),
            grace: self.config.grace,
        };
        let connections = server::accept(
            listener,
            door,
            Arc::clone(&self.service) as Arc<dyn Service>,
            shutdown,
        )
        .await;
        let _ = std::fs::remove_file(&self.socket);
        self.interrupt.request(None);
        // Steps get their grace period, then are killed; a little more for the engine to
        // save.
        let wait = self.config.grace + Duration::from_secs(5);
        let deadline = tokio::time::Instant::now() + wait;
        while self.host.busy() > 0 {
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!("some calls did not end in time; stopping anyway");
                self.interrupt.kill();
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Connections send their last replies and close.
        connections.finish(Duration::from_secs(2)).await;
        if let Some(mesh) = &self.mesh {
            mesh.shutdown().await;
        }
        self.host.journal().agent("stopped");
        self.host.journal().sync();
        Ok(())
    }
}
