//! The world of the bridge's tests: a real XMPP server, agents of a mesh in this process (on
//! loopback, explicit peers, no mDNS) serving real locations, the bridge, and test clients.
// Each test binary uses a part of the helpers.
#![allow(dead_code, unused_imports)]

pub mod client;
pub mod commands;
pub mod server;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use armonic_lifecycle::{Config as LocationConfig, Location, OsType, load_dirs};
use armonic_mesh::{Handle, Identity, SwarmKey};
use armonic_proto::catalogue_of;
use armonic_proto::serve::Service;
use armonic_xmpp_bridge::{Bridge, Config};

pub use client::{Outcome, TestClient, WAIT};
pub use server::{DOMAIN, Kind, MUC, Server};

/// Says why a test cannot run here and lets it skip, unless `ARMONIC_REQUIRE_ALL_TESTS` is
/// set (the test command sets it where it installs everything): then it fails.
pub fn skip(why: &str) {
    let required =
        std::env::var_os("ARMONIC_REQUIRE_ALL_TESTS").is_some_and(|v| !v.is_empty() && v != "0");
    assert!(
        !required,
        "cannot run here: {why} (and ARMONIC_REQUIRE_ALL_TESTS is set)"
    );
    eprintln!("skipped: {why}");
}

/// The password of every account.
pub const PASSWORD: &str = "secret";

/// A lifecycle whose `enter` of `Busy` waits for a file to exist: a call that runs until the
/// test lets it finish.
fn gated_lifecycle(dir: &Path, gate: &Path) -> PathBuf {
    let text = format!(
        r#"name = "Gated"
initial = "Idle"
transitions = [["Idle", "Busy"]]
[states.Idle]
[states.Busy.enter]
do = [
    {{ log = "waiting for the gate" }},
    {{ run = "echo gate opened; while [ ! -e '{gate}' ]; do sleep 0.05; done", timeout = "30s" }},
    {{ log = "through the gate" }},
]
"#,
        gate = gate.display()
    );
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("gated.toml"), text).unwrap();
    dir.to_owned()
}

/// A lifecycle asking a secret: `Vault/Open/enter` needs `key/password` (a `password`), and
/// says it opens, printing the password as a careless step would (the engine masks it).
fn vault_lifecycle(dir: &Path) {
    let text = r#"name = "Vault"
initial = "Sealed"
transitions = [["Sealed", "Open"]]
[states.Sealed]
[states.Open.enter]
do = [{ log = "unsealing the vault with {{ key.password }}" }, { run = "echo key=$key_password" }]
[states.Open.enter.requires.key.variables]
password = { type = "password" }
[states.Open.provides.open]
label = "Open the vault"
do = [{ log = "the vault is open" }]
"#;
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("vault.toml"), text).unwrap();
}

/// One agent of the test mesh.
pub struct Node {
    pub name: String,
    pub handle: Handle,
    pub addr: String,
}

/// A location named `name` with the shipped lifecycles and `extra` ones.
fn location(name: &str, extra: &Path) -> Location {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../lifecycles");
    let catalog = load_dirs(&[shipped, extra.to_owned()]);
    assert!(catalog.errors.is_empty(), "{:?}", catalog.errors);
    let config = LocationConfig {
        name: name.into(),
        os: OsType::all(),
        public_ip: name.into(),
        ..LocationConfig::default()
    };
    Location::builder(config)
        .sink(Arc::new(armonic_lifecycle::MemorySink::new()))
        .build(catalog.lifecycles)
        .expect("location starts")
}

fn mesh_config(key: &SwarmKey, peers: Vec<String>) -> armonic_mesh::Config {
    let mut c = armonic_mesh::Config::new(Identity::ephemeral(), key.clone());
    c.listen = vec!["/ip4/127.0.0.1/tcp/0".into()];
    c.peers = peers;
    c.mdns = false;
    // The default pace: a peer is cut after 3 s of silence, not less, so a loaded machine
    // does not take live agents for gone (a shutdown is seen at once all the same).
    c.ping_every = Duration::from_secs(1);
    c.gossip_every = Duration::from_millis(500);
    c
}

/// Starts agent `name` in the mesh of `key`, dialing `peers`.
pub async fn start_node(name: &str, key: &SwarmKey, peers: Vec<String>, extra: &Path) -> Node {
    let local = armonic_journal::Host::open(location(name, extra)).expect("a journal in memory");
    let handle = armonic_mesh::start(
        mesh_config(key, peers),
        Some(Arc::new(local.clone()) as Arc<dyn Service>),
    )
    .await
    .expect("mesh starts");
    eventually("a listen address", || {
        let h = handle.clone();
        async move { !h.listen_addrs().await.is_empty() }
    })
    .await;
    let addr = handle.listen_addrs().await.remove(0);
    let loc = local.location();
    handle
        .set_catalogue(catalogue_of(loc, loc.generation()))
        .await;
    Node {
        name: name.into(),
        handle,
        addr,
    }
}

/// Waits until `f` holds, or fails the test after `WAIT`.
pub async fn eventually<F, Fut>(what: &str, f: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A server, agents `web1` and `web2` in a mesh, the bridge logging them in, and the master
/// logged in and subscribed to them.
pub struct World {
    pub server: Server,
    pub nodes: Vec<Node>,
    pub bridge: Option<Bridge>,
    /// `master@DOMAIN/cli`: allowed to change states.
    pub master: TestClient,
    /// Opens the gate of the `Gated` lifecycle.
    pub gate: PathBuf,
    pub dir: tempfile::TempDir,
}

/// The JID of agent `name`.
pub fn agent(name: &str) -> String {
    format!("{name}@{DOMAIN}/agent")
}

impl World {
    /// The world on a server of `kind`, or `None` (with the reason printed) if there is no
    /// such server here.
    pub async fn start(kind: Kind) -> Option<World> {
        World::start_with(kind, |_| {}).await
    }

    /// Like `start`, with the bridge's configuration adjusted by `adjust`.
    pub async fn start_with(kind: Kind, adjust: impl FnOnce(&mut Config)) -> Option<World> {
        // The bridge's log, shown with a failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "armonic_xmpp_bridge=trace,armonic_mesh=info,tokio_xmpp=info",
            ))
            .try_init();
        let mut server = match Server::start(kind) {
            Ok(s) => s,
            Err(why) => {
                skip(&why);
                return None;
            }
        };
        for user in ["master", "admin", "stranger"] {
            server.register(user, PASSWORD);
        }
        let dir = tempfile::tempdir().unwrap();
        let gate = dir.path().join("gate");
        let extra = gated_lifecycle(&dir.path().join("lifecycles"), &gate);
        vault_lifecycle(&extra);
        let key = SwarmKey::random().unwrap();
        let web1 = start_node("web1", &key, vec![], &extra).await;
        let web2 = start_node("web2", &key, vec![web1.addr.clone()], &extra).await;
        let mut config = Config::new(DOMAIN, mesh_config(&key, vec![web1.addr.clone()])).unwrap();
        config.host = "127.0.0.1".into();
        config.port = server.port;
        config.tls = false;
        config.password = Some(PASSWORD.into());
        config.master_password = Some(PASSWORD.into());
        config.allow = vec![
            armonic_xmpp_bridge::config::bare_jid("--allow", &format!("master@{DOMAIN}")).unwrap(),
        ];
        config.watch_every = Duration::from_millis(100);
        adjust(&mut config);
        if !config.register {
            for user in ["web1", "web2"] {
                server.register(user, PASSWORD);
            }
        }
        let mut master =
            TestClient::connect(&server.addr(), &format!("master@{DOMAIN}/cli"), PASSWORD).await;
        let bridge = Bridge::start(config).await.expect("the bridge starts");
        for name in ["web1", "web2"] {
            let jid = agent(name);
            let online = master
                .try_take(WAIT, |s| {
                    client::is_presence(s, &jid, xmpp_parsers::presence::Type::None)
                })
                .await;
            if online.is_none() {
                let log =
                    std::fs::read_to_string(server.dir().join("prosody.log")).unwrap_or_default();
                let seen: Vec<String> = master
                    .take_all(|_| true)
                    .iter()
                    .map(|s| format!("{s:?}"))
                    .collect();
                panic!(
                    "{jid} is not seen online within {WAIT:?}; stanzas seen:\n{}\nserver log:\n{log}",
                    seen.join("\n")
                );
            }
        }
        Some(World {
            server,
            nodes: vec![web1, web2],
            bridge: Some(bridge),
            master,
            gate,
            dir,
        })
    }

    /// A client logged in as `user@DOMAIN/cli`.
    pub async fn client(&self, user: &str) -> TestClient {
        TestClient::connect(
            &self.server.addr(),
            &format!("{user}@{DOMAIN}/cli"),
            PASSWORD,
        )
        .await
    }

    pub fn bridge(&self) -> &Bridge {
        self.bridge.as_ref().expect("the bridge runs")
    }

    pub async fn stop(mut self) {
        if let Some(b) = self.bridge.take() {
            b.shutdown().await;
        }
        for n in &self.nodes {
            n.handle.shutdown().await;
        }
    }
}
