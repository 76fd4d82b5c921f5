//! XMPP servers for tests: a real Prosody (or ejabberd) on loopback, with a configuration,
//! ports and data of its own, stopped when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The domain of test servers.
pub const DOMAIN: &str = "armonic.test";
/// Their rooms' domain.
pub const MUC: &str = "logs.armonic.test";

/// A port free now on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Prosody,
    Ejabberd,
}

/// A running server.
pub struct Server {
    pub kind: Kind,
    pub port: u16,
    dir: tempfile::TempDir,
    config: PathBuf,
    child: Option<Child>,
    /// ejabberd's Erlang port mapper, started by it and outliving it.
    epmd_port: Option<u16>,
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn found(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(program).is_file()))
}

/// Runs `command` to its end, within `limit`.
fn run(mut command: Command, limit: Duration) -> Result<String, String> {
    let shown = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{shown}: {e}"))?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{shown} did not finish within {limit:?}"));
            }
        }
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{shown} failed ({}): {text}", out.status))
    }
}

/// Waits until something accepts connections on `port`.
fn wait_listening(port: u16, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("nothing listens on port {port} after {limit:?}"))
}

impl Server {
    /// A server of `kind`, or why there is none (then the test is skipped).
    pub fn start(kind: Kind) -> Result<Server, String> {
        match kind {
            Kind::Prosody => Server::prosody(),
            Kind::Ejabberd => Server::ejabberd(),
        }
    }

    fn prosody() -> Result<Server, String> {
        if !found("prosody") || !found("prosodyctl") {
            return Err("prosody is not installed (apt-get install prosody)".into());
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let d = dir.path();
        std::fs::create_dir_all(d.join("data")).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(d.join("certs")).map_err(|e| e.to_string())?;
        let port = free_port();
        let config = d.join("prosody.cfg.lua");
        let text = format!(
            r#"run_as_root = {root}
pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
certificates = "{d}/certs"
log = {{ {{ levels = {{ min = "info" }}, to = "file", filename = "{d}/prosody.log" }} }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {port} }}
c2s_interfaces = {{ "127.0.0.1" }}
s2s_ports = {{ }}
component_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
modules_enabled = {{ "roster", "saslauth", "disco", "register", "ping", "posix" }}
modules_disabled = {{ "s2s", "tls" }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = true
min_seconds_between_registrations = 0
authentication = "internal_hashed"
VirtualHost "{DOMAIN}"
Component "{MUC}" "muc"
    muc_room_locking = false
"#,
            root = is_root(),
            d = d.display(),
        );
        std::fs::write(&config, text).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(d.join("console.log")).map_err(|e| e.to_string())?;
        let child = Command::new("prosody")
            .arg("--config")
            .arg(&config)
            .arg("-F")
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start prosody: {e}"))?;
        let mut server = Server {
            kind: Kind::Prosody,
            port,
            dir,
            config,
            child: Some(child),
            epmd_port: None,
        };
        wait_listening(port, Duration::from_secs(10)).map_err(|e| server.failure(&e))?;
        Ok(server)
    }

    fn ejabberd() -> Result<Server, String> {
        Err("ejabberd is not set up for these tests".into())
    }

    /// `e`, with the end of the server's log.
    fn failure(&mut self, e: &str) -> String {
        let mut text = String::new();
        for name in ["console.log", "prosody.log", "logs/ejabberd.log"] {
            if let Ok(t) = std::fs::read_to_string(self.dir.path().join(name)) {
                let tail: Vec<&str> = t.lines().rev().take(20).collect();
                text.push_str(&format!("\n--- {name}\n"));
                for l in tail.into_iter().rev() {
                    text.push_str(l);
                    text.push('\n');
                }
            }
        }
        format!("{e}{text}")
    }

    /// Creates account `user@DOMAIN`.
    pub fn register(&mut self, user: &str, password: &str) {
        let mut c = match self.kind {
            Kind::Prosody => {
                let mut c = Command::new("prosodyctl");
                c.arg("--config").arg(&self.config);
                c
            }
            Kind::Ejabberd => self.ejabberdctl(),
        };
        c.args(["register", user, DOMAIN, password]);
        if let Err(e) = run(c, Duration::from_secs(30)) {
            let e = self.failure(&e);
            panic!("cannot register {user}: {e}");
        }
    }

    fn ejabberdctl(&self) -> Command {
        Command::new("ejabberdctl")
    }

    /// The server's address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self.epmd_port;
    }
}
