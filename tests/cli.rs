//! End-to-end tests of the `armonic` binary with an embedded agent (`--local`).

use std::path::Path;
use std::process::{Command, Output};

fn armonic(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_armonic"))
        .args(["--local", "--name", "vm", "--no-color"])
        .args(args)
        .env_remove("ARMONIC_STATE_DIR")
        .env_remove("ARMONIC_LIFECYCLE_DIRS")
        .output()
        .expect("armonic runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(args: &[&str]) -> (String, String) {
    let o = armonic(args);
    assert!(
        o.status.success(),
        "armonic {args:?} failed: {}",
        stderr(&o)
    );
    (stdout(&o), stderr(&o))
}

#[test]
fn provide_call_prints_the_original_log_lines_and_the_url() {
    let (out, err) = ok(&["provide-call", "//WebServer//start"]);
    assert_eq!(out, "{\"url\": \"http://localhost:80\"}\n");
    assert_eq!(
        err,
        "INFO     [WebServer] Installation of webserver packages...\n\
         INFO     [WebServer] Configuration of webserver service...\n\
         INFO     [WebServer] Webserver listening on port 80\n\
         INFO     [WebServer] Activation of webserver service...\n"
    );
}

#[test]
fn a_configured_port_survives_into_a_second_process_with_the_same_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().to_str().unwrap();
    let (out, err) = ok(&[
        "--state-dir",
        sd,
        "state-goto",
        "//WebServer/Configured",
        "-R",
        "conf",
        "port:8080",
    ]);
    assert_eq!(out, "WebServer is in state Configured\n");
    assert!(err.contains("Webserver listening on port 8080"), "{err}");
    let (out, err) = ok(&["--state-dir", sd, "provide-call", "//WebServer//start"]);
    assert_eq!(out, "{\"url\": \"http://localhost:8080\"}\n");
    assert_eq!(
        err,
        "INFO     [WebServer] Activation of webserver service...\n"
    );
    let (out, _) = ok(&["--state-dir", sd, "state-current", "//WebServer"]);
    assert_eq!(out, "WebServer  /vm/WebServer/Active\n");
}

#[test]
fn check_lists_every_error_and_exits_non_zero() {
    let o = armonic(&[
        "provide-call",
        "//WebServer/Configured/create_document_root",
        "-c",
        "-R",
        "document_root",
        "path:/x",
        "-R",
        "conf",
        "port:99999",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "/vm/WebServer/Configured/enter/conf/port: port value must be at most 65535\n"
    );
    let (out, _) = ok(&[
        "provide-call",
        "//WebServer/Configured/create_document_root",
        "--check",
    ]);
    assert_eq!(out, "Requires are valid.\n");
}

#[test]
fn errors_are_one_line_and_bad_arguments_exit_2() {
    for (args, code, expected) in [
        (
            vec!["provide-call", "//Nothing//here"],
            1,
            "error: //Nothing//here matches nothing\n",
        ),
        (
            vec![
                "provide-call",
                "//WebServer//start",
                "-R",
                "conf",
                "port:abc",
            ],
            1,
            "error: provided values do not meet the requires: /vm/WebServer/Configured/enter/conf/port: port must be an int\n",
        ),
        (
            vec!["state-goto", "//WebServer/Active", "-R", "conf", "port"],
            2,
            "error: -R conf: expected VAR:VALUE after the require name\n",
        ),
        (
            vec!["provide-call", "//WebServer//start", "--json", "{oops"],
            2,
            "error: --json is not valid JSON: key must be a string at line 1 column 2\n",
        ),
    ] {
        let o = armonic(&args);
        assert_eq!(o.status.code(), Some(code), "{args:?}");
        assert_eq!(stderr(&o), expected, "{args:?}");
    }
}

#[test]
fn without_local_the_command_says_what_to_do() {
    let o = Command::new(env!("CARGO_BIN_EXE_armonic"))
        .args(["status"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("add --local"), "{}", stderr(&o));
}

#[test]
fn json_values_and_format_json_for_scripts() {
    let (out, err) = ok(&[
        "--format",
        "json",
        "provide-call",
        "//WebServer//start",
        "--json",
        r#"{"//conf/port": 81}"#,
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["url"], "http://localhost:81");
    let first: serde_json::Value = serde_json::from_str(err.lines().next().unwrap()).unwrap();
    assert_eq!(first["message"], "Installation of webserver packages...");
    assert_eq!(first["lifecycle"], "WebServer");
    let (out, _) = ok(&["--format", "json", "status"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["name"], "vm");
}

#[test]
fn listings_show_lifecycles_states_and_provides() {
    let (out, _) = ok(&["lifecycle"]);
    // The shipped lifecycles: the real services, then the original's demo.
    assert_eq!(
        out,
        "/vm/Guestbook\n/vm/Nginx\n/vm/PostgreSQL\n/vm/Proxy\n/vm/WebServer\n/vm/WebSite\n"
    );
    let (out, _) = ok(&["state", "//WebSite/*"]);
    assert_eq!(
        out,
        "/vm/WebSite/NotInstalled\n/vm/WebSite/Templated\n/vm/WebSite/Active\n"
    );
    let (out, _) = ok(&["provide", "//WebSite//*", "-a"]);
    assert_eq!(
        out,
        "\n/vm/WebSite/Active/start\n  Need:  /vm/WebSite/Templated/enter\n  Need:  /vm/WebSite/Active/start\n"
    );
    let (out, _) = ok(&["state", "//WebServer/Active", "-p"]);
    assert_eq!(
        out,
        "\n/vm/WebServer/Active\n  path 0\n    enter  Installed\n    enter  Configured\n    enter  Active\n"
    );
    let (out, _) = ok(&["provide", "//WebServer//start", "-l"]);
    assert!(
        out.contains("  Label  : Fake webserver activation\n  Tags   : demo\n"),
        "{out}"
    );
    let (out, _) = ok(&["state", "//WebServer/Active", "-r"]);
    assert!(
        out.contains("Require: conf            type:simple    nargs:1"),
        "{out}"
    );
    let (out, _) = ok(&["status"]);
    assert!(
        out.starts_with("Property    Value\nname        vm\n"),
        "{out}"
    );
    let (out, _) = ok(&["xpath", "//WebServer//port"]);
    assert_eq!(out, "variable  /vm/WebServer/Configured/enter/conf/port\n");
    let (out, _) = ok(&["xpath", "-u", "WebServer/Active/*"]);
    assert_eq!(
        out,
        "/vm/WebServer/Active/enter\n/vm/WebServer/Active/start\n"
    );
}

#[test]
fn plot_draws_dot_and_json() {
    let (out, _) = ok(&["plot", "WebServer"]);
    assert!(out.starts_with("digraph finite_state_machine {"), "{out}");
    assert!(out.contains("\"Configured\" -> \"Active\";"));
    let (out, _) = ok(&["plot", "WebSite", "-T", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["initial"], "NotInstalled");
    assert_eq!(
        v[0]["transitions"][0],
        serde_json::json!(["NotInstalled", "Templated"])
    );
}

#[test]
fn simulation_moves_states_without_running_actions() {
    let (out, err) = ok(&["--simulation", "provide-call", "//WebServer//start"]);
    assert_eq!(out, "null\n");
    assert!(!err.contains("Installation of webserver packages"), "{err}");
    assert!(
        err.contains("WARNING  [WebServer] Provide call enter of Installed is simulated"),
        "{err}"
    );
}

#[test]
fn a_broken_lifecycle_file_is_reported_and_the_others_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("lifecycles/webserver.toml");
    std::fs::copy(shipped, dir.path().join("webserver.toml")).unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "name = \"Bad\"\ninitial = \"A\"\ntransitions = [[\"A\", \"B\"]]\n[states.A]\n",
    )
    .unwrap();
    let (out, err) = ok(&["-L", dir.path().to_str().unwrap(), "lifecycle"]);
    assert_eq!(out, "/vm/WebServer\n");
    assert!(err.starts_with("warning: "), "{err}");
    assert!(
        err.contains(
            "bad.toml:3:16: transition names state 'B', which is not defined under [states]"
        ),
        "{err}"
    );
}

#[test]
fn values_with_colons_and_repeated_requires_reach_their_sets() {
    let (out, _) = ok(&[
        "provide-call",
        "//Proxy//start",
        "-R",
        "websites",
        "host:web1",
        "url:http://web1:8080/",
        "-R",
        "websites",
        "host:web2",
        "url:http://web2:80/",
    ]);
    assert_eq!(out, "{\"url\": \"http://localhost:80\"}\n");
}

#[test]
fn with_several_locations_listings_cover_all_and_calls_go_where_the_address_points() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_armonic"))
            .args([
                "--local",
                "--no-color",
                "--location",
                "web1",
                "--location",
                "web2",
            ])
            .args(args)
            .env_remove("ARMONIC_STATE_DIR")
            .output()
            .unwrap()
    };
    let o = run(&["lifecycle", "//WebServer"]);
    assert_eq!(stdout(&o), "/web1/WebServer\n/web2/WebServer\n");
    let o = run(&["provide-call", "//WebServer//start"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "error: //WebServer//start matches several resources: /web1/WebServer/Active/start, /web2/WebServer/Active/start\n"
    );
    let o = run(&["-q", "provide-call", "/web2/WebServer//start"]);
    assert_eq!(stdout(&o), "{\"url\": \"http://web2:80\"}\n");
    let o = run(&["--format", "json", "status"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v[1]["name"], "web2");
}

#[test]
fn output_closed_by_its_reader_ends_the_command_quietly_as_sigpipe_would() {
    // `armonic … | head -1`: the reader is gone before the command writes.
    for args in [
        &["lifecycle"][..],
        &["--format", "json", "lifecycle"][..],
        &["provide-call", "//WebServer//start"][..],
    ] {
        let (read, write) = nix::unistd::pipe().unwrap();
        drop(read);
        let o = Command::new(env!("CARGO_BIN_EXE_armonic"))
            .args(["--local", "--name", "vm", "--no-color", "--quiet"])
            .args(args)
            .env_remove("ARMONIC_STATE_DIR")
            .env_remove("ARMONIC_LIFECYCLE_DIRS")
            .stdout(std::process::Stdio::from(write))
            .output()
            .expect("armonic runs");
        assert_eq!(o.status.code(), Some(141), "armonic {args:?}");
        assert_eq!(stderr(&o), "", "armonic {args:?}");
    }
}
