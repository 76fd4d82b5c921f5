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

/// `N` distinct ports free now on loopback.
fn free_ports<const N: usize>() -> Result<[u16; N], String> {
    let listeners = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("no free port: {e}"))?;
    let mut ports = [0; N];
    for (port, l) in ports.iter_mut().zip(&listeners) {
        *port = l.local_addr().map_err(|e| e.to_string())?.port();
    }
    Ok(ports)
}

/// A running server.
pub struct Server {
    pub kind: Kind,
    pub port: u16,
    dir: tempfile::TempDir,
    config: PathBuf,
    child: Option<Child>,
    /// What ejabberd's commands need.
    ejabberd: Option<Ejabberd>,
}

/// An ejabberd node of its own: `ejabberdctl` runs as the `ejabberd` user (it would `su` to
/// it, in a session of its own, otherwise) with its home in the server's directory, and
/// reaches the node by an Erlang distribution port of its own on loopback, without `epmd`
/// (`ERL_DIST_PORT`) and with a cookie of its own.
struct Ejabberd {
    ctl: PathBuf,
    /// `NAME@localhost`, unique.
    node: String,
    /// The `ejabberd` user, when the tests run as root.
    user: Option<nix::unistd::User>,
    /// Where an `epmd` would listen, were one started anyway: on loopback, for this node only.
    epmd_port: u16,
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn find(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|p| p.join(program))
        .find(|p| p.is_file())
}

fn found(program: &str) -> bool {
    find(program).is_some()
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

/// Whether a server on `port` answers a client's stream header with its features. (ejabberd
/// listens before it has started, and accepts only then.)
fn answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let header = format!(
        "<?xml version='1.0'?><stream:stream to='{DOMAIN}' version='1.0' xmlns='jabber:client' \
         xmlns:stream='http://etherx.jabber.org/streams'>"
    );
    if s.set_read_timeout(Some(Duration::from_secs(1))).is_err()
        || s.write_all(header.as_bytes()).is_err()
    {
        return false;
    }
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    while let Ok(n @ 1..) = s.read(&mut buf) {
        got.extend_from_slice(&buf[..n]);
        if got.windows(8).any(|w| w == b"features") {
            let _ = s.write_all(b"</stream:stream>");
            return true;
        }
    }
    false
}

/// The processes of this machine: (pid, parent's pid, name).
fn processes() -> Vec<(i32, i32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| {
            let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (name) state ppid …`, the name possibly holding spaces and parentheses.
            let (head, tail) = stat.rsplit_once(')')?;
            let name = head.split_once('(')?.1.to_owned();
            let ppid = tail.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid, name))
        })
        .collect()
}

/// The processes descending from `root`, parents before children.
fn descendants(root: i32) -> Vec<(i32, String)> {
    let all = processes();
    let mut found: Vec<(i32, String)> = Vec::new();
    let mut parents = vec![root];
    while let Some(parent) = parents.pop() {
        for (pid, ppid, name) in &all {
            if *ppid == parent && !found.iter().any(|(p, _)| p == pid) {
                found.push((*pid, name.clone()));
                parents.push(*pid);
            }
        }
    }
    found
}

/// Whether process `pid` still runs (a zombie does not).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| Some(s.rsplit_once(')')?.1.split_whitespace().next()? != "Z"))
        .unwrap_or(false)
}

fn signal(pid: i32, signal: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
}

/// The `epmd`s listening on `port` (`ERL_EPMD_PORT` in their environment).
fn epmds_on(port: u16) -> Vec<i32> {
    let wanted = format!("ERL_EPMD_PORT={port}");
    processes()
        .into_iter()
        .filter(|(_, _, name)| name == "epmd")
        .filter(|(pid, _, _)| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == wanted.as_bytes()))
        })
        .map(|(pid, _, _)| pid)
        .collect()
}

/// Makes `path` and everything under it belong to `user`.
fn chown_all(path: &Path, user: &nix::unistd::User) -> Result<(), String> {
    nix::unistd::chown(path, Some(user.uid), Some(user.gid))
        .map_err(|e| format!("chown {}: {e}", path.display()))?;
    if path.is_dir() {
        for entry in std::fs::read_dir(path).map_err(|e| e.to_string())? {
            chown_all(&entry.map_err(|e| e.to_string())?.path(), user)?;
        }
    }
    Ok(())
}

/// A word nobody guesses: the node's Erlang cookie.
fn cookie() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let a = h.finish();
    h.write_u32(std::process::id());
    format!("armonic{a:016x}{:016x}", h.finish())
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
            ejabberd: None,
        };
        server.wait_ready(Duration::from_secs(10))?;
        Ok(server)
    }

    /// ejabberd as Debian installs it (`ejabberdctl` a shell script starting `erl`, run as the
    /// `ejabberd` user), configured as Prosody is.
    fn ejabberd() -> Result<Server, String> {
        let Some(ctl) = find("ejabberdctl").or_else(|| {
            let p = PathBuf::from("/usr/sbin/ejabberdctl");
            p.is_file().then_some(p)
        }) else {
            return Err("ejabberd is not installed (apt-get install ejabberd)".into());
        };
        let user = nix::unistd::User::from_name("ejabberd")
            .ok()
            .flatten()
            .ok_or("ejabberd is installed, but not its user `ejabberd`")?;
        let user = if is_root() {
            Some(user)
        } else if nix::unistd::geteuid() == user.uid {
            None
        } else {
            return Err(
                "ejabberdctl runs only as root or as the user `ejabberd`: run these tests as root"
                    .into(),
            );
        };
        let dir = tempfile::Builder::new()
            .prefix("armonic-ejabberd")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let d = dir.path();
        for sub in ["logs", "spool", "modules", "modules.d"] {
            std::fs::create_dir_all(d.join(sub)).map_err(|e| e.to_string())?;
        }
        let [port, dist_port, epmd_port] = free_ports()?;
        // The process's id tells tests apart, the port servers of one test.
        let node = format!("armonic{}x{port}@localhost", std::process::id());
        let config = d.join("ejabberd.yml");
        let text = format!(
            r#"hosts:
  - "{DOMAIN}"
loglevel: info
log_rotate_count: 0
auth_method: internal
auth_password_format: plain
registration_timeout: infinity
s2s_access: none
acme:
  auto: false
listen:
  -
    port: {port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: false
    access: all
modules:
  mod_roster: {{}}
  mod_disco: {{}}
  mod_ping: {{}}
  mod_adhoc: {{}}
  mod_register:
    access: all
    ip_access: all
    password_strength: 0
  mod_muc:
    host: "{MUC}"
    access: all
    access_create: all
    access_persistent: all
    access_register: all
    default_room_options:
      persistent: false
      public: true
      members_only: false
"#
        );
        std::fs::write(&config, text).map_err(|e| e.to_string())?;
        // Sourced by ejabberdctl, for the node and for every command reaching it. With
        // `ERL_DIST_PORT`, the node listens there and commands go straight to it: no `epmd`.
        // Its schedulers do not spin when idle: the tests share the machine's processors.
        let ctl_config = format!(
            r#"ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0 +sbwt none +sbwtdcpu none +sbwtdio none -setcookie {cookie} -kernel inet_dist_use_interface {{127,0,0,1}}"
ERL_DIST_PORT={dist_port}
ERL_EPMD_ADDRESS=127.0.0.1
export ERL_EPMD_PORT={epmd_port}
EJABBERD_PID_PATH="{d}/ejabberd.pid"
CONTRIB_MODULES_PATH="{d}/modules"
CONTRIB_MODULES_CONF_DIR="{d}/modules.d"
EJABBERD_BYPASS_WARNINGS=true
"#,
            cookie = cookie(),
            d = d.display(),
        );
        std::fs::write(d.join("ejabberdctl.cfg"), ctl_config).map_err(|e| e.to_string())?;
        // The Erlang VM's resolver: `localhost`, the node's host, without asking anyone.
        std::fs::write(
            d.join("inetrc"),
            "{lookup, [\"file\", \"native\"]}.\n{host, {127,0,0,1}, [\"localhost\"]}.\n",
        )
        .map_err(|e| e.to_string())?;
        let log = std::fs::File::create(d.join("console.log")).map_err(|e| e.to_string())?;
        if let Some(user) = &user {
            chown_all(d, user)?;
        }
        let mut server = Server {
            kind: Kind::Ejabberd,
            port,
            dir,
            config,
            child: None,
            ejabberd: Some(Ejabberd {
                ctl,
                node,
                user,
                epmd_port,
            }),
        };
        let child = server
            .ejabberdctl()
            .arg("foreground")
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start ejabberd: {e}"))?;
        server.child = Some(child);
        server.wait_ready(Duration::from_secs(30))?;
        Ok(server)
    }

    /// Waits until the server answers clients, or says why it does not with its logs.
    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            if answers(self.port) {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                let name = match self.kind {
                    Kind::Prosody => "prosody",
                    Kind::Ejabberd => "ejabberd",
                };
                return Err(self.failure(&format!("{name} ended ({status})")));
            }
            if Instant::now() >= deadline {
                let e = format!("no server answers on port {} after {limit:?}", self.port);
                return Err(self.failure(&e));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `e`, with the end of the server's log.
    fn failure(&mut self, e: &str) -> String {
        let mut text = String::new();
        for name in [
            "console.log",
            "prosody.log",
            "logs/ejabberd.log",
            "logs/error.log",
        ] {
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

    /// Creates account `user@DOMAIN`. An ejabberd that already answers on its port may not
    /// have made its command tables yet (on a loaded machine, for seconds): its "no_exists"
    /// is asked again, for 30 s at most.
    pub fn register(&mut self, user: &str, password: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut c = match self.kind {
                Kind::Prosody => {
                    let mut c = Command::new("prosodyctl");
                    c.arg("--config").arg(&self.config);
                    c
                }
                Kind::Ejabberd => self.ejabberdctl(),
            };
            c.args(["register", user, DOMAIN, password]);
            match run(c, Duration::from_secs(30)) {
                Ok(_) => return,
                Err(e)
                    if self.kind == Kind::Ejabberd
                        && e.contains("no_exists")
                        && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => {
                    let e = self.failure(&e);
                    panic!("cannot register {user}: {e}");
                }
            }
        }
    }

    /// `ejabberdctl`, for this server's node.
    fn ejabberdctl(&self) -> Command {
        use std::os::unix::process::CommandExt;
        let e = self.ejabberd.as_ref().expect("an ejabberd server");
        let d = self.dir.path();
        let mut c = Command::new(&e.ctl);
        c.arg("--config-dir")
            .arg(d)
            .arg("--config")
            .arg(&self.config)
            .arg("--ctl-config")
            .arg(d.join("ejabberdctl.cfg"))
            .arg("--logs")
            .arg(d.join("logs"))
            .arg("--spool")
            .arg(d.join("spool"))
            .arg("--node")
            .arg(&e.node)
            .current_dir(d)
            .env("HOME", d);
        if let Some(user) = &e.user {
            c.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
        c
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
        use nix::sys::signal::Signal::{SIGKILL, SIGTERM};
        if let Some(mut child) = self.child.take() {
            let pid = child.id() as i32;
            // The child is Prosody itself, or ejabberdctl's shell waiting for the Erlang VM it
            // started: the VM stops cleanly on SIGTERM (in about 1 s), the shell ends after it.
            // Whatever is left of either is killed.
            let tree = descendants(pid);
            match self.kind {
                Kind::Prosody => signal(pid, SIGTERM),
                Kind::Ejabberd => {
                    for (p, _) in tree.iter().filter(|(_, name)| name.starts_with("beam")) {
                        signal(*p, SIGTERM);
                    }
                }
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            for (p, _) in tree.iter().filter(|(p, _)| alive(*p)) {
                signal(*p, SIGKILL);
            }
        }
        if let Some(e) = &self.ejabberd {
            for p in epmds_on(e.epmd_port) {
                signal(p, SIGKILL);
            }
        }
    }
}
