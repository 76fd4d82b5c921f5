//! A mesh larger than one process's open files allow: agents in this process and in child
//! processes (this program again, with `--share`), each child asked over its standard input
//! what its agents see, and answering on its standard output.
//!
//! Every agent holds about 20 files (a listener, both ends of each connection when both peers
//! are in one process, its journal), and a process may hold 20,000 here: past a few hundred
//! agents the mesh is split in even shares, the first in this process.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use armonic_lifecycle::LifecycleDef;
use armonic_mesh::{MeshStats, SwarmKey, generate_swarm_key};

use super::{GIVE_UP, Node, lifecycles, loopback, secs, sees_state, start, start_owned};

/// What is asked of each agent of a mesh, wherever it runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Query {
    /// It knows this many others as live.
    Knows(usize),
    /// It sees the WebServer of this location installed.
    Installed(String),
    /// It lists this location as live.
    Sees(String),
    /// It no longer lists this location as live.
    Lost(String),
}

impl Query {
    pub fn holds(&self, node: &Node) -> bool {
        match self {
            Query::Knows(k) => node.handle.stats().live == *k,
            Query::Installed(name) => sees_state(node, name, "WebServer", "Installed"),
            Query::Sees(name) => node.handle.catalogue(name).is_some(),
            Query::Lost(name) => node.handle.catalogue(name).is_none(),
        }
    }

    fn words(&self) -> String {
        match self {
            Query::Knows(k) => format!("knows {k}"),
            Query::Installed(name) => format!("installed {name}"),
            Query::Sees(name) => format!("sees {name}"),
            Query::Lost(name) => format!("lost {name}"),
        }
    }

    fn parse(kind: &str, arg: &str) -> Option<Query> {
        Some(match kind {
            "knows" => Query::Knows(arg.parse().ok()?),
            "installed" => Query::Installed(arg.into()),
            "sees" => Query::Sees(arg.into()),
            "lost" => Query::Lost(arg.into()),
            _ => return None,
        })
    }
}

/// The figures of [`MeshStats`] a share sends back, in this order.
fn stats_line(s: &MeshStats) -> String {
    format!(
        "{},{},{},{},{},{},{},{}",
        s.live, s.members, s.connections, s.dials, s.silenced, s.news, s.asked, s.received
    )
}

fn parse_stats(word: &str) -> MeshStats {
    let f: Vec<u64> = word.split(',').map(|x| x.parse().unwrap_or(0)).collect();
    let at = |i: usize| f.get(i).copied().unwrap_or(0);
    MeshStats {
        live: at(0) as usize,
        members: at(1) as usize,
        connections: at(2) as usize,
        dials: at(3),
        silenced: at(4),
        news: at(5),
        asked: at(6),
        received: at(7),
        ..MeshStats::default()
    }
}

/// Agents `n{first}`.. in a child process.
struct Share {
    process: std::process::Child,
    io: Arc<Mutex<(ChildStdin, BufReader<ChildStdout>)>>,
    first: usize,
    count: usize,
}

impl Share {
    /// Starts `count` agents from `n{first}` in a child, each dialing `peer`.
    fn start(first: usize, count: usize, key_file: &Path, peer: &str) -> Share {
        let mut process = Command::new(std::env::current_exe().expect("the bench's own path"))
            .arg("--share")
            .arg(first.to_string())
            .arg(count.to_string())
            .arg(key_file)
            .arg(peer)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("a share of the agents starts");
        let stdin = process.stdin.take().expect("piped");
        let stdout = BufReader::new(process.stdout.take().expect("piped"));
        Share {
            process,
            io: Arc::new(Mutex::new((stdin, stdout))),
            first,
            count,
        }
    }

    /// Sends `line`, returns the answer (a line): off the runtime's threads, which the
    /// agents of this process need.
    async fn ask(&self, line: String) -> String {
        let io = Arc::clone(&self.io);
        tokio::task::spawn_blocking(move || {
            let mut io = io.lock().expect("one question at a time");
            let (stdin, stdout) = &mut *io;
            writeln!(stdin, "{line}").expect("the share reads");
            stdin.flush().expect("the share reads");
            let mut answer = String::new();
            stdout.read_line(&mut answer).expect("the share answers");
            assert!(!answer.is_empty(), "a share of the agents died");
            answer.trim_end().to_string()
        })
        .await
        .expect("asked")
    }

    fn pid(&self) -> u32 {
        self.process.id()
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Agents of a mesh: some in this process (`n0` first), the rest in shares.
pub struct Fleet {
    pub nodes: Vec<Node>,
    shares: Vec<Share>,
    pub key_file: PathBuf,
}

/// Some of a fleet's agents: indices in this process, and in each share.
pub struct Selection {
    local: Vec<usize>,
    remote: Vec<Vec<usize>>,
}

impl Selection {
    pub fn len(&self) -> usize {
        self.local.len() + self.remote.iter().map(Vec::len).sum::<usize>()
    }
}

/// Per agent a query held for, how long after it was first asked; and how many it never
/// held for (within [`GIVE_UP`]).
pub struct Until {
    pub times: Vec<Duration>,
    pub pending: usize,
}

impl Until {
    /// When it held for the last, if it held for all.
    pub fn all(&self) -> Option<Duration> {
        (self.pending == 0).then(|| self.times.last().copied().unwrap_or_default())
    }
}

/// How many agents one process holds, for `files` open files: from `MESH_BENCH_PER_PROCESS`
/// if set.
fn per_process(files: u64) -> usize {
    std::env::var("MESH_BENCH_PER_PROCESS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| (files.saturating_sub(1_000) / 24).max(50) as usize)
}

impl Fleet {
    /// Starts `n` agents together: `n0`, then all the others at once, each given `n0` as its
    /// one peer, split between this process and others as `files` allows. Their key is written
    /// to `key_file`. Returns them, when the others were started, and how long until every one
    /// of them listened.
    pub async fn start(
        n: usize,
        defs: &[LifecycleDef],
        key_file: PathBuf,
        files: u64,
    ) -> (Fleet, Instant, Duration) {
        generate_swarm_key(&key_file).expect("swarm key written");
        let key = SwarmKey::read(&key_file).expect("swarm key read");
        let processes = n.div_ceil(per_process(files)).max(1);
        let share = n.div_ceil(processes);
        let first = start("n0", defs, loopback(&key, Vec::new())).await;
        let started = Instant::now();
        let shares: Vec<Share> = (share..n)
            .step_by(share)
            .map(|from| Share::start(from, share.min(n - from), &key_file, &first.addr))
            .collect();
        let local = futures::future::join_all((1..share.min(n)).map(|i| {
            start_owned(
                format!("n{i}"),
                defs,
                loopback(&key, vec![first.addr.clone()]),
            )
        }));
        let (others, _) = futures::future::join(
            local,
            futures::future::join_all(shares.iter().map(|s| s.ask("up".into()))),
        )
        .await;
        let up = started.elapsed();
        let nodes = std::iter::once(first).chain(others).collect();
        let fleet = Fleet {
            nodes,
            shares,
            key_file,
        };
        (fleet, started, up)
    }

    pub fn len(&self) -> usize {
        self.nodes.len() + self.shares.iter().map(|s| s.count).sum::<usize>()
    }

    /// How many processes the agents run in.
    pub fn processes(&self) -> usize {
        1 + self.shares.len()
    }

    /// Every agent's name.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.nodes.iter().map(|n| n.name.clone()).collect();
        for s in &self.shares {
            names.extend((s.first..s.first + s.count).map(|i| format!("n{i}")));
        }
        names
    }

    /// The processes holding agents besides this one.
    pub fn pids(&self) -> Vec<u32> {
        self.shares.iter().map(Share::pid).collect()
    }

    /// Every agent's figures.
    pub async fn stats(&self) -> Vec<MeshStats> {
        let mut all: Vec<MeshStats> = self.nodes.iter().map(|n| n.handle.stats()).collect();
        let answers =
            futures::future::join_all(self.shares.iter().map(|s| s.ask("stats".into()))).await;
        for answer in answers {
            all.extend(answer.split_whitespace().map(parse_stats));
        }
        all
    }

    /// Every agent but `except`.
    pub fn everyone(&self, except: &str) -> Selection {
        Selection {
            local: (0..self.nodes.len())
                .filter(|&i| self.nodes[i].name != except)
                .collect(),
            remote: self
                .shares
                .iter()
                .map(|s| {
                    (0..s.count)
                        .filter(|i| format!("n{}", s.first + i) != except)
                        .collect()
                })
                .collect(),
        }
    }

    /// Asks `query` of the agents of `asked`: those it holds for, and the others.
    pub async fn split(&self, asked: Selection, query: &Query) -> (Selection, Selection) {
        let (local_held, local_not): (Vec<usize>, Vec<usize>) = asked
            .local
            .into_iter()
            .partition(|&i| query.holds(&self.nodes[i]));
        let questions = self.shares.iter().zip(&asked.remote).map(|(s, pending)| {
            let line = (!pending.is_empty()).then(|| {
                let list: Vec<String> = pending.iter().map(ToString::to_string).collect();
                format!("ask {} {}", query.words(), list.join(" "))
            });
            async move {
                match line {
                    Some(line) => s.ask(line).await,
                    None => String::new(),
                }
            }
        });
        let answers = futures::future::join_all(questions).await;
        let mut held = Selection {
            local: local_held,
            remote: Vec::new(),
        };
        let mut not = Selection {
            local: local_not,
            remote: Vec::new(),
        };
        for (pending, answer) in asked.remote.into_iter().zip(answers) {
            let yes: Vec<usize> = answer
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect();
            let (y, n): (Vec<usize>, Vec<usize>) =
                pending.into_iter().partition(|i| yes.contains(i));
            held.remote.push(y);
            not.remote.push(n);
        }
        (held, not)
    }

    /// Asks `query` of every agent but `except` until it holds for all of them; see
    /// [`Fleet::until_all_of`].
    pub async fn until_all(&self, since: Instant, query: &Query, except: &str) -> Until {
        self.until_all_of(self.everyone(except), since, query).await
    }

    /// Asks `query` of the agents of `asked` until it holds for all of them, or [`GIVE_UP`]
    /// has passed since `since`. An agent is not asked again once it held: these are
    /// properties a steady mesh keeps, and reading views is not free.
    pub async fn until_all_of(&self, asked: Selection, since: Instant, query: &Query) -> Until {
        let trace = std::env::var_os("MESH_BENCH_TRACE").is_some();
        let mut traced = Instant::now();
        let mut times = Vec::new();
        let mut pending = asked;
        loop {
            let asking = Instant::now();
            let (held, not) = self.split(pending, query).await;
            times.extend(std::iter::repeat_n(since.elapsed(), held.len()));
            pending = not;
            if trace && traced.elapsed() >= Duration::from_secs(1) {
                traced = Instant::now();
                let stats = self.stats().await;
                let mut live: Vec<usize> = stats.iter().map(|s| s.live).collect();
                live.sort_unstable();
                let at = |q: f64| {
                    let i = (live.len().saturating_sub(1) as f64 * q) as usize;
                    live.get(i).copied().unwrap_or(0)
                };
                eprintln!(
                    "  {}: {} pending; of all agents {} know no member, {} are connected to \
                     none; live members known: fewest {}, 10th percentile {}, median {}",
                    secs(since.elapsed()),
                    pending.len(),
                    stats.iter().filter(|s| s.members == 0).count(),
                    stats.iter().filter(|s| s.connections == 0).count(),
                    at(0.0),
                    at(0.1),
                    at(0.5),
                );
            }
            if pending.len() == 0 || since.elapsed() > *GIVE_UP {
                return Until {
                    times,
                    pending: pending.len(),
                };
            }
            // Reading views takes CPU from the mesh being measured, and a full round of 50
            // views of 49 catalogues takes tens of milliseconds: keep to a fifth of the time.
            tokio::time::sleep((asking.elapsed() * 4).max(Duration::from_millis(5))).await;
        }
    }

    /// Stops every agent.
    pub async fn stop(self) {
        drop(self.shares);
        super::stop(self.nodes).await;
    }
}

/// The body of `--share FIRST COUNT KEY_FILE PEER`: agents `n{FIRST}`.. dialing `PEER`, each
/// line of standard input a question answered by a line on standard output, until standard
/// input closes.
pub fn share(args: &[String]) {
    let [first, count, key_file, peer] = args else {
        panic!("--share FIRST COUNT KEY_FILE PEER, not {args:?}");
    };
    let (first, count): (usize, usize) = (
        first.parse().expect("FIRST: a number"),
        count.parse().expect("COUNT: a number"),
    );
    super::raise_file_limit();
    let runtime = super::runtime();
    runtime.block_on(async {
        let key = SwarmKey::read(Path::new(key_file)).expect("swarm key");
        let defs = lifecycles();
        let nodes: Vec<Node> = futures::future::join_all(
            (first..first + count)
                .map(|i| start_owned(format!("n{i}"), &defs, loopback(&key, vec![peer.clone()]))),
        )
        .await;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(1);
        std::thread::spawn(move || {
            for line in std::io::stdin().lines() {
                let Ok(line) = line else { break };
                if tx.blocking_send(line).is_err() {
                    break;
                }
            }
        });
        while let Some(line) = rx.recv().await {
            let words: Vec<&str> = line.split_whitespace().collect();
            let answer = match words.as_slice() {
                ["up"] => "up".to_string(),
                ["stats"] => nodes
                    .iter()
                    .map(|n| stats_line(&n.handle.stats()))
                    .collect::<Vec<_>>()
                    .join(" "),
                ["ask", kind, arg, indices @ ..] => {
                    let query = Query::parse(kind, arg).expect("a query the share knows");
                    indices
                        .iter()
                        .filter_map(|i| i.parse::<usize>().ok())
                        .filter(|&i| nodes.get(i).is_some_and(|n| query.holds(n)))
                        .map(|i| i.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                }
                _ => panic!("a question the share does not know: {line}"),
            };
            let mut out = std::io::stdout().lock();
            writeln!(out, "{answer}").expect("the bench reads");
            out.flush().expect("the bench reads");
        }
        super::stop(nodes).await;
    });
}
