//! The mesh, measured: catalogue convergence, the round trip of a call, a fan-out, and how soon
//! a dead peer is noticed (`cargo bench -p armonic-mesh --bench mesh`). Prints its figures.
//!
//! Every agent runs in this process, on loopback TCP, with explicit peers and the agent's
//! default timings, but for the agents that die abruptly: those run in child processes (this
//! program again, with `--agent`), to be killed or frozen by signals. mDNS stays off: it would
//! multicast on the machine's network. A mesh larger than this process's open files allow is
//! split in even shares between this process and children (`--share`, see `fleet.rs`);
//! `MESH_BENCH_PER_PROCESS=N` sets how many agents a process holds.
//!
//! `MESH_BENCH_SIZES=50` measures meshes of the sizes listed (comma-separated; default
//! `10,50`) and skips the round trip, which is measured only with the default sizes.
//! `MESH_BENCH_RUNS=1` starts one mesh for the convergence figure instead of three, and
//! `MESH_BENCH_TRACE=1` prints, each second of a wait, how many agents are still short of
//! the figure and how far, and `MESH_BENCH_SKIP=state,idle,fan-out` skips those figures
//! (at 1,000 agents on two cores, a fan-out alone can take minutes). A figure not reached
//! within 60 s is given up, or within `MESH_BENCH_GIVE_UP` seconds.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "mesh/fleet.rs"]
mod fleet;

use std::future::Future;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use armonic_journal::Host;
use armonic_lifecycle::format::parse;
use armonic_lifecycle::{
    Config as LocationConfig, LifecycleDef, Location, LogRecord, LogSink, OsType, load_dirs,
};
use armonic_mesh::MeshStats;
use armonic_mesh::{Config, Identity, SwarmKey};
use armonic_proto::serve::Service;
use armonic_proto::{ApiError, Call, DeploymentId, Endpoint, Response, finish, method};
use common::{Node, eventually};
use fleet::{Fleet, Query};

/// A lifecycle whose provide does nothing: what is measured is the mesh, not the work.
const NOOP: &str = r#"
name = "Noop"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On]
[states.On.provides.ping]
"#;

/// A lifecycle whose provide prints `lines` lines of 72 bytes: the output measured.
const FLOOD: &str = r#"
name = "Flood"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On]
[states.On.provides.flood.requires.how.variables]
lines = { type = "int", default = 1000 }
[states.On.provides.flood]
do = [{ run = 'seq 1 "$how_lines" | sed "s/$/ .............................................................../"', timeout = "10m" }]
"#;

const ROUND_TRIPS: usize = 2000;
/// Meshes started for the convergence figure, unless `MESH_BENCH_RUNS` says how many.
fn convergence_runs() -> usize {
    std::env::var("MESH_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|r| *r > 0)
        .unwrap_or(3)
}
const STATE_CHANGES: usize = 5;
const FAN_OUT_ROUNDS: usize = 20;
/// How long an idle mesh is watched.
const IDLE_FOR: Duration = Duration::from_secs(10);
/// Longest any wait may take before the figure is given up as not reached: far beyond every
/// target, so that a figure that misses its target is still given.
/// `MESH_BENCH_GIVE_UP=180` waits that many seconds instead (a mesh of 1,000 on two cores).
static GIVE_UP: std::sync::LazyLock<Duration> = std::sync::LazyLock::new(|| {
    let Ok(given) = std::env::var("MESH_BENCH_GIVE_UP") else {
        return Duration::from_secs(60);
    };
    match given.trim().parse::<u64>() {
        Ok(secs) if secs > 0 => Duration::from_secs(secs),
        _ => {
            eprintln!("MESH_BENCH_GIVE_UP: {given:?} is not a number of seconds, such as 180");
            std::process::exit(2);
        }
    }
});

struct Quiet;
impl LogSink for Quiet {
    fn log(&self, _: &LogRecord) {}
}

/// The shipped lifecycles and `Noop`, parsed once for every node.
fn lifecycles() -> Vec<LifecycleDef> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lifecycles");
    let mut defs = load_dirs(&[dir]).lifecycles;
    defs.push(parse(NOOP, Path::new("noop.toml")).expect("Noop parses"));
    defs.push(parse(FLOOD, Path::new("flood.toml")).expect("Flood parses"));
    defs
}

/// The agent's own settings, which the bench keeps.
fn agent_defaults() -> Config {
    Config::new(
        Identity::ephemeral(),
        SwarmKey::random().expect("swarm key"),
    )
}

/// A node as the agent would run it, bar the address: loopback, `peers` dialed, no mDNS.
fn config(key: &SwarmKey, peers: &[&Node]) -> Config {
    loopback(key, peers.iter().map(|n| n.addr.clone()).collect())
}

/// A node on loopback that dials the addresses `peers`, without mDNS.
fn loopback(key: &SwarmKey, peers: Vec<String>) -> Config {
    let mut c = Config::new(Identity::ephemeral(), key.clone());
    c.listen = vec!["/ip4/127.0.0.1/tcp/0".into()];
    c.peers = peers;
    c.mdns = false;
    c
}

async fn start(name: &str, defs: &[LifecycleDef], config: Config) -> Node {
    let location = Location::builder(LocationConfig {
        name: name.into(),
        os: OsType::all(),
        public_ip: name.into(),
        ..LocationConfig::default()
    })
    .sink(Arc::new(Quiet))
    .build(defs.to_vec())
    .expect("location starts");
    // As in the agent: calls run on the runtime's blocking threads, the journal on disk.
    static JOURNALS: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = JOURNALS
        .get_or_init(|| tempfile::tempdir().expect("a directory for the journals"))
        .path()
        .join(format!("{name}-{}", NEXT.fetch_add(1, Ordering::Relaxed)));
    let local = Host::new(location, &armonic_journal::Config::in_dir(dir))
        .expect("a journal")
        .spawning(Arc::new(|job| {
            tokio::task::spawn_blocking(job);
        }));
    let identity = config.identity.clone();
    let handle = armonic_mesh::start(config, Some(Arc::new(local.clone()) as Arc<dyn Service>))
        .await
        .expect("mesh starts");
    eventually("a listen address", || {
        let h = handle.clone();
        async move { !h.listen_addrs().await.is_empty() }
    })
    .await;
    let addr = handle.listen_addrs().await.swap_remove(0);
    let node = Node {
        name: name.into(),
        handle,
        local,
        identity,
        addr,
    };
    node.announce().await;
    node
}

/// The CPU time this process and processes `pids` have used, from `/proc` (Linux counts it
/// in hundredths of a second); `None` elsewhere.
fn cpu_time(pids: &[u32]) -> Option<Duration> {
    let of = |proc: &str| -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{proc}/stat")).ok()?;
        // The command name may hold spaces; the fields after it are fixed.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let user: u64 = fields.get(11)?.parse().ok()?;
        let system: u64 = fields.get(12)?.parse().ok()?;
        Some(user + system)
    };
    let mut ticks = of("self")?;
    for pid in pids {
        ticks += of(&pid.to_string())?;
    }
    Some(Duration::from_millis(ticks * 10))
}

/// How late a timer of this process fires at worst: every agent runs on the same few threads,
/// so an agent kept waiting for one is late with its probes and answers too.
struct Lag(Arc<AtomicU64>);

impl Lag {
    const TICK: Duration = Duration::from_millis(10);

    fn start() -> Lag {
        let worst = Arc::new(AtomicU64::new(0));
        let probe = Arc::clone(&worst);
        tokio::spawn(async move {
            loop {
                let asked = Instant::now();
                tokio::time::sleep(Self::TICK).await;
                let late = asked.elapsed().saturating_sub(Self::TICK);
                probe.fetch_max(late.as_micros() as u64, Ordering::Relaxed);
            }
        });
        Lag(worst)
    }

    /// The worst lateness since the last call.
    fn take(&self) -> Duration {
        Duration::from_micros(self.0.swap(0, Ordering::Relaxed))
    }
}

/// The resident memory of this process and processes `pids`, from `/proc`; `None` elsewhere.
fn rss(pids: &[u32]) -> Option<u64> {
    let of = |proc: &str| -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{proc}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    };
    let mut bytes = of("self")?;
    for pid in pids {
        bytes += of(&pid.to_string())?;
    }
    Some(bytes)
}

/// Raises this process's limit of open files: every agent holds a listener, its connections
/// (both ends of each, all agents being in this process) and its journal's files, about 19
/// in all at 1,000 agents. Root may raise the hard limit too (to 65,536); anyone else gets
/// the hard limit.
fn raise_file_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    const WANTED: u64 = 65_536;
    let limit = getrlimit(Resource::Nofile);
    if limit.maximum.is_some_and(|m| m < WANTED) {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(WANTED),
                maximum: Some(WANTED),
            },
        );
    }
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// The connections each agent holds: fewest, median, most.
fn degree(stats: &[MeshStats]) -> String {
    let mut held: Vec<usize> = stats.iter().map(|s| s.connections).collect();
    held.sort_unstable();
    format!(
        "connections per agent: fewest {}, median {}, most {}",
        held.first().unwrap_or(&0),
        held.get(held.len() / 2).unwrap_or(&0),
        held.last().unwrap_or(&0),
    )
}

/// Peers cut for silence by all agents since they started, dials started, entries taken as
/// news, and membership messages sent.
fn cuts(stats: &[MeshStats]) -> (u64, u64, u64, u64) {
    stats.iter().fold((0, 0, 0, 0), |(s, d, f, a), st| {
        (s + st.silenced, d + st.dials, f + st.news, a + st.asked)
    })
}

/// What keeping the agents informed cost in messages: membership messages sent per agent, and
/// how many times over each agent was told each entry it took as news.
fn upkeep(stats: &[MeshStats]) -> String {
    let (asked, received, news) = stats.iter().fold((0, 0, 0), |(a, r, n), st| {
        (a + st.asked, r + st.received, n + st.news)
    });
    let n = stats.len().max(1) as f64;
    format!(
        "{:.0} membership messages sent and {:.0} entries received per agent, {:.1} per entry \
         taken as news",
        asked as f64 / n,
        received as f64 / n,
        received as f64 / news.max(1) as f64,
    )
}

/// The machine's load average over the last minute, from `/proc`; `None` elsewhere.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// How long a mesh must go without a dial or an entry taken as news to count as settled.
const SETTLED_FOR: Duration = Duration::from_secs(2);

/// Waits until no agent of `fleet` dialed or took news for [`SETTLED_FOR`] (the last
/// connections of the start let go, the random links picked early picked anew), or
/// [`GIVE_UP`]; how long that took, and whether it settled.
async fn settle(fleet: &Fleet) -> (Duration, bool) {
    let started = Instant::now();
    let busy = |stats: &[MeshStats]| {
        let (_, dials, news, _) = cuts(stats);
        (dials, news)
    };
    let mut last = busy(&fleet.stats().await);
    let mut quiet_since = Instant::now();
    while started.elapsed() < *GIVE_UP {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = busy(&fleet.stats().await);
        if now != last {
            last = now;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= SETTLED_FOR {
            return (started.elapsed(), true);
        }
    }
    (started.elapsed(), false)
}

/// What a mesh costs doing nothing but staying a mesh (probes, periodic digests, gossip
/// upkeep), once settled: every agent shares the machine's cores.
async fn idle_cpu(fleet: &Fleet) {
    let (waited, settled) = settle(fleet).await;
    println!(
        "idle mesh: {} after {} (no dial, no news for {})",
        if settled {
            "settled"
        } else {
            "not settled, measured anyway"
        },
        secs(waited),
        secs(SETTLED_FOR),
    );
    let pids = fleet.pids();
    let (Some(before), started) = (cpu_time(&pids), Instant::now()) else {
        return;
    };
    let (silenced, dials, fetched, asked) = cuts(&fleet.stats().await);
    tokio::time::sleep(IDLE_FOR).await;
    let (Some(after), took) = (cpu_time(&pids), started.elapsed()) else {
        return;
    };
    let stats = fleet.stats().await;
    let (silenced_after, dials_after, fetched_after, asked_after) = cuts(&stats);
    let n = fleet.len();
    let cores = (after - before).as_secs_f64() / took.as_secs_f64();
    println!(
        "idle mesh, {n} agents over {}: {cores:.2} cores busy ({:.2} ms of CPU per agent per \
         second); {} live peers cut for silence, {} dials, {} entries taken as news, {:.2} \
         membership messages sent per agent per second; {}; {}",
        secs(took),
        cores * 1e3 / n as f64,
        silenced_after - silenced,
        dials_after - dials,
        fetched_after - fetched,
        (asked_after - asked) as f64 / n as f64 / took.as_secs_f64(),
        degree(&stats),
        rss(&pids).map_or_else(
            || "memory unknown".into(),
            |r| format!(
                "{:.1} MB resident in all, {:.0} KB per agent",
                r as f64 / 1e6,
                r as f64 / 1e3 / n as f64
            )
        ),
    );
}

async fn start_owned(name: String, defs: &[LifecycleDef], config: Config) -> Node {
    start(&name, defs, config).await
}

async fn stop(nodes: Vec<Node>) {
    for n in &nodes {
        n.handle.shutdown().await;
    }
}

fn ping(deployment: &DeploymentId) -> Call {
    Call::new(method::ProvideCall {
        uri: "//Noop//ping".parse().unwrap(),
        values: Default::default(),
        path_idx: 0,
    })
    .in_deployment(deployment.clone())
}

/// Makes `call` on location `name` through `handle`; its lines go nowhere.
async fn call(handle: &armonic_mesh::Handle, name: &str, call: Call) -> Result<Response, ApiError> {
    finish(handle.endpoint(name).call(call), |_| {}).await
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn millis(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn verdict(took: Duration, target: Duration) -> String {
    if took <= target {
        "met".into()
    } else if target < Duration::from_secs(1) {
        format!("missed by {}", millis(took - target))
    } else {
        format!("missed by {}", secs(took - target))
    }
}

/// Prints `what` after `took`, against `target`.
fn report(what: &str, took: Option<Duration>, target: Duration) {
    match took {
        Some(t) => println!(
            "{what} after {} (target {}: {})",
            secs(t),
            secs(target),
            verdict(t, target)
        ),
        None => println!(
            "{what}: not reached within {} (target {}: missed)",
            secs(*GIVE_UP),
            secs(target)
        ),
    }
}

/// Times `n` sequential calls made by `call`; sorted.
async fn time_calls<F, Fut>(n: usize, call: F) -> Vec<Duration>
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        call().await;
        times.push(start.elapsed());
    }
    times.sort();
    times
}

async fn round_trips(defs: &[LifecycleDef]) {
    let key = SwarmKey::random().expect("swarm key");
    let a = start("a", defs, config(&key, &[])).await;
    let b = start("b", defs, config(&key, &[&a])).await;
    eventually("a to see b", || async { a.sees("b") }).await;
    // Enters On once; the calls timed only call the provide.
    call(&a.handle, "b", ping(&DeploymentId::new()))
        .await
        .expect("first ping");
    let provide = time_calls(ROUND_TRIPS, || async {
        call(&a.handle, "b", ping(&DeploymentId::new()))
            .await
            .expect("ping");
    })
    .await;
    let info = time_calls(ROUND_TRIPS, || async {
        call(&a.handle, "b", Call::new(method::Info {}))
            .await
            .expect("info");
    })
    .await;
    let (p50, p99) = (percentile(&provide, 0.5), percentile(&provide, 0.99));
    let met = |d: Duration, ms: u64| verdict(d, Duration::from_millis(ms));
    println!(
        "round trip, no-op provide_call between two agents ({ROUND_TRIPS} calls, a new deployment each): \
         p50 {}, p99 {}, max {} (targets p50 < 0.2 ms: {}, p99 < 1 ms: {})",
        millis(p50),
        millis(p99),
        millis(*provide.last().unwrap()),
        verdict(p50, Duration::from_micros(200)),
        met(p99, 1),
    );
    println!(
        "round trip, info between two agents ({ROUND_TRIPS} calls): p50 {}, p99 {}, max {}",
        millis(percentile(&info, 0.5)),
        millis(percentile(&info, 0.99)),
        millis(*info.last().unwrap()),
    );
    stop(vec![a, b]).await;
}

/// Whether `node` sees location `name` with `lifecycle` in state `state`.
fn sees_state(node: &Node, name: &str, lifecycle: &str, state: &str) -> bool {
    node.handle.catalogue(name).is_some_and(|c| {
        c.lifecycles
            .iter()
            .any(|l| l.name == lifecycle && l.current.as_deref() == Some(state))
    })
}

/// The targets for a mesh of `n` agents: how soon it converges, and how soon a state change
/// is seen by all (up to 100 agents, and beyond).
fn targets(n: usize) -> (Duration, Duration) {
    if n <= 100 {
        (Duration::from_secs(2), Duration::from_secs(1))
    } else {
        (Duration::from_secs(15), Duration::from_secs(3))
    }
}

/// Meshes of `n` agents started together, `runs` times: how soon every agent knows every
/// other as live with its catalogue. The last mesh is kept for what follows; its key is
/// written in `dir`.
async fn convergence(n: usize, defs: &[LifecycleDef], dir: &Path, lag: &Lag, files: u64) -> Fleet {
    let target = targets(n).0;
    let mut times = Vec::new();
    let mut costs = Vec::new();
    let mut ups = Vec::new();
    let mut last = None;
    let runs = convergence_runs();
    for run in 0..runs {
        let wall_before = Instant::now();
        let cpu_before = cpu_time(&[]);
        lag.take();
        let (fleet, started, up) =
            Fleet::start(n, defs, dir.join(format!("{n}-{run}.key")), files).await;
        let until = fleet.until_all(started, &Query::Knows(n - 1), "").await;
        ups.push(up);
        // The other processes' CPU, all of it spent on this mesh, is counted whole.
        let cpu = cpu_before
            .zip(cpu_time(&fleet.pids()))
            .map(|(before, after)| after - before);
        let stats = fleet.stats().await;
        let (silenced, dials, _, _) = cuts(&stats);
        costs.push((
            cpu,
            wall_before.elapsed(),
            lag.take(),
            format!(
                "{dials} dials, {silenced} live peers cut for silence; {}; {}",
                degree(&stats),
                upkeep(&stats),
            ),
        ));
        times.push(until.all().ok_or_else(|| short_of(&stats)));
        if run + 1 < runs {
            fleet.stop().await;
        } else {
            last = Some(fleet);
        }
    }
    let last = last.expect("at least one run");
    let shown: Vec<String> = times
        .iter()
        .map(|t| t.as_ref().map_or_else(Clone::clone, |t| secs(*t)))
        .collect();
    let worst = times
        .iter()
        .try_fold(Duration::ZERO, |w, t| t.as_ref().ok().map(|t| w.max(*t)));
    let processes = match last.processes() {
        1 => String::new(),
        p => format!("; in {p} processes"),
    };
    report(
        &format!(
            "convergence, {n} agents started together: all catalogues known, counted from \
             their start (runs: {}; all {} listening after {}{processes}), worst",
            shown.join("; "),
            n - 1,
            ups.iter().map(|u| secs(*u)).collect::<Vec<_>>().join(", "),
        ),
        worst,
        target,
    );
    // Every agent shares this machine's cores: what the start and the convergence cost in
    // CPU, and how late timers fired, say how much of the time is waiting for a core.
    for (cpu, wall, late, cuts) in costs {
        let cpu = cpu.map_or_else(String::new, |used| {
            format!(
                "{} of CPU in {} ({:.2} cores busy, {} per agent), ",
                secs(used),
                secs(wall),
                used.as_secs_f64() / wall.as_secs_f64(),
                millis(used / n as u32),
            )
        });
        println!(
            "  start and convergence of {n} agents: {cpu}timers up to {} late; {cuts}",
            millis(late)
        );
    }
    last
}

/// How far from convergence the agents are: how many know every other, and the fewest
/// others any agent knows.
fn short_of(stats: &[MeshStats]) -> String {
    let others = stats.len() - 1;
    let known: Vec<usize> = stats.iter().map(|s| s.live).collect();
    format!(
        "not reached: {} of {} agents knew all {others} others, the least informed {}",
        known.iter().filter(|&&k| k == others).count(),
        stats.len(),
        known.iter().min().copied().unwrap_or(0),
    )
}

/// State changes on a few agents of this process, one at a time: how soon every other agent
/// sees the new current state in that agent's catalogue.
async fn state_changes(fleet: &Fleet) {
    let n = fleet.len();
    let target = targets(n).1;
    let here = fleet.nodes.len();
    let changed = [here - 1, 0, here / 2, here / 4, 3 * here / 4];
    let mut times = Vec::new();
    for &i in &changed[..STATE_CHANGES] {
        let node = &fleet.nodes[i];
        let started = Instant::now();
        finish(
            Endpoint::call(
                &node.local,
                Call::new(method::StateGoto {
                    uri: "//WebServer/Installed".parse().unwrap(),
                    values: Default::default(),
                    path_idx: 0,
                }),
            ),
            |_| {},
        )
        .await
        .expect("state change");
        // What the agent's announcer does when the location's generation moves.
        node.announce().await;
        let until = fleet
            .until_all(started, &Query::Installed(node.name.clone()), &node.name)
            .await;
        times.push(until.all());
    }
    let Some(mut times) = times.into_iter().collect::<Option<Vec<_>>>() else {
        report(
            &format!("state change, {n} agents: seen by all"),
            None,
            target,
        );
        return;
    };
    times.sort();
    report(
        &format!(
            "state change, {n} agents: seen by all {} others ({STATE_CHANGES} changes, median {}), worst",
            n - 1,
            secs(percentile(&times, 0.5)),
        ),
        times.last().copied(),
        target,
    );
}

/// How fast a step's output reaches its caller on another agent: 100 MB of lines.
async fn throughput(defs: &[LifecycleDef]) {
    let key = SwarmKey::random().expect("swarm key");
    let a = start("a", defs, config(&key, &[])).await;
    let _b = start("b", defs, config(&key, &[&a])).await;
    eventually("a to see b", || async { a.sees("b") }).await;
    let lines: u64 = 1_400_000;
    let flood = |n: u64| {
        Call::new(method::ProvideCall {
            uri: "//Flood//flood".parse().unwrap(),
            values: armonic_lifecycle::Values::new().set("//how/lines", n as i64),
            path_idx: 0,
        })
    };
    // Enters On once.
    call(&a.handle, "b", flood(1)).await.expect("a first flood");
    let started = Instant::now();
    let (mut got, mut bytes, mut missed) = (0u64, 0u64, 0u64);
    let result = finish(a.handle.endpoint("b").call(flood(lines)), |e| match e {
        armonic_proto::Event::Lines { lines, .. } => {
            for l in lines.iter() {
                got += 1;
                bytes += l.message.len() as u64 + 1;
            }
        }
        armonic_proto::Event::Missed { count } => missed += count,
        armonic_proto::Event::Done(_) => {}
    })
    .await;
    let took = started.elapsed();
    let rate = bytes as f64 / 1e6 / took.as_secs_f64();
    println!(
        "remote output to the caller: {} lines, {:.0} MB in {} = {rate:.1} MB/s, {missed} missed, {} (target >= 20 MB/s: {})",
        got,
        bytes as f64 / 1e6,
        secs(took),
        if result.is_ok() { "ok" } else { "FAILED" },
        if rate >= 20.0 { "met" } else { "missed" },
    );
}

/// One agent calls the no-op provide on every other at once.
async fn fan_out(fleet: &Fleet) {
    let target = Duration::from_secs(1);
    let caller = &fleet.nodes[0];
    let names: Vec<String> = fleet
        .names()
        .into_iter()
        .filter(|n| *n != caller.name)
        .collect();
    let others = names.len();
    // Calls go by name to live peers: a caller that does not know them all yet would measure
    // failures.
    let waited = Instant::now();
    while caller.handle.live().len() != others && waited.elapsed() < *GIVE_UP {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if caller.handle.live().len() != others {
        println!(
            "fan-out: the caller knows {} of the {others} others; calls to the rest fail",
            caller.handle.live().len()
        );
    }
    let round = || async {
        let deployment = DeploymentId::new();
        let started = Instant::now();
        let calls: Vec<_> = names
            .iter()
            .map(|name| {
                let (handle, name, request) =
                    (caller.handle.clone(), name.clone(), ping(&deployment));
                tokio::spawn(async move { call(&handle, &name, request).await })
            })
            .collect();
        let mut failed = 0;
        for call in calls {
            if !matches!(call.await, Ok(Ok(_))) {
                failed += 1;
            }
        }
        (started.elapsed(), failed)
    };
    let first = tokio::time::timeout(*GIVE_UP, round()).await.ok();
    let (mut times, mut failed) = (Vec::new(), 0);
    for _ in 0..FAN_OUT_ROUNDS {
        match tokio::time::timeout(*GIVE_UP, round()).await {
            Ok((took, f)) => {
                times.push(took);
                failed += f;
            }
            Err(_) => failed += others,
        }
    }
    times.sort();
    println!(
        "fan-out, one agent to {others} at once: first round (enters On on each) {}",
        first.map_or_else(
            || "not done".into(),
            |(t, f)| format!("{}, {f} failed", secs(t))
        )
    );
    report(
        &format!(
            "fan-out, one agent to {others} at once: all answered ({FAN_OUT_ROUNDS} rounds, \
             {failed} calls failed, median {}), worst",
            times
                .get(times.len() / 2)
                .map_or_else(|| "-".into(), |t| secs(*t)),
        ),
        times.last().copied(),
        target,
    );
}

/// An agent in a process of its own (this program, with `--agent`), killed when dropped.
struct Child(std::process::Child);

impl Child {
    /// Starts agent `name` in the mesh of `key_file`, dialing `peer`.
    fn start(name: &str, key_file: &Path, peer: &Node) -> Child {
        let process = Command::new(std::env::current_exe().expect("the bench's own path"))
            .arg("--agent")
            .arg(name)
            .arg(key_file)
            .arg(&peer.addr)
            // The agent runs until its standard input closes: it does not outlive the bench.
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("agent process starts");
        Child(process)
    }

    /// Kills the agent's process (SIGKILL).
    fn kill(&mut self) {
        self.0.kill().expect("SIGKILL sent");
    }

    /// Stops the agent's process where it stands (SIGSTOP).
    fn freeze(&self) {
        let pid = self.0.id().to_string();
        let sent = Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "kill -STOP {pid}");
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The runtime every process of the bench runs its agents on.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The body of `--agent NAME KEY_FILE PEER`: one agent, until its standard input closes.
fn agent(args: &[String]) {
    let [name, key_file, peer] = args else {
        panic!("--agent NAME KEY_FILE PEER, not {args:?}");
    };
    let runtime = runtime();
    runtime.block_on(async {
        let key = SwarmKey::read(Path::new(key_file)).expect("swarm key");
        let _node = start(name, &lifecycles(), loopback(&key, vec![peer.clone()])).await;
        let _ = tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new())).await;
    });
}

/// Agents of `fleet` die in three ways, one at a time: how soon the others stop listing each
/// as live. Stops the mesh.
async fn deaths(mut fleet: Fleet) {
    let stopped = fleet.nodes.pop().expect("a node to stop");
    noticed(
        "stopped in this process (its connections closed)",
        &stopped.name,
        &fleet,
        stopped.handle.shutdown(),
    )
    .await;
    let mut killed = Child::start("killed", &fleet.key_file, &fleet.nodes[0]);
    joined("killed", &fleet).await;
    noticed(
        "killed (SIGKILL: the system closes its connections)",
        "killed",
        &fleet,
        async { killed.kill() },
    )
    .await;
    drop(killed);
    let frozen = Child::start("frozen", &fleet.key_file, &fleet.nodes[0]);
    joined("frozen", &fleet).await;
    noticed(
        "frozen (SIGSTOP: connections stay up, nothing answers)",
        "frozen",
        &fleet,
        async { frozen.freeze() },
    )
    .await;
    drop(frozen);
    fleet.stop().await;
}

/// Waits until every agent of `fleet` lists `name` as live, or gives up.
async fn joined(name: &str, fleet: &Fleet) {
    let until = fleet
        .until_all(Instant::now(), &Query::Sees(name.into()), "")
        .await;
    if until.pending > 0 {
        println!(
            "  {name} is listed as live by {} of {} agents only",
            until.times.len(),
            fleet.len()
        );
    }
}

/// Runs `death` on agent `name`, then reports how soon the agents of `fleet` that listed it
/// as live stop listing it.
async fn noticed(how: &str, name: &str, fleet: &Fleet, death: impl Future<Output = ()>) {
    let target = Duration::from_secs(5);
    let (listing, _) = fleet
        .split(fleet.everyone(""), &Query::Sees(name.into()))
        .await;
    let watching = listing.len();
    if watching == 0 {
        println!("dead peer, {how}: no agent listed {name} as live");
        return;
    }
    let started = Instant::now();
    death.await;
    let gone = fleet
        .until_all_of(listing, started, &Query::Lost(name.into()))
        .await;
    report(
        &format!(
            "dead peer, {how}: gone from the live views of all {watching} agents that listed it \
             (first {}, median {}), last",
            gone.times.first().map_or_else(|| "-".into(), |t| secs(*t)),
            gone.times
                .get(gone.times.len() / 2)
                .map_or_else(|| "-".into(), |t| secs(*t)),
        ),
        gone.all(),
        target,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--agent") => return agent(&args[1..]),
        Some("--share") => return fleet::share(&args[1..]),
        _ => {}
    }
    let runtime = runtime();
    runtime.block_on(async {
        let defs = lifecycles();
        let defaults = agent_defaults();
        let files = raise_file_limit();
        let keys = tempfile::tempdir().expect("a directory for swarm keys");
        println!(
            "mesh bench: agents in one process (or shares of a large mesh in a few) on 127.0.0.1 \
             TCP, explicit peers, no mDNS; \
             probes every {}, comparisons with a random peer every {} (agent defaults); {} cores, shared by \
             every agent; machine load average {}; up to {files} open files",
            secs(defaults.ping_every),
            secs(defaults.gossip_every),
            std::thread::available_parallelism().map_or(1, usize::from),
            load_average().map_or_else(|| "unknown".into(), |l| format!("{l:.2}")),
        );
        let lag = Lag::start();
        if std::env::var_os("MESH_BENCH_CALLS_ONLY").is_some() {
            round_trips(&defs).await;
            throughput(&defs).await;
            return;
        }
        let sizes: Vec<usize> = match std::env::var("MESH_BENCH_SIZES") {
            Ok(list) => list
                .split(',')
                .map(|n| {
                    n.trim()
                        .parse()
                        .expect("MESH_BENCH_SIZES: sizes such as 10,50")
                })
                .collect(),
            Err(_) => {
                round_trips(&defs).await;
                throughput(&defs).await;
                vec![10, 50]
            }
        };
        let skip = std::env::var("MESH_BENCH_SKIP").unwrap_or_default();
        let skip: Vec<&str> = skip.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        if let Some(unknown) = skip.iter().find(|s| !["state", "idle", "fan-out"].contains(s)) {
            eprintln!("MESH_BENCH_SKIP: no figure {unknown:?} (state, idle, fan-out)");
            std::process::exit(2);
        }
        let skipped = |what: &str| skip.contains(&what);
        for n in sizes {
            let fleet = convergence(n, &defs, keys.path(), &lag, files).await;
            if !skipped("state") {
                state_changes(&fleet).await;
            }
            if !skipped("idle") {
                idle_cpu(&fleet).await;
            }
            if !skipped("fan-out") {
                fan_out(&fleet).await;
            }
            deaths(fleet).await;
        }
    });
}
