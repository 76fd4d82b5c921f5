//! A mesh of real agents on loopback (explicit peers, no mDNS), each a child process with a
//! state directory of its own, and the command line through any of them.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use super::eventually;

/// A lifecycle whose state `On` takes 30 s to enter.
pub const SLOW: &str = r#"
name = "Slow"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.enter]
do = [{ run = "echo started; sleep 30" }]
[states.On.provides.go]
"#;

/// Agents `names`, the first listening where the others dial.
pub struct Mesh {
    pub dir: tempfile::TempDir,
    pub agents: Vec<(String, Child, PathBuf)>,
    pub lifecycles: PathBuf,
}

impl Mesh {
    /// Agents `names`, with the shipped lifecycles and [`SLOW`].
    pub fn start(names: &[&str]) -> Mesh {
        Mesh::with_lifecycles(names, &[])
    }

    /// Agents `names`, with the shipped lifecycles, [`SLOW`] and `extra` (file, text); each
    /// has seen every other when this returns.
    pub fn with_lifecycles(names: &[&str], extra: &[(&str, &str)]) -> Mesh {
        let dir = tempfile::tempdir().unwrap();
        let mut files = vec![("slow.toml", SLOW)];
        files.extend_from_slice(extra);
        let lifecycles = super::lifecycles(dir.path(), &files);
        super::swarm_key(&dir.path().join("swarm.key"));
        let mut mesh = Mesh {
            dir,
            agents: Vec::new(),
            lifecycles,
        };
        for name in names {
            mesh.spawn(name);
        }
        let all = names.len();
        for name in names {
            eventually(&format!("{name} to see the whole mesh"), || {
                mesh.live(name).len() == all - 1
            });
        }
        mesh
    }

    pub fn state(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn cmd(&self, name: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_armonic"));
        c.args([
            "--no-color",
            "--name",
            name,
            "--public-ip",
            name,
            "--state-dir",
        ])
        .arg(self.state(name))
        .arg("-L")
        .arg(&self.lifecycles)
        .env_remove("ARMONIC_STATE_DIR")
        .env_remove("ARMONIC_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        c
    }

    /// Starts (or restarts) agent `name`; the first agent's address is everyone's peer.
    pub fn spawn(&mut self, name: &str) {
        self.spawn_with(name, &[]);
    }

    /// Starts (or restarts) agent `name` with more options.
    pub fn spawn_with(&mut self, name: &str, extra: &[&str]) {
        let first = self.agents.first().map(|(n, _, _)| n.clone());
        let port = 20_000 + (std::process::id() % 20_000) as u16 + self.port_of(name);
        let mut c = self.cmd(name);
        c.args(["agent", "--no-mdns", "--swarm-key"])
            .arg(self.dir.path().join("swarm.key"))
            .args(["--listen", &format!("127.0.0.1:{port}")]);
        if let Some(first) = first.filter(|f| f != name) {
            let p = 20_000 + (std::process::id() % 20_000) as u16 + self.port_of(&first);
            c.args(["--peer", &format!("127.0.0.1:{p}")]);
        }
        c.args(extra);
        // The agent's own log, kept (an unread pipe would stop the agent once full).
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(name))
            .unwrap();
        c.stderr(log);
        let child = super::start_ready(c, name);
        let state = self.state(name);
        match self.agents.iter_mut().find(|(n, _, _)| n == name) {
            Some(slot) => slot.1 = child,
            None => self.agents.push((name.to_owned(), child, state)),
        }
    }

    /// Where agent `name` writes its own log.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    /// What agent `name` wrote in its own log so far.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }

    /// The process id of agent `name`.
    pub fn pid(&self, name: &str) -> u32 {
        self.agents
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, c, _)| c.id())
            .unwrap()
    }

    /// Where agent `name` listens for the mesh.
    pub fn addr(&self, name: &str) -> String {
        let port = 20_000 + (std::process::id() % 20_000) as u16 + self.port_of(name);
        format!("/ip4/127.0.0.1/tcp/{port}")
    }

    pub fn port_of(&self, name: &str) -> u16 {
        name.bytes().map(u16::from).sum::<u16>() % 1000
    }

    pub fn run(&self, name: &str, args: &[&str]) -> Output {
        self.cmd(name).args(args).output().unwrap()
    }

    /// The live peers `name` knows, from `armonic mesh --format json`.
    pub fn live(&self, name: &str) -> Vec<String> {
        let out = self.run(name, &["--format", "json", "mesh"]);
        let peers: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        peers
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|p| p["live"] == true && p["local"] != true)
                    .filter_map(|p| p["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn child(&mut self, name: &str) -> &mut Child {
        &mut self
            .agents
            .iter_mut()
            .find(|(n, _, _)| n == name)
            .unwrap()
            .1
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        for (_, child, _) in &mut self.agents {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
