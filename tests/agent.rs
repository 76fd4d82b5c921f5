//! The agent as a real process: `armonic agent`, and the command line through its socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{Signal, greeted, next_message, text};

const SLOW: &str = r#"
name = "Slow"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.enter]
do = [{ run = "echo started; sleep 3; echo finished" }]
[states.On.provides.go]
"#;

fn armonic(state: &Path, lifecycles: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_armonic"));
    c.args(["--no-color", "--name", "vm", "--state-dir"])
        .arg(state)
        .arg("-L")
        .arg(lifecycles)
        .env_remove("ARMONIC_STATE_DIR")
        .env_remove("ARMONIC_LIFECYCLE_DIRS")
        .env_remove("ARMONIC_SIMULATION")
        .env_remove("ARMONIC_CONFIG")
        .stdin(Stdio::null());
    c
}

/// A running `armonic agent`, stopped (SIGKILL) when dropped.
struct Agent {
    child: Child,
    state: PathBuf,
    lifecycles: PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    fn start() -> Agent {
        Agent::with(&[("slow.toml", SLOW)])
    }

    /// An agent on the shipped lifecycles and `extra` (file name, text).
    fn with(extra: &[(&str, &str)]) -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let lifecycles = common::lifecycles(dir.path(), extra);
        let state = dir.path().join("state");
        let mut a = Agent {
            child: spawn_agent(&state, &lifecycles),
            state,
            lifecycles,
            _dir: dir,
        };
        wait_ready(&mut a.child);
        a
    }

    fn restart(&mut self) {
        self.child = spawn_agent(&self.state, &self.lifecycles);
        wait_ready(&mut self.child);
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = armonic(&self.state, &self.lifecycles);
        c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn socket(&self) -> PathBuf {
        self.state.join("agent.sock")
    }

    fn signal(&self, sig: Signal) {
        common::signal(self.child.id(), sig);
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_agent(state: &Path, lifecycles: &Path) -> Child {
    armonic(state, lifecycles)
        .args(["agent", "--no-mesh"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for the agent's one line saying it is ready.
fn wait_ready(child: &mut Child) {
    let out = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    assert!(line.contains(" ready: "), "agent said {line:?}");
}

#[test]
fn every_command_through_the_agent_gives_what_local_gives() {
    let agent = Agent::start();
    let local_dir = tempfile::tempdir().unwrap();
    let local_state = local_dir.path().join("state");
    let commands: Vec<Vec<&str>> = vec![
        vec!["status"],
        vec!["lifecycle"],
        vec!["lifecycle", "-l"],
        vec!["state", "//WebServer"],
        vec!["state", "//WebServer/Active", "-p"],
        vec!["state", "//WebSite", "-r"],
        vec!["state-current"],
        vec!["provide", "//WebSite//*", "-a"],
        vec!["provide", "//WebServer//start", "-l"],
        vec![
            "provide-call",
            "//WebServer//start",
            "-c",
            "-R",
            "conf",
            "port:99999",
        ],
        vec![
            "state-goto",
            "//WebServer/Configured",
            "-R",
            "conf",
            "port:8080",
        ],
        vec!["provide-call", "//WebServer//start"],
        vec!["--format", "json", "state-current", "//WebServer"],
        vec!["plot", "WebServer"],
        vec!["plot", "WebSite", "-T", "json"],
        vec!["xpath", "//WebServer//port"],
        vec!["xpath", "-u", "WebServer/Active/*"],
        vec!["provide-call", "//Nothing//here"],
        vec!["--format", "json", "provide-call", "//Nothing//here"],
        vec!["provide-call", "//start"],
        vec!["deploy", "//WebSite//start", "--autofill"],
    ];
    for args in commands {
        let through = agent.run(&args);
        let local = armonic(&local_state, &agent.lifecycles)
            .arg("--local")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(
            through.status.code(),
            local.status.code(),
            "{args:?}: {}",
            text(&through.stderr)
        );
        let (a, b) = (text(&through.stdout), text(&local.stdout));
        let strip_id = |s: &str| -> String {
            s.lines()
                .filter(|l| !l.contains("\"deployment\""))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(strip_id(&a), strip_id(&b), "{args:?}");
        // Log lines are the same too (the deployment id line is the agent's only).
        let logs = |s: &[u8]| -> Vec<String> {
            text(s)
                .lines()
                .filter(|l| l.starts_with("INFO") || l.starts_with("error:"))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(logs(&through.stderr), logs(&local.stderr), "{args:?}");
    }
}

#[test]
fn a_read_is_answered_while_a_long_call_runs() {
    let agent = Agent::start();
    let slow = agent.cmd(&["provide-call", "//Slow//go"]).spawn().unwrap();
    // Wait until the slow step is running.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state =
            std::fs::read_to_string(agent.state.join("lifecycles/Slow.json")).unwrap_or_default();
        if state.contains("in_progress") {
            break;
        }
        assert!(Instant::now() < deadline, "the slow step never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let start = Instant::now();
    let read = agent.run(&["state-current", "//WebServer"]);
    assert!(read.status.success(), "{}", text(&read.stderr));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "the read waited for the call: {:?}",
        start.elapsed()
    );
    let done = slow.wait_with_output().unwrap();
    assert!(done.status.success(), "{}", text(&done.stderr));
    let err = text(&done.stderr);
    let started = err.find("started").unwrap();
    let finished = err.find("finished").unwrap();
    assert!(started < finished, "log lines came in order: {err}");
}

#[test]
fn concurrent_clients_are_all_served() {
    let agent = Agent::start();
    let children: Vec<Child> = (0..8)
        .map(|i| {
            if i % 2 == 0 {
                agent
                    .cmd(&["provide-call", "//WebServer//start"])
                    .spawn()
                    .unwrap()
            } else {
                agent.cmd(&["provide", "//WebSite//*"]).spawn().unwrap()
            }
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let current = agent.run(&["state-current", "//WebServer"]);
    assert_eq!(text(&current.stdout), "WebServer  /vm/WebServer/Active\n");
}

#[test]
fn garbage_truncated_and_oversized_frames_get_an_error_and_the_agent_keeps_serving() {
    use armonic_proto::ServerMessage;
    let agent = Agent::start();

    // Garbage in a well-formed frame: refused, and the connection still works.
    let mut s = greeted(&agent.socket());
    s.write_all(&[0, 0, 0, 5, 0xff, 0x00, 0x13, 0x37, 0x42])
        .unwrap();
    match next_message(&mut s) {
        Some(ServerMessage::Refused { id: None, error }) => {
            assert_eq!(error.kind(), "protocol", "{error}")
        }
        other => panic!("{other:?}"),
    }
    let call = armonic_proto::ClientMessage::Call {
        id: 9,
        call: armonic_proto::CallId::new(),
        request: armonic_proto::method::Info {}.into(),
        location: None,
        deployment: None,
        from_seq: 0,
        again: false,
        on_behalf_of: None,
        caller_location: None,
        step: None,
        plan: None,
    };
    armonic_proto::frame::write_frame(&mut s, &call, armonic_proto::frame::MAX_FRAME).unwrap();
    match next_message(&mut s) {
        Some(ServerMessage::Reply { id: 9, result }) => assert!(result.is_ok()),
        other => panic!("{other:?}"),
    }

    // A frame announcing 1 GiB: refused before it is read, then the connection closes.
    let mut s = greeted(&agent.socket());
    s.write_all(&[0x40, 0, 0, 0]).unwrap();
    match next_message(&mut s) {
        Some(ServerMessage::Refused { error, .. }) => assert_eq!(error.kind(), "too_large"),
        other => panic!("{other:?}"),
    }
    let mut rest = Vec::new();
    assert_eq!(s.read_to_end(&mut rest).unwrap_or(0), 0, "closed");

    // A truncated frame, then the client goes away.
    let mut s = greeted(&agent.socket());
    s.write_all(&[0, 0, 1, 0, 1, 2, 3]).unwrap();
    drop(s);

    // Not even a greeting.
    let mut s = UnixStream::connect(agent.socket()).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    drop(s);

    let out = agent.run(&["provide-call", "//WebServer//start"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn sigterm_during_a_call_interrupts_it_saves_and_removes_the_socket() {
    let mut agent = Agent::start();
    let call = agent.cmd(&["provide-call", "//Slow//go"]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(agent.state.join("lifecycles/Slow.json"))
        .unwrap_or_default()
        .contains("process_group")
    {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    agent.signal(Signal::SIGTERM);
    let status = agent.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(!agent.socket().exists(), "the socket is removed");
    let out = call.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("Slow was interrupted while entering On"),
        "{}",
        text(&out.stderr)
    );
    let state = std::fs::read_to_string(agent.state.join("lifecycles/Slow.json")).unwrap();
    assert!(!state.contains("in_progress"), "{state}");
    assert!(
        state.contains("\"Off\"") && !state.contains("\"On\""),
        "{state}"
    );
    agent.restart();
}

#[test]
fn after_kill_9_a_restarted_agent_has_every_state_back() {
    let mut agent = Agent::start();
    let out = agent.run(&[
        "state-goto",
        "//WebServer/Configured",
        "-R",
        "conf",
        "port:8080",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    agent.child.kill().unwrap();
    agent.child.wait().unwrap();
    agent.restart();
    let out = agent.run(&["provide-call", "//WebServer//start"]);
    assert_eq!(text(&out.stdout), "{\"url\": \"http://localhost:8080\"}\n");
}

#[test]
fn a_second_agent_on_the_same_state_directory_is_refused() {
    let agent = Agent::start();
    let out = armonic(&agent.state, &agent.lifecycles)
        .args(["agent", "--no-mesh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is in use by another armonic process"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        agent.socket().exists(),
        "the first agent's socket is untouched"
    );
}

#[test]
fn an_agent_without_a_swarm_key_makes_one_and_says_how_to_share_it() {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let lifecycles = common::lifecycles(dir.path(), &[("slow.toml", SLOW)]);
    let state = dir.path().join("state");
    let key = state.join("swarm.key");
    let start = || {
        let mut child = armonic(&state, &lifecycles)
            .args(["agent", "--no-mdns", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_ready(&mut child);
        common::signal(child.id(), Signal::SIGTERM);
        child.wait().unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        err
    };
    let err = start();
    assert!(
        err.contains(&format!("No swarm key yet: made one in {}", key.display())),
        "{err}"
    );
    assert!(err.contains("copy that file to theirs"), "{err}");
    let made = std::fs::read(&key).unwrap();
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // The next start uses it, and says nothing of it.
    let err = start();
    assert!(!err.contains("No swarm key"), "{err}");
    assert_eq!(std::fs::read(&key).unwrap(), made);
}

#[test]
fn an_agent_given_a_swarm_key_that_is_missing_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let lifecycles = common::lifecycles(dir.path(), &[("slow.toml", SLOW)]);
    let missing = dir.path().join("nowhere.key");
    let out = armonic(&dir.path().join("state"), &lifecycles)
        .args([
            "agent",
            "--no-mdns",
            "--listen",
            "127.0.0.1:0",
            "--swarm-key",
        ])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("no swarm key at"), "{err}");
    assert!(err.contains("armonic key generate"), "{err}");
    assert!(!missing.exists(), "a key named is never made");
}

#[test]
fn without_an_agent_the_command_says_how_to_start_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = armonic(&dir.path().join("none"), dir.path())
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("no agent is running"), "{err}");
    assert!(
        err.contains("armonic agent") && err.contains("--local"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn anyone_may_watch_the_log_lines_of_a_deployment() {
    let agent = Agent::start();
    let seen = agent._dir.path().join("watched.log");
    let mut watcher = agent
        .cmd(&["watch", "d-42"])
        .stderr(std::fs::File::create(&seen).unwrap())
        .spawn()
        .unwrap();
    // The watch starts with the watcher: call until it has seen the lines of a call.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Back out of Active, so that each call enters it again and logs the line looked for.
        let back = agent.run(&["state-goto", "//WebServer/Configured"]);
        assert!(back.status.success(), "{}", text(&back.stderr));
        let out = agent.run(&[
            "provide-call",
            "//WebServer//start",
            "--json",
            r#"[[], {"uuid": "d-42"}]"#,
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        std::thread::sleep(Duration::from_millis(50));
        let watched = std::fs::read_to_string(&seen).unwrap_or_default();
        if watched.contains("[WebServer] Activation of webserver service...") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the watcher saw nothing of the calls; it printed: {watched}"
        );
    }
    common::signal(watcher.id(), Signal::SIGINT);
    let status = watcher.wait().unwrap();
    assert_eq!(status.code(), Some(130));
}

/// Three steps, one after the other: First, then Second (3 s), then Third.
const CHAIN: &str = r#"
name = "First"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.provides.start]
"#;

const CHAIN_SECOND: &str = r#"
name = "Second"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.enter.requires.first]
type = "local"
xpath = "//First//start"
[states.On.enter]
do = [{ run = "sleep 3" }]
[states.On.provides.start]
"#;

const CHAIN_THIRD: &str = r#"
name = "Third"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.enter.requires.second]
type = "local"
xpath = "//Second//start"
[states.On.provides.start]
"#;

/// The deployments `armonic deployments --format json` lists.
fn deployments(agent: &Agent) -> Vec<serde_json::Value> {
    let o = agent.run(&["--format", "json", "deployments"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn a_deployment_whose_driver_died_between_steps_is_listed_as_driver_gone() {
    let agent = Agent::with(&[
        ("first.toml", CHAIN),
        ("second.toml", CHAIN_SECOND),
        ("third.toml", CHAIN_THIRD),
    ]);
    let mut driver = agent
        .cmd(&["deploy", "//Third//start", "--autofill"])
        .spawn()
        .unwrap();
    // The second step runs: the driver is killed.
    let started = Instant::now();
    loop {
        let list = deployments(&agent);
        if list
            .first()
            .is_some_and(|d| d["state"] == "running" && d["done"] == 1)
        {
            assert_eq!(list[0]["steps"], 3, "{list:?}");
            assert_eq!(list[0]["root"], "//Third//start");
            assert_eq!(list[0]["driver"], "vm");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the second step never ran: {list:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    driver.kill().unwrap();
    driver.wait().unwrap();
    // The agent finishes the step it runs; the third never starts: the journals say so.
    let started = Instant::now();
    loop {
        let list = deployments(&agent);
        if list[0]["state"] != "running" {
            assert_eq!(list[0]["state"], "driver gone", "{list:?}");
            assert_eq!(list[0]["done"], 2, "{list:?}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the second step never ended: {list:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // One that runs to its end is done.
    let o = agent.run(&["deploy", "//First//start", "--autofill"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let list = deployments(&agent);
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[1]["state"], "done", "{list:?}");
    assert_eq!(list[1]["done"], list[1]["steps"], "{list:?}");
    let o = agent.run(&["deployments"]);
    let out = text(&o.stdout);
    assert!(
        out.contains("//Third//start  by vm  2/3 steps  driver gone"),
        "{out}"
    );
}
