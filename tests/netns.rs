//! Zero configuration: agents in network namespaces joined by a bridge find each other by
//! mDNS, and a third deploys on one of them; an agent of another mesh on the same LAN is
//! discovered but never listed. On a LAN losing one packet in twenty (nftables in each
//! namespace), agents keep each other and still see a frozen one gone. mDNS runs only inside
//! the namespaces these tests make, never on the machine's own interfaces. Without root (or
//! `ip`, or `nft`), the test says why and checks nothing (without `ip` or `nft` it fails
//! instead when ARMONIC_REQUIRE_ALL_TESTS is set).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::text;

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            text(&out.stderr).trim()
        ))
    }
}

/// Namespaces `prefix` + a, b, c, each with an address on one bridge (in a namespace of its
/// own); removed, with their agents, when dropped.
struct Lan {
    prefix: String,
    agents: Vec<Child>,
}

impl Lan {
    fn make() -> Result<Lan, String> {
        if !nix::unistd::geteuid().is_root() {
            return Err("network namespaces need root".into());
        }
        // Tests of one process make their LANs side by side.
        static MADE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let prefix = format!("arm{}{n}", std::process::id() % 100_000);
        let lan = Lan {
            prefix: prefix.clone(),
            agents: Vec::new(),
        };
        let br = format!("{prefix}br");
        ip(&["netns", "add", &br])?;
        ip(&["-n", &br, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &br, "link", "set", "br0", "up"])?;
        for (i, n) in ["a", "b", "c"].iter().enumerate() {
            let ns = format!("{prefix}{n}");
            let (inside, outside) = (format!("{prefix}{n}0"), format!("{prefix}{n}1"));
            ip(&["netns", "add", &ns])?;
            ip(&[
                "link", "add", &inside, "type", "veth", "peer", "name", &outside,
            ])?;
            ip(&["link", "set", &inside, "netns", &ns])?;
            ip(&["link", "set", &outside, "netns", &br])?;
            ip(&["-n", &br, "link", "set", &outside, "master", "br0", "up"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("10.77.0.{}/24", i + 1),
                "dev",
                &inside,
            ])?;
            ip(&["-n", &ns, "link", "set", &inside, "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(lan)
    }

    fn ns(&self, n: &str) -> String {
        format!("{}{n}", self.prefix)
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for a in &mut self.agents {
            let _ = a.kill();
            let _ = a.wait();
        }
        for n in ["a", "b", "c", "br"] {
            let _ = ip(&["netns", "del", &self.ns(n)]);
        }
    }
}

/// The namespaces of a test, or `None` when they cannot be made here (said). Without `ip`,
/// which the test command installs, the test must not pass; a machine that does not let
/// anyone make namespaces (no root, a confined container) is said.
fn lan() -> Option<Lan> {
    match Lan::make() {
        Ok(lan) => Some(lan),
        Err(why) if Command::new("ip").arg("-V").output().is_err() => {
            common::skip(&why);
            None
        }
        Err(why) => {
            eprintln!("skipped: {why} (this machine does not let the test make namespaces)");
            None
        }
    }
}

/// Starts the agent `c` runs, as `name`, in `lan`, once it says it is ready.
fn start_agent(lan: &mut Lan, c: Command, name: &str) {
    lan.agents.push(common::start_ready(c, name));
}

fn armonic(ns: &str, state: &Path, name: &str, lifecycles: &Path) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_armonic")])
        .args([
            "--no-color",
            "--name",
            name,
            "--public-ip",
            name,
            "--state-dir",
        ])
        .arg(state)
        .arg("-L")
        .arg(lifecycles)
        .env_remove("ARMONIC_STATE_DIR")
        .env_remove("ARMONIC_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

#[test]
fn agents_in_two_namespaces_find_each_other_by_mdns_and_a_third_deploys_on_one() {
    let Some(mut lan) = lan() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lifecycles: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("lifecycles");
    let key = dir.path().join("swarm.key");
    common::swarm_key(&key);
    // No --peer, no --listen: mDNS and the default port, as on a LAN.
    let nodes = [("a", "alpha"), ("b", "beta"), ("c", "gamma")];
    for (n, name) in nodes {
        let mut c = armonic(&lan.ns(n), &dir.path().join(name), name, &lifecycles);
        c.args(["agent", "--swarm-key"]).arg(&key);
        start_agent(&mut lan, c, name);
    }
    let gamma = |args: &[&str]| -> Output {
        armonic(
            &lan.ns("c"),
            &dir.path().join("gamma"),
            "gamma",
            &lifecycles,
        )
        .args(args)
        .output()
        .unwrap()
    };
    let start = Instant::now();
    loop {
        let out = gamma(&["--format", "json", "mesh"]);
        let peers: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let live: Vec<&str> = peers
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|p| p["live"] == true && p["local"] != true)
                    .filter_map(|p| p["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        if live == ["alpha", "beta"] {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "gamma never found alpha and beta: {}",
            text(&out.stdout)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("found each other by mDNS in {:?}", start.elapsed());
    // --autofill takes the first live location offering the provide by name: alpha, in
    // another namespace.
    let out = gamma(&["deploy", "//WebSite//start", "--autofill"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        text(&out.stdout),
        "{\"url\": \"http://alpha:80\"}\n",
        "{err}"
    );
    assert!(err.contains("[alpha/WebSite] Start website"), "{err}");
}

/// The peers `armonic mesh` lists on the agent of `state`, in namespace `ns`: (peer id,
/// name, live, local).
fn listed(
    ns: &str,
    state: &Path,
    name: &str,
    lifecycles: &Path,
) -> Vec<(String, String, bool, bool)> {
    let out = armonic(ns, state, name, lifecycles)
        .args(["--format", "json", "mesh"])
        .output()
        .unwrap();
    let peers: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)));
    peers
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["peer_id"].as_str().unwrap_or_default().to_owned(),
                p["name"].as_str().unwrap_or("?").to_owned(),
                p["live"] == true,
                p["local"] == true,
            )
        })
        .collect()
}

#[test]
fn an_agent_of_another_mesh_announced_on_the_lan_is_never_listed() {
    let Some(mut lan) = lan() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lifecycles: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("lifecycles");
    let (ours, theirs) = (dir.path().join("ours.key"), dir.path().join("theirs.key"));
    common::swarm_key(&ours);
    common::swarm_key(&theirs);
    // alpha says what mDNS discovers and which dials fail.
    let alpha_log = dir.path().join("alpha.log");
    let nodes = [
        ("c", "stranger", &theirs),
        ("a", "alpha", &ours),
        ("b", "beta", &ours),
    ];
    for (n, name, key) in nodes {
        let mut c = armonic(&lan.ns(n), &dir.path().join(name), name, &lifecycles);
        c.args(["agent", "--swarm-key"]).arg(key);
        if name == "alpha" {
            c.env("ARMONIC_LOG", "warn,libp2p_mdns=info,libp2p_swarm=debug")
                .stderr(std::fs::File::create(&alpha_log).unwrap());
        }
        start_agent(&mut lan, c, name);
    }
    let stranger_state = dir.path().join("stranger");
    let stranger_id = listed(&lan.ns("c"), &stranger_state, "stranger", &lifecycles)
        .into_iter()
        .find(|p| p.3)
        .map(|p| p.0)
        .expect("the stranger lists itself");
    let alpha = |lan: &Lan| {
        listed(
            &lan.ns("a"),
            &dir.path().join("alpha"),
            "alpha",
            &lifecycles,
        )
    };
    // Until alpha has discovered the stranger by mDNS and failed to reach it, and once more
    // after: the stranger is never listed.
    let start = Instant::now();
    loop {
        let log = std::fs::read_to_string(&alpha_log).unwrap_or_default();
        let announced = log
            .lines()
            .any(|l| l.contains("discovered peer") && l.contains(&stranger_id));
        let refused = log
            .lines()
            .any(|l| l.contains("Connection attempt to peer failed") && l.contains(&stranger_id));
        let seen = alpha(&lan);
        assert!(
            !seen.iter().any(|p| p.0 == stranger_id),
            "alpha lists the stranger: {seen:?}"
        );
        let beta_live = seen.iter().any(|p| p.1 == "beta" && p.2);
        if announced && refused && beta_live {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "alpha did not discover and fail to reach the stranger (announced {announced}, refused {refused}), or see beta: {seen:?}\n{log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let seen = alpha(&lan);
    assert!(!seen.iter().any(|p| p.0 == stranger_id), "{seen:?}");
    assert_eq!(seen.len(), 2, "alpha and beta only: {seen:?}");
    // Nor does the stranger list anyone of our mesh.
    let theirs = listed(&lan.ns("c"), &stranger_state, "stranger", &lifecycles);
    assert!(theirs.iter().all(|p| p.3), "{theirs:?}");
}

/// Makes namespace `ns` drop `percent` % of the packets it sends, at random (nftables): with
/// every namespace doing so, each direction of every link loses them.
fn lossy(ns: &str, percent: u32) -> Result<(), String> {
    let nft = |rule: &str| -> Result<(), String> {
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "nft", rule])
            .output()
            .map_err(|e| format!("cannot run nft: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("nft {rule}: {}", text(&out.stderr).trim()))
        }
    };
    nft("add table inet loss")?;
    nft("add chain inet loss out { type filter hook output priority 0; }")?;
    nft(&format!(
        "add rule inet loss out numgen random mod 100 < {percent} drop"
    ))
}

/// The live peers, by name, the agent `name` of namespace `ns` lists.
fn live_in(ns: &str, state: &Path, name: &str, lifecycles: &Path) -> Vec<String> {
    let mut live: Vec<String> = listed(ns, state, name, lifecycles)
        .into_iter()
        .filter(|p| p.2 && !p.3)
        .map(|p| p.1)
        .collect();
    live.sort();
    live
}

#[test]
fn on_a_lan_losing_packets_agents_keep_each_other_and_still_see_a_frozen_one_gone() {
    let Some(mut lan) = lan() else {
        return;
    };
    let nodes = [("a", "alpha"), ("b", "beta"), ("c", "gamma")];
    for (n, _) in nodes {
        // Without nft, which the test command installs, the test must not pass.
        if let Err(why) = lossy(&lan.ns(n), 5) {
            common::skip(&why);
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let lifecycles: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("lifecycles");
    let key = dir.path().join("swarm.key");
    common::swarm_key(&key);
    for (n, name) in nodes {
        let mut c = armonic(&lan.ns(n), &dir.path().join(name), name, &lifecycles);
        c.args(["agent", "--no-mdns", "--swarm-key"]).arg(&key);
        if name != "alpha" {
            c.args(["--peer", "10.77.0.1:7301"]);
        }
        start_agent(&mut lan, c, name);
    }
    let live = |n: &str, name: &str| live_in(&lan.ns(n), &dir.path().join(name), name, &lifecycles);
    let start = Instant::now();
    while live("c", "gamma") != ["alpha", "beta"] || live("a", "alpha") != ["beta", "gamma"] {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the agents did not meet: gamma sees {:?}, alpha {:?}",
            live("c", "gamma"),
            live("a", "alpha")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // One packet in twenty lost each way: TCP sends them again, the probes are answered late,
    // and no agent is ever taken for dead.
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_secs(15) {
        assert_eq!(
            live("c", "gamma"),
            ["alpha", "beta"],
            "a live agent was cut"
        );
        assert_eq!(
            live("a", "alpha"),
            ["beta", "gamma"],
            "a live agent was cut"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // A frozen agent is still seen gone, and back when it wakes.
    let beta = lan.agents[1].id();
    common::signal(beta, common::Signal::SIGSTOP);
    let frozen = Instant::now();
    while live("c", "gamma") != ["alpha"] || live("a", "alpha") != ["gamma"] {
        assert!(
            frozen.elapsed() < Duration::from_secs(10),
            "the frozen beta is still listed: gamma sees {:?}, alpha {:?}",
            live("c", "gamma"),
            live("a", "alpha")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "frozen beta gone from both views after {:?}",
        frozen.elapsed()
    );
    common::signal(beta, common::Signal::SIGCONT);
    let woke = Instant::now();
    while live("c", "gamma") != ["alpha", "beta"] {
        assert!(
            woke.elapsed() < Duration::from_secs(30),
            "beta did not come back: gamma sees {:?}",
            live("c", "gamma")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
