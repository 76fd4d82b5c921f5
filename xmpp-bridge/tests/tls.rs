//! The bridge binary against a Prosody that requires encryption, as Debian's configures it
//! by default (the original quickstart only adds a virtual host): agents log in over STARTTLS
//! when the server's certificate is trusted, and say why they cannot otherwise.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use armonic_mesh::SwarmKey;
use common::server::{DOMAIN, free_port};
use common::{PASSWORD, skip, start_node};

/// Runs `command`, failing the test with its output if it fails.
fn run(command: &mut Command) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A certificate authority and a certificate for `DOMAIN` signed by it, in `dir`.
fn certificates(dir: &Path) {
    let ext = dir.join("server.ext");
    std::fs::write(
        &ext,
        format!(
            "subjectAltName=DNS:{DOMAIN}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
        ),
    )
    .unwrap();
    let openssl = || {
        let mut c = Command::new("openssl");
        c.current_dir(dir);
        c
    };
    run(openssl().args([
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=Armonic test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]));
    run(openssl().args([
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        &format!("/CN={DOMAIN}"),
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]));
    run(openssl().args([
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ]));
}

/// Prosody on loopback requiring encryption on client connections.
struct Prosody {
    child: Child,
    port: u16,
}

impl Drop for Prosody {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn prosody(dir: &Path) -> Prosody {
    let d = dir.display();
    let port = free_port();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let config = dir.join("prosody.cfg.lua");
    std::fs::write(
        &config,
        format!(
            r#"run_as_root = {root}
pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
certificates = "{d}"
log = {{ {{ levels = {{ min = "info" }}, to = "file", filename = "{d}/prosody.log" }} }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {port} }}
s2s_ports = {{ }}
component_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
modules_enabled = {{ "roster", "saslauth", "tls", "disco", "ping", "posix" }}
modules_disabled = {{ "s2s" }}
c2s_require_encryption = true
authentication = "internal_hashed"
ssl = {{ certificate = "{d}/server.pem", key = "{d}/server.key" }}
VirtualHost "{DOMAIN}"
"#,
            root = nix::unistd::geteuid().is_root()
        ),
    )
    .unwrap();
    run(Command::new("prosodyctl")
        .arg("--config")
        .arg(&config)
        .args(["register", "web1", DOMAIN, PASSWORD]));
    let log = std::fs::File::create(dir.join("console.log")).unwrap();
    let child = Command::new("prosody")
        .arg("--config")
        .arg(&config)
        .arg("-F")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("prosody starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "prosody does not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    Prosody { child, port }
}

/// The bridge binary, logging to a channel of lines; killed when dropped.
struct Bridge {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bridge {
    fn start(dir: &Path, server: &Prosody, peer: &str, tls: Option<&Path>) -> Bridge {
        let mut c = Command::new(env!("CARGO_BIN_EXE_armonic-xmpp-bridge"));
        c.args(["--domain", DOMAIN, "-H", "127.0.0.1", "-P"])
            .arg(server.port.to_string())
            .args([
                "--agent-password",
                PASSWORD,
                "--no-mdns",
                "--listen",
                "/ip4/127.0.0.1/tcp/0",
            ])
            .args(["--peer", peer, "--swarm-key"])
            .arg(dir.join("swarm.key"))
            .arg("--state-dir")
            .arg(dir.join("bridge"))
            .env_remove("ARMONIC_XMPP_BRIDGE_CONFIG")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match tls {
            // The server's authority, trusted as the system's would be.
            Some(ca) => c.env("SSL_CERT_FILE", ca),
            None => c.arg("--no-tls"),
        };
        let mut child = c.spawn().expect("the bridge starts");
        let stderr = child.stderr.take().unwrap();
        // Every line the bridge says is kept for the test to look through.
        #[allow(clippy::disallowed_methods)]
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Bridge {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `text`; fails with every line seen.
    fn wait_for(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(text);
                    self.seen.push(line.clone());
                    if found {
                        return line;
                    }
                }
                Err(_) => panic!("no line with '{text}':\n{}", self.seen.join("\n")),
            }
        }
    }
}

/// The world of one scenario: certificates, the server, a mesh agent `web1`.
async fn world() -> Option<(tempfile::TempDir, Prosody, common::Node)> {
    for program in ["prosody", "openssl"] {
        if Command::new("which")
            .arg(program)
            .output()
            .map_or(true, |o| !o.status.success())
        {
            skip(&format!("{program} is not installed"));
            return None;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let server = prosody(dir.path());
    armonic_mesh::generate_swarm_key(&dir.path().join("swarm.key")).unwrap();
    let key = SwarmKey::read(&dir.path().join("swarm.key")).unwrap();
    let extra = dir.path().join("lifecycles");
    std::fs::create_dir_all(&extra).unwrap();
    let web1 = start_node("web1", &key, vec![], &extra).await;
    Some((dir, server, web1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_log_in_over_starttls_when_the_servers_certificate_is_trusted() {
    let Some((dir, server, web1)) = world().await else {
        return;
    };
    let mut bridge = Bridge::start(
        dir.path(),
        &server,
        &web1.addr,
        Some(&dir.path().join("ca.pem")),
    );
    bridge.wait_for(&format!("online as web1@{DOMAIN}/agent"));
    web1.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_refused_and_said() {
    let Some((dir, server, web1)) = world().await else {
        return;
    };
    // Only the test's other authority is trusted: the server's certificate is not.
    let other = tempfile::tempdir().unwrap();
    certificates(other.path());
    let mut bridge = Bridge::start(
        dir.path(),
        &server,
        &web1.addr,
        Some(&other.path().join("ca.pem")),
    );
    // The reason, as the TLS library gives it, then the agent that stays offline.
    bridge.wait_for("invalid peer certificate");
    bridge.wait_for(&format!("cannot log in as web1@{DOMAIN}/agent"));
    web1.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_text_is_refused_by_a_server_that_requires_encryption() {
    let Some((dir, server, web1)) = world().await else {
        return;
    };
    let mut bridge = Bridge::start(dir.path(), &server, &web1.addr, None);
    bridge.wait_for(&format!("cannot log in as web1@{DOMAIN}/agent"));
    web1.handle.shutdown().await;
}
