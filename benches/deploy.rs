//! A deployment across a mesh, measured: 50 agents (processes) on loopback, and one
//! `armonic deploy` driven from one of them whose plan is 4 steps on each agent, 200 steps
//! of `/bin/true` (`cargo bench --bench deploy`). Prints the wall time of the whole command,
//! the first run (states entered) apart from the later ones (provides only called), how much
//! of it the resolution takes (the same command with `--dry-run`), the CPU the agents use
//! (idle, and during each run) and their memory.
//!
//! The lifecycles are in `benches/deploy/`: every agent has `Leaf` (`top` needs `a`, `b`, `c`
//! on the same agent), the driver also `Root` (`go` needs its own `a`, `b`, `c` and the
//! `top` of each of the 49 others).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Agents in the mesh (`benches/deploy/driver/root.toml` calls `top` on all but the
/// driver: its `nargs` is this minus one).
const AGENTS: usize = 50;
/// Steps of the deployment on each agent.
const STEPS_PER_AGENT: usize = 4;
/// Runs after the first, for the median.
const RUNS: usize = 9;
/// The provide deployed, on the driver.
const ROOT: &str = "//Root//go";

/// The agents of a mesh on loopback (explicit peers, no mDNS), each a process with a state
/// directory of its own; stopped (SIGTERM, then waited for) when dropped, panic or not.
struct Mesh {
    dir: tempfile::TempDir,
    key: PathBuf,
    agents: Vec<Agent>,
}

struct Agent {
    name: String,
    state: PathBuf,
    child: Child,
}

fn lifecycles(which: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches/deploy")
        .join(which)
}

impl Mesh {
    /// A new mesh key and no agent yet.
    fn new() -> Mesh {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("swarm.key");
        let out = Command::new(env!("CARGO_BIN_EXE_armonic"))
            .args(["key", "generate", "--output"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        Mesh {
            dir,
            key,
            agents: Vec::new(),
        }
    }

    /// `armonic` with the options every command of agent `state` gets.
    fn armonic(state: &Path) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_armonic"));
        c.args(["--no-color", "--state-dir"])
            .arg(state)
            .env_remove("ARMONIC_STATE_DIR")
            .env_remove("ARMONIC_CONFIG")
            .env_remove("ARMONIC_LIFECYCLE_DIRS")
            .stdin(Stdio::null());
        c
    }

    /// Starts agent `name` with the lifecycles of `dirs` (under `benches/deploy`), dialing
    /// `peers`; returns where it listens for the mesh once it said it is ready.
    fn spawn(&mut self, name: &str, dirs: &[&str], peers: &[String]) -> String {
        let state = self.dir.path().join(name);
        let mut c = Mesh::armonic(&state);
        c.args(["--name", name]);
        for d in dirs {
            c.arg("-L").arg(lifecycles(d));
        }
        c.args([
            "agent",
            "--no-mdns",
            "--listen",
            "127.0.0.1:0",
            "--swarm-key",
        ])
        .arg(&self.key);
        for p in peers {
            c.args(["--peer", p]);
        }
        // Its own log, kept: an unread pipe would stop it once full.
        let log_path = self.dir.path().join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        // The root's step fails while this file exists (the resume measurement).
        c.env("ARMONIC_BENCH_FAIL", self.path("fail"));
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("armonic agent starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        self.agents.push(Agent {
            name: name.to_owned(),
            state,
            child,
        });
        assert!(
            line.contains(" ready: "),
            "{name} is not ready: {line:?}\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        // "..., peer id ID, mesh on /ip4/127.0.0.1/tcp/PORT"
        line.trim_end()
            .rsplit_once(" mesh on ")
            .and_then(|(_, addrs)| addrs.split_whitespace().next())
            .unwrap_or_else(|| panic!("{name} says where it listens: {line:?}"))
            .to_owned()
    }

    /// `n` agents `agent00`, `agent01`…, all with `Leaf`, the first (the driver) with `Root`
    /// too; each dials the first. Returns once every agent knows every other's catalogue
    /// (the mesh is whole: no connection is still being made).
    fn start(n: usize) -> Mesh {
        let mut mesh = Mesh::new();
        let first = mesh.spawn(&agent_name(0), &["leaf", "driver"], &[]);
        for i in 1..n {
            mesh.spawn(&agent_name(i), &["leaf"], std::slice::from_ref(&first));
        }
        for i in 0..n {
            mesh.converged(&agent_name(i), n, Duration::from_secs(120));
        }
        mesh
    }

    /// Waits until agent `name` sees `n` live agents (itself included) whose catalogues it
    /// holds; panics with what it sees after `within`.
    fn converged(&self, name: &str, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let out = self.run(name, &["--format", "json", "mesh"]);
            let peers: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            let rows = peers.as_array().cloned().unwrap_or_default();
            let known = rows
                .iter()
                .filter(|p| p["live"] == true && p["catalogue"].is_object())
                .count();
            if known == n {
                return;
            }
            if Instant::now() >= deadline {
                // One line for each agent it knows of: the whole output is catalogues.
                let seen: Vec<String> = rows
                    .iter()
                    .map(|p| {
                        format!(
                            "{} live {} catalogue {} last seen {} s ago",
                            p["name"]
                                .as_str()
                                .unwrap_or(p["peer_id"].as_str().unwrap_or("?")),
                            p["live"],
                            p["catalogue"].is_object(),
                            p["last_seen_secs"]
                        )
                    })
                    .collect();
                panic!(
                    "{name} knows {known} live agents of {n} after {within:?} ({}): {}\n{}",
                    out.status,
                    seen.join("\n"),
                    text(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn agent(&self, name: &str) -> &Agent {
        self.agents.iter().find(|a| a.name == name).unwrap()
    }

    /// `armonic ARGS` through agent `name`'s socket, as a user of its machine runs it.
    fn command(&self, name: &str, args: &[&str]) -> Command {
        let mut c = Mesh::armonic(&self.agent(name).state);
        c.args(args);
        c
    }

    fn run(&self, name: &str, args: &[&str]) -> Output {
        self.command(name, args).output().unwrap()
    }

    /// A file in the mesh's directory.
    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// The CPU time the agents and their steps' commands used so far, together.
    fn cpu(&self) -> Duration {
        self.agents.iter().map(|a| cpu_time(a.child.id())).sum()
    }

    /// The agents' resident memory together, in KiB.
    fn rss_kib(&self) -> u64 {
        self.agents.iter().map(|a| rss_kib(a.child.id())).sum()
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        for a in &self.agents {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(a.child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        for a in &mut self.agents {
            while a.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if a.child.try_wait().ok().flatten().is_none() {
                eprintln!("{} did not stop on SIGTERM: killed", a.name);
                let _ = a.child.kill();
                let _ = a.child.wait();
            }
        }
    }
}

fn agent_name(i: usize) -> String {
    format!("agent{i:02}")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The CPU time process `pid` and the children it waited for (its steps' commands) used so
/// far, user and system (`/proc/PID/stat` counts them in ticks of 1/100 s on Linux, whatever
/// the kernel's own tick).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command's name, in parentheses: the state is field 3, then utime, stime,
    // cutime and cstime are fields 14 to 17.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks: u64 = fields
        .get(11..15)
        .map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
    Duration::from_millis(ticks * 10)
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

/// Resolves `root` from agent `driver` once, calling nothing (`--dry-run --autofill`), and
/// writes the answers to `record`, for [`deploy`] to replay.
fn record_answers(mesh: &Mesh, driver: &str, root: &str, record: &Path) {
    let record = record.to_str().unwrap();
    let out = mesh.run(
        driver,
        &["deploy", root, "--autofill", "--dry-run", "--save", record],
    );
    assert!(
        out.status.success(),
        "the dry run fails: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// A deployment command, as it went.
struct Deployed {
    /// From its start to its exit.
    wall: Duration,
    /// The CPU time the agents and their steps' commands used meanwhile (what the agents
    /// use idle included).
    agents_cpu: Duration,
    /// What it printed: `deployment`, `steps` (and `result` unless a dry run).
    json: Value,
}

/// `armonic --format json deploy ROOT --answers RECORD --yes EXTRA` through agent `driver`,
/// timed from start to exit; panics with its output unless it succeeds.
fn deploy(mesh: &Mesh, driver: &str, root: &str, record: &Path, extra: &[&str]) -> Deployed {
    let mut args = vec![
        "--format",
        "json",
        "deploy",
        root,
        "--answers",
        record.to_str().unwrap(),
        "--yes",
    ];
    args.extend_from_slice(extra);
    let mut c = mesh.command(driver, &args);
    let cpu = mesh.cpu();
    let start = Instant::now();
    let out = c.output().unwrap();
    let wall = start.elapsed();
    let agents_cpu = mesh.cpu().saturating_sub(cpu);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert!(
        out.status.success() && json["steps"].is_array(),
        "the deployment fails ({}): {}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    Deployed {
        wall,
        agents_cpu,
        json,
    }
}

/// Checks that a deployment's steps are `per_location` on each of `locations` locations,
/// and, unless it was a dry run, that every one is done; panics with the JSON otherwise.
fn check_steps(json: &Value, locations: usize, per_location: usize, ran: bool) {
    let steps = json["steps"].as_array().unwrap();
    let mut by_location = std::collections::BTreeMap::<&str, usize>::new();
    for s in steps {
        *by_location
            .entry(s["location"].as_str().unwrap_or("?"))
            .or_default() += 1;
    }
    let all_done = !ran || steps.iter().all(|s| s["status"]["status"] == "done");
    assert!(
        steps.len() == locations * per_location
            && by_location.len() == locations
            && by_location.values().all(|&n| n == per_location)
            && all_done,
        "expected {per_location} steps{} on each of {locations} locations, got {} steps on \
         {} locations ({by_location:?}), all done: {all_done}: {}",
        if ran { " done" } else { "" },
        steps.len(),
        by_location.len(),
        serde_json::to_string_pretty(json).unwrap()
    );
}

/// The sum of the steps' `took_ms`, and the longest.
fn took_ms(json: &Value) -> (u64, u64) {
    let took: Vec<u64> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["took_ms"].as_u64())
        .collect();
    (took.iter().sum(), took.iter().copied().max().unwrap_or(0))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs `f` `n` times; the median, min and max of what it returns, in ms.
fn repeat(n: usize, mut f: impl FnMut() -> Duration) -> (f64, f64, f64) {
    let mut times: Vec<Duration> = (0..n).map(|_| f()).collect();
    times.sort();
    (ms(times[n / 2]), ms(times[0]), ms(times[n - 1]))
}

fn main() {
    let start = Instant::now();
    let mesh = Mesh::start(AGENTS);
    println!(
        "{AGENTS} agents started, each knowing every other: {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu = mesh.cpu();
    let idle = Duration::from_secs(5);
    std::thread::sleep(idle);
    let idle_cpu = mesh.cpu().saturating_sub(cpu).as_secs_f64() / idle.as_secs_f64();
    println!(
        "agents' CPU while idle: {:.0} ms per second in all, {:.0}% of the {cores} cores",
        idle_cpu * 1e3,
        idle_cpu * 100.0 / cores as f64
    );
    let rss = mesh.rss_kib() as f64 / 1024.0;
    println!(
        "agents' RSS before any deployment: {rss:.1} MiB in all, {:.1} MiB each on average",
        rss / AGENTS as f64
    );

    let driver = agent_name(0);
    let record = mesh.path("answers.json");
    record_answers(&mesh, &driver, ROOT, &record);
    let steps = AGENTS * STEPS_PER_AGENT;

    let first = deploy(&mesh, &driver, ROOT, &record, &[]);
    check_steps(&first.json, AGENTS, STEPS_PER_AGENT, true);
    let (sum, max) = took_ms(&first.json);
    println!(
        "deploy of {steps} steps on {AGENTS} agents, first run (states entered): {:.0} ms \
         (agents' CPU {:.0} ms; steps' calls {sum} ms in all, the longest {max} ms)",
        ms(first.wall),
        ms(first.agents_cpu)
    );

    let mut cpus = Vec::new();
    let mut sums = Vec::new();
    let (median, min, max) = repeat(RUNS, || {
        let run = deploy(&mesh, &driver, ROOT, &record, &[]);
        check_steps(&run.json, AGENTS, STEPS_PER_AGENT, true);
        cpus.push(run.agents_cpu);
        sums.push(took_ms(&run.json).0);
        run.wall
    });
    cpus.sort();
    sums.sort();
    println!(
        "deploy of {steps} steps on {AGENTS} agents, later runs (provides only called, {RUNS} \
         runs): median {median:.0} ms, min {min:.0} ms, max {max:.0} ms (median agents' CPU \
         {:.0} ms; steps' calls {} ms in all)",
        ms(cpus[RUNS / 2]),
        sums[RUNS / 2]
    );

    let (median, min, max) = repeat(RUNS, || {
        let run = deploy(&mesh, &driver, ROOT, &record, &["--dry-run"]);
        check_steps(&run.json, AGENTS, STEPS_PER_AGENT, false);
        run.wall
    });
    println!(
        "of which resolution, the same command with --dry-run ({RUNS} runs): median \
         {median:.0} ms, min {min:.0} ms, max {max:.0} ms"
    );

    let rss = mesh.rss_kib() as f64 / 1024.0;
    println!(
        "agents' RSS after the runs: {rss:.1} MiB in all, {:.1} MiB each on average",
        rss / AGENTS as f64
    );

    // A deployment whose last step failed, finished by `resume`: the time from the command
    // to its first new step (the journals of the 50 agents read, the plan checked, the 199
    // steps done skipped), and to its end.
    std::fs::write(mesh.path("fail"), "").unwrap();
    let out = mesh
        .command(&driver, &["--format", "json", "deploy", ROOT, "--answers"])
        .arg(&record)
        .arg("--yes")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the root's step fails while the file exists"
    );
    let failed: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let id = failed["deployment"]
        .as_str()
        .expect("a deployment id")
        .to_owned();
    std::fs::remove_file(mesh.path("fail")).unwrap();
    let start = Instant::now();
    let mut resume = mesh
        .command(&driver, &["resume", &id, "--yes"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut first_step = None;
    let mut said = String::new();
    for line in BufReader::new(resume.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if first_step.is_none() && line.contains(" UTC start ") {
            first_step = Some(start.elapsed());
        }
        said.push_str(&line);
        said.push('\n');
    }
    let status = resume.wait().unwrap();
    let whole = start.elapsed();
    assert!(status.success(), "resume fails: {said}");
    assert!(
        said.contains("Deployment done") && said.matches(": done\n").count() == steps - 1,
        "resume ran what was done: {said}"
    );
    println!(
        "resume of that deployment after its last step failed (199 steps done, 1 to run): \
         first new step after {:.0} ms, done after {:.0} ms",
        ms(first_step.expect("a step started")),
        ms(whole)
    );
}
