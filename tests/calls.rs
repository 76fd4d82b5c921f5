//! The call path with real processes: every call tells the truth, however much it prints,
//! however slow or stopped its caller, however its agent is frozen or its caller interrupted;
//! the journal of the agent that runs it says who asked, what it printed and how it ended, to
//! anyone watching from anywhere.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::mesh::Mesh;
use common::{Signal, eventually, rss, text};

/// A lifecycle whose provides print a lot, steadily, never, or resist being stopped.
const CHATTY: &str = r#"
name = "Chatty"
initial = "Off"
transitions = [["Off", "On"], ["On", "Off"]]
[states.Off]
[states.On]
[states.On.provides.flood.requires.how.variables]
lines = { type = "int", default = 1000 }
[states.On.provides.flood]
do = [{ run = 'seq 1 "$how_lines" | sed "s/$/ .............................................................../"', timeout = "10m" }]
return = { done = "yes" }
[states.On.provides.steady]
do = [{ run = 'for i in $(seq 1 100); do echo "tick $i"; sleep 0.1; done', timeout = "60s" }]
[states.On.provides.quick]
do = [{ run = "echo quick" }]
[states.On.provides.count.requires.where.variables]
file = { type = "str" }
[states.On.provides.count]
do = [{ run = 'echo run >> "$where_file"; echo counted-start; sleep 8; echo counted-end' }]
[states.On.provides.polite]
do = [{ run = "trap 'echo got TERM; exit 3' TERM; echo started; while :; do sleep 0.2; done", timeout = "5m" }]
[states.On.provides.stubborn]
do = [{ run = "trap 'echo TERM ignored' TERM; echo started; while :; do sleep 0.2; done", timeout = "5m" }]
"#;

fn mesh(names: &[&str]) -> Mesh {
    Mesh::with_lifecycles(names, &[("chatty.toml", CHATTY)])
}

/// Starts `args` through agent `at`, its standard error going to `file`.
fn spawn(mesh: &Mesh, at: &str, args: &[&str], file: &Path) -> Child {
    mesh.cmd(at)
        .args(args)
        .stderr(File::create(file).unwrap())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits for `child` until `limit`, failing the test past it.
fn wait_within(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not end within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `got` shows the 100 ticks of web2's Chatty, each once, in order.
fn assert_every_tick_once_in_order(got: &str) {
    let ticks: Vec<&str> = got
        .lines()
        .filter_map(|l| l.strip_prefix("PROCESS  [web2/Chatty] "))
        .collect();
    let expected: Vec<String> = (1..=100).map(|i| format!("tick {i}")).collect();
    assert_eq!(ticks, expected, "{got}");
}

#[test]
fn a_remote_step_printing_100_mb_reaches_its_caller_whole_with_its_result_in_bounded_memory() {
    let mesh = mesh(&["web1", "web2"]);
    let lines: u64 = 1_400_000; // 72 bytes each: 100 MB
    let err = mesh.dir.path().join("flood.err");
    let mut caller = spawn(
        &mesh,
        "web1",
        &[
            "provide-call",
            "/web2/Chatty/On/flood",
            "-R",
            "how",
            &format!("lines:{lines}"),
        ],
        &err,
    );
    let agents = [mesh.pid("web1"), mesh.pid("web2")];
    let mut peak = [0u64; 2];
    let status = loop {
        for (i, pid) in agents.iter().enumerate() {
            peak[i] = peak[i].max(rss(*pid));
        }
        if let Some(status) = caller.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(caller.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(
        status.success(),
        "{}",
        &read(&err)[..2000.min(read(&err).len())]
    );
    assert_eq!(out, "{\"done\": \"yes\"}\n");
    // Every line, in order, once.
    let text = read(&err);
    let mut next = 1u64;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("PROCESS  [web2/Chatty] ") else {
            continue;
        };
        let n: u64 = rest.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(n, next, "line {next} is next");
        next += 1;
    }
    assert_eq!(next - 1, lines, "every line reached the caller");
    assert!(!text.contains("not shown"), "nothing missed");
    for (i, name) in ["web1", "web2"].iter().enumerate() {
        assert!(
            peak[i] < 50 * 1024 * 1024,
            "{name} peaked at {} MB",
            peak[i] / (1024 * 1024)
        );
        let log = mesh.log(name);
        assert!(
            log.len() < 64 * 1024,
            "{name} wrote {} bytes of its own log",
            log.len()
        );
        assert!(!log.contains("Send Queue full"), "{log}");
    }
}

#[test]
fn a_stopped_caller_holds_up_neither_the_step_nor_other_calls_and_catches_up_when_it_resumes() {
    let mesh = mesh(&["web1", "web2"]);
    let err = mesh.dir.path().join("steady.err");
    let mut caller = spawn(
        &mesh,
        "web1",
        &["provide-call", "/web2/Chatty/On/steady"],
        &err,
    );
    eventually("the first lines", || read(&err).contains("tick 3"));
    common::signal(caller.id(), Signal::SIGSTOP);
    let stopped = Instant::now();
    // Another call on the same lifecycle waits for the step (the lifecycle's lock), not for
    // the stopped caller.
    let other = mesh.run("web1", &["provide-call", "/web2/Chatty/On/quick"]);
    assert!(other.status.success(), "{}", text(&other.stderr));
    let waited = stopped.elapsed();
    assert!(
        waited < Duration::from_secs(20),
        "the other call waited {waited:?}"
    );
    // The step ended on time: its agent's journal says it ran about 10 s.
    let journal = mesh.run(
        "web2",
        &[
            "--format",
            "json",
            "journal",
            "--lifecycle",
            "Chatty",
            "--no-lines",
        ],
    );
    let ran: Vec<u64> = text(&journal.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["what"]["kind"] == "end")
        .filter_map(|e| e["what"]["millis"].as_u64())
        .collect();
    assert!(
        ran.iter().any(|ms| (9_000..15_000).contains(ms)),
        "{ran:?}: {}",
        text(&journal.stdout)
    );
    // Stopped for 30 s, the caller resumes and gets every line and the outcome.
    std::thread::sleep(Duration::from_secs(30).saturating_sub(stopped.elapsed()));
    common::signal(caller.id(), Signal::SIGCONT);
    let status = wait_within(&mut caller, Duration::from_secs(30), "the caller");
    let got = read(&err);
    assert!(status.success(), "{got}");
    assert_every_tick_once_in_order(&got);
}

#[test]
fn a_call_survives_its_agent_frozen_for_seconds_re_attaches_and_runs_once() {
    let mesh = mesh(&["web1", "web2"]);
    let counter = mesh.dir.path().join("counter");
    let err = mesh.dir.path().join("count.err");
    let mut caller = spawn(
        &mesh,
        "web1",
        &[
            "provide-call",
            "/web2/Chatty/On/count",
            "-R",
            "where",
            &format!("file:{}", counter.display()),
        ],
        &err,
    );
    eventually("the step to start", || read(&err).contains("counted-start"));
    // The executing agent stops answering for 4 s: its peers cut it, and the caller's agent
    // re-attaches when it comes back.
    let web2 = mesh.pid("web2");
    common::signal(web2, Signal::SIGSTOP);
    std::thread::sleep(Duration::from_secs(4));
    common::signal(web2, Signal::SIGCONT);
    let status = wait_within(&mut caller, Duration::from_secs(60), "the caller");
    let got = read(&err);
    assert!(status.success(), "{got}");
    assert!(got.contains("counted-end"), "{got}");
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap(),
        "run\n",
        "ran once"
    );
}

/// Runs `args` through `at` until its step printed `started`, then interrupts it (SIGINT)
/// and says how it ended, with what it printed, and how long the end took.
fn interrupt(mesh: &Mesh, at: &str, args: &[&str], name: &str) -> (Option<i32>, String, Duration) {
    let err = mesh.dir.path().join(format!("{name}.err"));
    let mut caller = spawn(mesh, at, args, &err);
    eventually(&format!("{name} to start"), || {
        read(&err).contains("started")
    });
    common::signal(caller.id(), Signal::SIGINT);
    let asked = Instant::now();
    let status = wait_within(&mut caller, Duration::from_secs(30), name);
    (status.code(), read(&err), asked.elapsed())
}

#[test]
fn ctrl_c_stops_the_step_wherever_it_runs_within_the_grace_period_and_exits_130() {
    let mesh = mesh(&["web1", "web2"]);
    for (name, target) in [
        ("local", "/web1/Chatty/On/polite"),
        ("remote", "/web2/Chatty/On/polite"),
    ] {
        let (code, err, took) = interrupt(&mesh, "web1", &["provide-call", target], name);
        assert_eq!(code, Some(130), "{name}: {err}");
        assert!(
            err.contains("got TERM"),
            "{name}: the step got SIGTERM: {err}"
        );
        assert!(err.contains("interrupted"), "{name}: {err}");
        assert!(took < Duration::from_secs(10), "{name}: {took:?}");
    }
    // A step ignoring SIGTERM is killed once the caller's grace period is over.
    let (code, err, took) = interrupt(
        &mesh,
        "web1",
        &[
            "--grace-period",
            "1",
            "provide-call",
            "/web2/Chatty/On/stubborn",
        ],
        "stubborn",
    );
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("TERM ignored"), "{err}");
    assert!(
        took < Duration::from_secs(8),
        "killed after the 1 s grace: {took:?}"
    );
    // A deployment through the agent: its running step is stopped on its agent.
    let (code, err, _) = interrupt(
        &mesh,
        "web2",
        &["deploy", "//Chatty//polite", "--autofill"],
        "deploy",
    );
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("got TERM"), "{err}");
    assert!(err.contains("INTERRUPTED"), "{err}");
    // Nothing is left running: the journals say every call ended.
    for at in ["web1", "web2"] {
        let out = mesh.run(at, &["--format", "json", "journal", "--no-lines"]);
        let entries: Vec<serde_json::Value> = text(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let calls = entries
            .iter()
            .filter(|e| e["what"]["kind"] == "call")
            .count();
        let ends = entries
            .iter()
            .filter(|e| e["what"]["kind"] == "end")
            .count();
        assert_eq!(calls, ends, "{at}: {}", text(&out.stdout));
    }
}

#[test]
fn a_watch_on_a_third_agent_shows_every_line_of_a_deployment_those_before_it_included() {
    let mesh = mesh(&["web1", "web2", "web3"]);
    let err = mesh.dir.path().join("steady.err");
    let mut caller = spawn(
        &mesh,
        "web1",
        &[
            "provide-call",
            "/web2/Chatty/On/steady",
            "--json",
            r#"[[], {"uuid": "d-77"}]"#,
        ],
        &err,
    );
    eventually("a fifth of the lines", || read(&err).contains("tick 20"));
    let watched = mesh.dir.path().join("watch.err");
    let mut watcher = spawn(&mesh, "web3", &["watch", "d-77"], &watched);
    let status = wait_within(&mut caller, Duration::from_secs(60), "the call");
    assert!(status.success(), "{}", read(&err));
    eventually("the watcher to see the last line", || {
        read(&watched).contains("tick 100")
    });
    common::signal(watcher.id(), Signal::SIGINT);
    let status = wait_within(&mut watcher, Duration::from_secs(10), "the watcher");
    assert_eq!(status.code(), Some(130));
    let got = read(&watched);
    assert_every_tick_once_in_order(&got);
}

#[test]
fn the_journal_of_the_agent_that_ran_a_call_says_who_asked_what_it_printed_and_how_it_ended() {
    let mut mesh = mesh(&["web1", "web2"]);
    let out = mesh.run(
        "web1",
        &[
            "provide-call",
            "/web2/Chatty/On/quick",
            "--json",
            r#"[[], {"uuid": "d-88"}]"#,
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let check = |mesh: &Mesh| {
        let out = mesh.run("web2", &["journal", "--deployment", "d-88"]);
        let journal = text(&out.stdout);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let lines: Vec<&str> = journal.lines().collect();
        assert!(
            lines[0].contains("web2 call ")
                && lines[0].contains("provide_call /web2/Chatty/On/quick by peer web1 (")
                && lines[0].contains(" for local user ")
                && lines[0].contains(" on web1, deployment d-88"),
            "{journal}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("PROCESS  [Chatty/On/quick] quick")),
            "{journal}"
        );
        assert!(lines.last().unwrap().contains(" end "), "{journal}");
        assert!(lines.last().unwrap().contains(": done"), "{journal}");
        // For scripts: one JSON object a line.
        let out = mesh.run(
            "web2",
            &["--format", "json", "journal", "--deployment", "d-88"],
        );
        for line in text(&out.stdout).lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["location"], "web2", "{line}");
        }
    };
    check(&mesh);
    // After a restart of the agent, the journal still has it.
    common::signal(mesh.pid("web2"), Signal::SIGTERM);
    mesh.child("web2").wait().unwrap();
    mesh.spawn("web2");
    check(&mesh);
    // And from the other agent, through the mesh.
    let out = mesh.run(
        "web1",
        &["journal", "--agent", "web2", "--deployment", "d-88"],
    );
    assert!(
        text(&out.stdout).contains("by peer web1"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn location_questions_offer_only_live_agents_and_a_dead_one_named_is_unreachable() {
    let mut mesh = mesh(&["web1", "web2", "web3"]);
    mesh.child("web1").kill().unwrap();
    mesh.child("web1").wait().unwrap();
    eventually("web3 to see web1 gone", || {
        let live = mesh.live("web3");
        live == ["web2"]
    });
    // --autofill takes the first live location offering the provide: web1 is known, but dead.
    let out = mesh.run("web3", &["deploy", "//Chatty//quick", "--autofill"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("[web2/Chatty] quick"), "{err}");
    let out = mesh.run("web3", &["provide-call", "/web1/Chatty/On/quick"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("location web1 is unreachable"), "{err}");
    assert!(!err.contains("matches nothing"), "{err}");
}
