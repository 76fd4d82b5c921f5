//! The agent as a process, measured: start-up to ready, idle memory, and the round trip of a
//! request over the control socket (`cargo bench --bench agent`). Prints its figures.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use armonic_proto::{Call, DeploymentId, Endpoint, EndpointExt, finish, method};

const NOOP: &str = r#"
name = "Noop"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On]
[states.On.provides.ping]
"#;

/// Starts an agent; with `key`, in a mesh (listening on loopback, no mDNS).
fn spawn(state: &Path, lifecycles: &Path, key: Option<&Path>) -> (Child, Duration) {
    let start = Instant::now();
    let mut command = Command::new(env!("CARGO_BIN_EXE_armonic"));
    command
        .args(["--name", "bench", "-q", "--state-dir"])
        .arg(state)
        .arg("-L")
        .arg(lifecycles)
        .arg("agent");
    match key {
        Some(k) => command
            .args(["--no-mdns", "--listen", "127.0.0.1:0", "--swarm-key"])
            .arg(k),
        None => command.arg("--no-mesh"),
    };
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("armonic agent starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("ready"), "{line}");
    (child, start.elapsed())
}

fn stop(mut child: Child) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = child.wait();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = dir.path().join("shipped");
    std::fs::create_dir(&shipped).unwrap();
    // The demo's lifecycles: the bench measures the agent, not what real services need.
    for name in ["webserver.toml", "website.toml", "proxy.toml"] {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("lifecycles")
            .join(name);
        std::fs::copy(&p, shipped.join(name)).unwrap();
    }
    std::fs::write(shipped.join("noop.toml"), NOOP).unwrap();

    let key = dir.path().join("swarm.key");
    let made = Command::new(env!("CARGO_BIN_EXE_armonic"))
        .args(["key", "generate", "--output"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(made.success());

    // Start-up to ready, with the shipped lifecycles, alone and in a mesh.
    for (what, key) in [("alone", None), ("with the mesh on", Some(key.as_path()))] {
        let mut startups = Vec::new();
        for i in 0..20 {
            let state = dir.path().join(format!("s{i}-{}", key.is_some()));
            let (child, took) = spawn(&state, &shipped, key);
            startups.push(took);
            stop(child);
        }
        startups.sort();
        println!(
            "start-up to ready, {what} (20 runs): median {:.1} ms, max {:.1} ms",
            percentile(&startups, 0.5).as_secs_f64() * 1e3,
            startups.last().unwrap().as_secs_f64() * 1e3
        );
        let state = dir.path().join(format!("idle-{}", key.is_some()));
        let (child, _) = spawn(&state, &shipped, key);
        std::thread::sleep(Duration::from_secs(2));
        println!(
            "idle agent RSS, {what}: {:.1} MiB",
            rss_kib(child.id()) as f64 / 1024.0
        );
        stop(child);
    }

    let state = dir.path().join("state");
    let (child, _) = spawn(&state, &shipped, None);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let client =
        armonic_agent::Client::connect(&state.join("agent.sock"), runtime.handle().clone())
            .unwrap();
    let ping = |c: &armonic_agent::Client| {
        let call = Call::new(method::ProvideCall {
            uri: "//Noop//ping".parse().unwrap(),
            values: Default::default(),
            path_idx: 0,
        })
        .in_deployment(DeploymentId::new());
        futures::executor::block_on(finish(c.call(call), |_| {})).unwrap();
    };
    ping(&client); // enters On once; later calls only call the provide
    for (what, n) in [("no-op provide_call", 5000), ("info", 5000)] {
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let start = Instant::now();
            if what == "info" {
                client.ask(method::Info {}).unwrap();
            } else {
                ping(&client);
            }
            times.push(start.elapsed());
        }
        times.sort();
        println!(
            "round trip of {what} over the socket ({n} calls): p50 {:.0} µs, p99 {:.0} µs",
            percentile(&times, 0.5).as_secs_f64() * 1e6,
            percentile(&times, 0.99).as_secs_f64() * 1e6
        );
    }
    println!(
        "agent RSS after the calls: {:.1} MiB",
        rss_kib(child.id()) as f64 / 1024.0
    );
    stop(child);
}
