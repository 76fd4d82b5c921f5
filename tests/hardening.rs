//! The `armonic` binary on bad days: Ctrl-C, SIGTERM, kill -9, several processes at once,
//! bad names and bad input. Each test reproduces one way an operator could lose state or be
//! misled, and checks what happens now.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{Signal, eventually, text};

/// A lifecycle directory with `Slow`: Off → On → Done. Entering On prints `started` then
/// sleeps `sleep` seconds (trapping SIGTERM for `trap` seconds first when not zero), then
/// touches `on-done`; entering Done touches `done-ran`.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(sleep: u32) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let lifecycles = dir.path().join("lifecycles");
        std::fs::create_dir(&lifecycles).unwrap();
        let on_done = dir.path().join("on-done");
        let done_ran = dir.path().join("done-ran");
        std::fs::write(
            lifecycles.join("slow.toml"),
            format!(
                r#"
name = "Slow"
initial = "Off"
transitions = [["Off", "On"], ["On", "Done"]]
[states.Off]
[states.On.enter]
do = [{{ run = "echo started; sleep {sleep}; touch {}" }}]
[states.On.enter.requires.conf.variables]
who = {{ type = "str", default = "nobody" }}
[states.Done.enter]
do = [{{ run = "touch {}" }}]
[states.Done.provides.ping]
"#,
                on_done.display(),
                done_ran.display()
            ),
        )
        .unwrap();
        // App's `go` needs Slow's `ping`: a deployment of two steps, Slow's first.
        std::fs::write(
            lifecycles.join("app.toml"),
            r#"
name = "App"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.provides.go.requires.slow]
type = "local"
xpath = "//Slow/Done/ping"
"#,
        )
        .unwrap();
        Fixture { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_armonic"));
        c.args(["--local", "--name", "vm", "--no-color", "-L"])
            .arg(self.path("lifecycles"))
            .arg("--state-dir")
            .arg(self.path("state"))
            .args(args)
            .env_remove("ARMONIC_STATE_DIR")
            .env_remove("ARMONIC_LIFECYCLE_DIRS")
            .env_remove("ARMONIC_SIMULATION")
            .env_remove("ARMONIC_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("armonic runs")
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args).spawn().expect("armonic starts")
    }

    fn state_file(&self) -> serde_json::Value {
        std::fs::read_to_string(self.path("state/lifecycles/Slow.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(serde_json::Value::Null)
    }

    /// The process group of the step in progress, once the state file records it.
    fn running_group(&self) -> u32 {
        let mut group = 0;
        eventually("the step in progress", || {
            group = self.state_file()["in_progress"]["process_group"]
                .as_u64()
                .unwrap_or(0) as u32;
            group != 0
        });
        group
    }
}

fn group_alive(pgid: u32) -> bool {
    common::group_exists(pgid)
}

fn signal(child: &Child, sig: Signal) {
    common::signal(child.id(), sig);
}

#[test]
fn sigterm_during_state_goto_stops_the_step_saves_what_completed_and_exits_143() {
    let f = Fixture::new(30);
    let child = f.spawn(&["state-goto", "//Slow/Done"]);
    let group = f.running_group();
    let start = Instant::now();
    signal(&child, Signal::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "the step got SIGTERM"
    );
    assert!(
        err.contains("error: Slow was interrupted while entering On; the step may have partly run"),
        "{err}"
    );
    eventually("the step's process group to end", || !group_alive(group));
    let state = f.state_file();
    assert_eq!(state["stack"], serde_json::json!(["Off"]), "{state}");
    assert!(state.get("in_progress").is_none(), "{state}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !f.path("on-done").exists(),
        "the step did not finish behind our back"
    );
    assert!(
        !f.path("done-ran").exists(),
        "nothing started after the interrupt"
    );
}

#[test]
fn ctrl_c_during_a_deployment_prints_the_summary_with_the_interrupted_step_and_exits_130() {
    let f = Fixture::new(30);
    let child = f.spawn(&["deploy", "//App//go", "--autofill"]);
    let group = f.running_group();
    signal(&child, Signal::SIGINT);
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("Deployment interrupted:"), "{err}");
    assert!(
        err.contains("\n  vm\n    INTERRUPTED node_0_0 Slow/Done/ping ("),
        "{err}"
    );
    assert!(err.contains("    not started node_0 App/On/go\n"), "{err}");
    eventually("the step's process group to end", || !group_alive(group));
    assert_eq!(f.state_file()["stack"], serde_json::json!(["Off"]));
}

#[test]
fn a_second_ctrl_c_kills_a_step_that_ignores_sigterm() {
    let f = Fixture::new(30);
    let script = std::fs::read_to_string(f.path("lifecycles/slow.toml"))
        .unwrap()
        .replace(
            "echo started;",
            &format!(
                "trap '' TERM; touch {}; echo started;",
                f.path("trapped").display()
            ),
        );
    std::fs::write(f.path("lifecycles/slow.toml"), script).unwrap();
    let child = f.spawn(&["--grace-period", "60", "state-goto", "//Slow/On"]);
    let group = f.running_group();
    eventually("the step to ignore SIGTERM", || f.path("trapped").exists());
    let start = Instant::now();
    signal(&child, Signal::SIGINT);
    std::thread::sleep(Duration::from_millis(500));
    assert!(group_alive(group), "the step ignores SIGTERM: it runs on");
    signal(&child, Signal::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "killed without the 60 s grace"
    );
    eventually("the step's process group to end", || !group_alive(group));
}

#[test]
fn after_kill_9_the_next_run_refuses_while_the_step_runs_then_reports_it_once() {
    let f = Fixture::new(30);
    let mut child = f.spawn(&["state-goto", "//Slow/On"]);
    let group = f.running_group();
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    assert!(group_alive(group), "the step outlived the killed armonic");

    let out = f.run(&["state-goto", "//Slow/On"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("still runs as process group {group}")),
        "{err}"
    );
    assert!(err.contains(&format!("kill -- -{group}")), "{err}");

    common::signal_group(group, Signal::SIGKILL);
    eventually("the orphaned step to end", || !group_alive(group));
    let out = f.run(&["state-current"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning: Slow was interrupted while entering On at "),
        "{err}"
    );
    assert!(err.contains("the step may have partly run"), "{err}");
    let again = f.run(&["state-current"]);
    assert_eq!(text(&again.stderr), "", "reported once");
}

#[test]
fn a_second_process_on_a_state_directory_in_use_fails_at_once_naming_the_holder() {
    let f = Fixture::new(30);
    let mut first = f.spawn(&["state-goto", "//Slow/On"]);
    f.running_group();
    let start = Instant::now();
    let out = f.run(&["state-goto", "//Slow/On", "-R", "conf", "who:me"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(start.elapsed() < Duration::from_secs(5), "fails at once");
    assert!(
        err.contains(&format!(
            "is in use by another armonic process (pid {}): wait for it to end, or add --wait",
            first.id()
        )),
        "{err}"
    );
    first.kill().unwrap();
    first.wait().unwrap();
}

#[test]
fn concurrent_state_gotos_with_wait_run_one_after_the_other_and_lose_nothing() {
    let f = Fixture::new(0);
    let children: Vec<Child> = ["a", "b", "c"]
        .iter()
        .map(|who| {
            f.spawn(&[
                "--wait",
                "state-goto",
                "//Slow/On",
                "-R",
                "conf",
                &format!("who:{who}"),
            ])
        })
        .collect();
    let mut entered = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        entered += text(&out.stderr).matches("PROCESS  [Slow] started").count();
    }
    assert_eq!(entered, 1, "the step ran once: the others found On entered");
    let state = f.state_file();
    assert_eq!(state["stack"], serde_json::json!(["Off", "On"]));
    let who = state["entered"]["On"]["conf"][0]["who"].as_str().unwrap();
    assert!(["a", "b", "c"].contains(&who), "{state}");
}

fn armonic(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_armonic"))
        .args(["--local", "--name", "vm", "--no-color"])
        .args(args)
        .env_remove("ARMONIC_STATE_DIR")
        .env_remove("ARMONIC_LIFECYCLE_DIRS")
        .env_remove("ARMONIC_SIMULATION")
        .env_remove("ARMONIC_CONFIG")
        .output()
        .expect("armonic runs")
}

#[test]
fn location_names_that_could_leave_the_state_directory_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let sd = state.to_str().unwrap();
    for bad in ["..", ".", "a/b", "-x"] {
        let o = armonic(&["--state-dir", sd, &format!("--location={bad}"), "status"]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).starts_with("error: --location "),
            "{}",
            text(&o.stderr)
        );
        let o = armonic(&["--state-dir", sd, &format!("--name={bad}"), "status"]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
    }
    assert!(!dir.path().join("lifecycles").exists());
    assert!(!state.exists(), "nothing was written");
    let o = armonic(&["--location", "web1=", "status"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("'' is neither an IP address nor a host name"),
        "{}",
        text(&o.stderr)
    );
    let o = armonic(&["--public-ip", "http://x/", "status"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("--public-ip"),
        "{}",
        text(&o.stderr)
    );
    let o = armonic(&["--public-ip", "10.0.0.7", "--format", "json", "status"]);
    assert!(
        text(&o.stdout).contains("\"public_ip\": \"10.0.0.7\""),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn a_missing_or_empty_lifecycle_directory_is_an_error() {
    let empty = tempfile::tempdir().unwrap();
    let o = armonic(&["-L", "/nonexistent/armonic", "lifecycle"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        text(&o.stderr),
        "error: lifecycle directory /nonexistent/armonic does not exist\n"
    );
    let o = armonic(&["-L", empty.path().to_str().unwrap(), "lifecycle"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("no valid lifecycle in"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn an_address_matching_nothing_says_so_and_exits_1_for_every_command() {
    for args in [
        vec!["lifecycle", "//Nope"],
        vec!["state", "//Nope"],
        vec!["state", "//Nope", "-p"],
        vec!["state-current", "//Nope"],
        vec!["provide", "//Nope"],
        vec!["provide", "//Nope", "-p"],
        vec!["xpath", "//Nope"],
        vec!["plot", "Nope"],
    ] {
        let o = armonic(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            text(&o.stderr).contains("matches nothing"),
            "{args:?}: {}",
            text(&o.stderr)
        );
    }
}

#[test]
fn a_lifecycle_address_lists_its_states_and_provides() {
    let o = armonic(&["state", "//WebServer"]);
    assert_eq!(
        text(&o.stdout),
        "/vm/WebServer/NotInstalled\n/vm/WebServer/Installed\n/vm/WebServer/Configured\n/vm/WebServer/Active\n"
    );
    let o = armonic(&["provide", "//WebServer"]);
    assert_eq!(
        text(&o.stdout),
        "/vm/WebServer/Configured/create_document_root\n/vm/WebServer/Active/start\n"
    );
}

#[test]
fn with_several_locations_a_lifecycle_no_location_has_is_an_error() {
    let o = armonic(&["--location", "a", "--location", "b", "plot", "Nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stderr), "error: Nope matches nothing\n");
    let o = armonic(&["--location", "a", "--location", "b", "plot", "/b/WebServer"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn errors_are_json_on_stdout_with_format_json() {
    let o = armonic(&["--format", "json", "provide-call", "//Nope//x"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "no_match");
    assert_eq!(v["error"]["message"], "//Nope//x matches nothing");
    let o = armonic(&[
        "--format",
        "json",
        "provide-call",
        "//WebServer//start",
        "--json",
        "{",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "usage");
}

#[test]
fn an_unwritable_state_directory_says_why_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let o = armonic(&["--state-dir", file.join("sub").to_str().unwrap(), "status"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let cause = "is not a directory";
    assert_eq!(err.matches(cause).count(), 1, "{err}");
}

#[test]
fn options_come_from_a_configuration_file_and_the_command_line_wins() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("armonic.toml");
    std::fs::write(
        &config,
        "name = \"fromfile\"\npublic-ip = \"10.1.2.3\"\nos-type = \"any\"\nsimulation = true\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_armonic"))
            .args([
                "--local",
                "--config",
                config.to_str().unwrap(),
                "--format",
                "json",
            ])
            .args(extra)
            .env_remove("ARMONIC_SIMULATION")
            .output()
            .unwrap()
    };
    let o = run(&["status"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["name"], "fromfile");
    assert_eq!(v["public_ip"], "10.1.2.3");
    assert_eq!(v["os_type"], "all");
    let o = run(&["provide-call", "//WebServer//start"]);
    assert_eq!(
        text(&o.stdout).trim(),
        "null",
        "simulated: {}",
        text(&o.stderr)
    );
    let o = run(&[
        "--name",
        "cli",
        "--simulation=false",
        "provide-call",
        "//WebServer//start",
    ]);
    assert!(
        text(&o.stdout).contains("http://10.1.2.3:80"),
        "{}",
        text(&o.stdout)
    );
    std::fs::write(&config, "nmae = \"typo\"\n").unwrap();
    let o = run(&["status"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stdout).contains("unknown field"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn the_original_environment_and_os_names_work() {
    let o = Command::new(env!("CARGO_BIN_EXE_armonic"))
        .args(["--local", "provide-call", "//WebServer//start"])
        .env("ARMONIC_SIMULATION", "1")
        .output()
        .unwrap();
    assert_eq!(text(&o.stdout), "null\n", "{}", text(&o.stderr));
    let o = Command::new(env!("CARGO_BIN_EXE_armonic"))
        .args(["--local", "provide-call", "//WebServer//start"])
        .env("ARMONIC_SIMULATION", "0")
        .output()
        .unwrap();
    assert_eq!(text(&o.stdout), "{\"url\": \"http://localhost:80\"}\n");
    for os in ["mbs", "any", "debian"] {
        let o = armonic(&["--os-type", os, "--format", "json", "status"]);
        assert!(o.status.success(), "{os}");
    }
}

#[test]
fn values_in_the_original_requires_format_are_accepted() {
    let o = armonic(&[
        "provide-call",
        "//WebServer//start",
        "--json",
        r#"[[["//conf/port", {"0": 8081}]], {"source": null, "uuid": "d-1"}]"#,
    ]);
    assert_eq!(
        text(&o.stdout),
        "{\"url\": \"http://localhost:8081\"}\n",
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn state_file_warnings_print_once() {
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().to_str().unwrap();
    std::fs::create_dir_all(dir.path().join("lifecycles")).unwrap();
    std::fs::write(dir.path().join("lifecycles/WebServer.json"), "{oops").unwrap();
    let o = armonic(&["--state-dir", sd, "state-current", "//WebServer"]);
    let err = text(&o.stderr);
    assert_eq!(err.matches("not a valid state file").count(), 1, "{err}");
}

#[test]
fn a_state_file_that_does_not_fit_the_lifecycle_is_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().to_str().unwrap();
    std::fs::create_dir_all(dir.path().join("lifecycles")).unwrap();
    for (stack, entered, why) in [
        (
            r#"["NotInstalled", "Configured"]"#,
            "{}",
            "which no transition allows",
        ),
        (r#"["Installed"]"#, "{}", "not at the initial state"),
        (
            r#"["NotInstalled", "Installed", "Configured"]"#,
            r#"{"Configured": {"conf": [{"port": "high"}]}}"#,
            "does not fit: port must be an int",
        ),
        (
            r#"["NotInstalled", "Installed", "Configured"]"#,
            r#"{"Configured": {"conf": [{"nope": 1}]}}"#,
            "conf/nope, which does not exist",
        ),
    ] {
        std::fs::write(
            dir.path().join("lifecycles/WebServer.json"),
            format!(r#"{{"format": 1, "lifecycle": "WebServer", "stack": {stack}, "entered": {entered}}}"#),
        )
        .unwrap();
        let o = armonic(&["--state-dir", sd, "state-current", "//WebServer"]);
        let err = text(&o.stderr);
        assert!(err.contains(why), "{why}: {err}");
        assert_eq!(err.matches("warning:").count(), 1, "{err}");
        assert!(err.contains("(moved to "), "{err}");
        assert_eq!(text(&o.stdout), "WebServer  /vm/WebServer/NotInstalled\n");
    }
}

/// Runs `armonic ARGS` at a pseudo-terminal (`script`), typing `input`; `None` when `script`
/// is not installed.
fn at_a_terminal(args: &str, input: &str) -> Option<String> {
    use std::io::Write;
    if Command::new("script").arg("--version").output().is_err() {
        common::skip("`script` (util-linux) is not installed, no pseudo-terminal to test with");
        return None;
    }
    let command = format!(
        "{} --local --no-color {args}",
        env!("CARGO_BIN_EXE_armonic")
    );
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("ARMONIC_STATE_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut screen = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut screen);
        screen
    });
    // The terminal stays open (stdin not closed) until the command ends by itself.
    child.wait().unwrap();
    drop(stdin);
    Some(text(&reader.join().unwrap()))
}

#[test]
fn at_a_terminal_the_plan_is_confirmed_before_it_runs() {
    let Some(screen) = at_a_terminal("deploy //WebServer//start", "y\n\ny\nn\n") else {
        return;
    };
    assert!(screen.contains("Apply? [Y/n] "), "{screen}");
    assert!(screen.contains("Nothing was done."), "{screen}");
    assert!(
        !screen.contains("Installation of webserver packages"),
        "{screen}"
    );
    let Some(screen) = at_a_terminal("deploy //WebServer//start --yes", "y\n\ny\n") else {
        return;
    };
    assert!(!screen.contains("Apply?"), "{screen}");
    assert!(
        screen.contains("Installation of webserver packages"),
        "{screen}"
    );
}
