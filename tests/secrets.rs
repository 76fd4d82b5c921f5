//! A deployment with secrets, through a real agent: the secrets reach the steps and nowhere
//! else. Every output is searched for them: the command's stdout and stderr, the agent's
//! log, the journal (as text and as JSON), every file of the state directory, the record.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

mod common;
use common::text;

const PASSWORD: &str = "S3cret-pass-9";
const TOKEN: &str = "tok-Secret-7";
const WRONG_TOKEN: &str = "wrong-Secret-token-5";

const VAULT: &str = r#"
name = "Vault"
initial = "Off"
transitions = [["Off", "Sealed"]]
[states.Off]
[states.Sealed.enter.requires.keys.variables]
password = { type = "password" }
token = { type = "str", secret = true, pattern = "^tok-", pattern_error = "Token must start with tok-" }
user = { type = "str", default = "admin" }
[states.Sealed.enter]
do = [
    { log = "unsealing as {{ keys.user }} with {{ keys.password }} and {{ keys.token }}" },
    { run = "echo password=$keys_password; echo token=$keys_token >&2; test \"$keys_password\" = 'S3cret-pass-9'" },
]
[states.Sealed.provides.status]
do = [{ log = "sealed by {{ states.Sealed.keys.user }} using {{ states.Sealed.keys.password }}" }]
[states.Sealed.provides.leak]
do = [{ run = "echo \"$PW\" > \"$ARMONIC_RETURN\"", env = { PW = "{{ states.Sealed.keys.password }}" } }]
[states.Sealed.provides.give]
return = { got = "{{ states.Sealed.keys.password }}" }
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
        .env_remove("ARMONIC_CONFIG");
    c
}

struct Agent {
    child: Child,
    state: PathBuf,
    lifecycles: PathBuf,
}

impl Agent {
    fn start(state: &Path, lifecycles: &Path) -> Agent {
        let mut child = armonic(state, lifecycles)
            .args(["agent", "--no-mesh"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains(" ready: "), "agent said {line:?}");
        Agent {
            child,
            state: state.to_owned(),
            lifecycles: lifecycles.to_owned(),
        }
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = armonic(&self.state, &self.lifecycles)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Stops the agent (SIGTERM) and returns its log.
    fn stop(mut self) -> String {
        common::signal(self.child.id(), common::Signal::SIGTERM);
        let _ = self.child.wait();
        let mut log = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut log)
            .unwrap();
        log
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fails naming `what` if any secret is in `bytes`.
fn no_secret_in(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for secret in [PASSWORD, TOKEN, WRONG_TOKEN] {
        assert!(
            !text.contains(secret),
            "{what} holds the secret {secret}:\n{text}"
        );
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            files_under(&path, out);
        } else if meta.is_file() {
            out.push(path);
        }
    }
}

#[test]
fn secrets_reach_the_steps_and_appear_in_no_output_file_or_record() {
    let dir = tempfile::tempdir().unwrap();
    let lifecycles = common::lifecycles(dir.path(), &[("vault.toml", VAULT)]);
    let state = dir.path().join("state");
    let record = dir.path().join("record.json");
    let agent = Agent::start(&state, &lifecycles);

    // The wrong token is refused without being quoted, then the right one is given.
    let answers = format!("y\n{PASSWORD}\n{WRONG_TOKEN}\n\n{TOKEN}\ny\n");
    let o = agent.run(
        &[
            "deploy",
            "//Vault/Sealed/status",
            "--save",
            record.to_str().unwrap(),
        ],
        &answers,
    );
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    no_secret_in("the output of deploy", &o.stdout);
    no_secret_in("the log of deploy", &o.stderr);
    // What the steps did with the secrets shows, masked.
    assert!(
        err.contains("Token must start with tok- (the value is a secret: not shown)"),
        "{err}"
    );
    assert!(
        err.contains("unsealing as admin with ******** and ********"),
        "{err}"
    );
    assert!(err.contains("password=********"), "{err}");
    assert!(err.contains("token=********"), "{err}");
    assert!(err.contains("sealed by admin using ********"), "{err}");
    assert!(err.contains("keys/password = ********"), "the plan: {err}");

    // The record lists the secrets without their values, and is the owner's only.
    let saved = std::fs::read(&record).unwrap();
    no_secret_in("the record", &saved);
    let json: serde_json::Value = serde_json::from_slice(&saved).unwrap();
    assert_eq!(json["secrets"].as_array().map(Vec::len), Some(2), "{json}");
    let mode = std::fs::metadata(&record).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // An error quoting what a step wrote quotes it masked.
    let o = agent.run(&["provide-call", "//Vault/Sealed/leak"], "");
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("line '********' is not key=value"), "{err}");
    no_secret_in("a failed call's error", &o.stderr);
    // A provide returning a secret gives it to its caller (who needs the value), and the
    // journal keeps it masked (searched below).
    let o = agent.run(&["provide-call", "//Vault/Sealed/give"], "");
    assert!(text(&o.stdout).contains(PASSWORD), "{}", text(&o.stderr));

    for args in [
        vec!["journal"],
        vec!["journal", "--format", "json"],
        vec!["state", "//Vault", "-r"],
        vec!["--format", "json", "state", "//Vault", "-r"],
        vec!["provide", "//Vault//*", "-a"],
    ] {
        let o = agent.run(&args, "");
        no_secret_in(&format!("armonic {}", args.join(" ")), &o.stdout);
        no_secret_in(&format!("armonic {} (stderr)", args.join(" ")), &o.stderr);
    }

    let log = agent.stop();
    no_secret_in("the agent's log", log.as_bytes());
    let mut files = Vec::new();
    files_under(&state, &mut files);
    assert!(
        files.iter().any(|f| f.starts_with(state.join("journal"))),
        "{files:?}"
    );
    for f in files {
        no_secret_in(&f.display().to_string(), &std::fs::read(&f).unwrap());
    }

    // After a restart the secret is not known: a step reading it says so instead of
    // running with something else.
    let agent = Agent::start(&state, &lifecycles);
    let o = agent.run(&["provide-call", "//Vault/Sealed/status"], "");
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("keys/password is a secret, which is never saved: it is not known since the agent restarted (enter Sealed again to give it)"),
        "{err}"
    );
}

#[test]
fn a_record_keeps_secrets_only_with_save_secrets_and_replays_without_asking() {
    let dir = tempfile::tempdir().unwrap();
    let lifecycles = common::lifecycles(dir.path(), &[("vault.toml", VAULT)]);
    let state = dir.path().join("state");
    let record = dir.path().join("record.json");
    let agent = Agent::start(&state, &lifecycles);
    let answers = format!("y\n{PASSWORD}\n{TOKEN}\n\ny\n");
    let o = agent.run(
        &[
            "deploy",
            "//Vault/Sealed/status",
            "--save",
            record.to_str().unwrap(),
            "--save-secrets",
        ],
        &answers,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let saved = std::fs::read_to_string(&record).unwrap();
    assert!(saved.contains(PASSWORD) && saved.contains(TOKEN), "{saved}");
    let mode = std::fs::metadata(&record).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn shipped_lifecycles_have_no_default_for_a_secret() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("lifecycles");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let def = armonic_lifecycle::format::parse(&text, &path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for state in &def.states {
            for p in std::iter::once(&state.enter).chain(&state.provides) {
                for req in &p.requires {
                    for var in req.variables.iter().filter(|v| v.secret) {
                        assert!(
                            var.default.is_none(),
                            "{}: {}/{}/{} is a secret with a default",
                            path.display(),
                            state.name,
                            req.name,
                            var.name
                        );
                    }
                }
            }
        }
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} shipped lifecycles found");
}

const DB: &str = r#"
name = "Db"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.provides.add_user]
do = [{ log = "user added with {{ user.pw }}" }]
[states.On.provides.add_user.requires.user.variables]
pw = { type = "password" }
"#;

const APP: &str = r#"
name = "App"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.enter.requires.db]
type = "local"
xpath = "//Db/On/add_user"
provide_args.pw = { type = "str" }
[states.On.provides.status]
do = [{ log = "app up" }]
"#;

#[test]
fn a_value_passed_to_a_secret_is_as_secret_in_the_deployment() {
    let dir = tempfile::tempdir().unwrap();
    let lifecycles = common::lifecycles(dir.path(), &[("db.toml", DB), ("app.toml", APP)]);
    let record = dir.path().join("record.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_armonic"))
        .args(["--local", "--no-color", "--name", "vm", "-L"])
        .arg(&lifecycles)
        .args(["deploy", "//App/On/status", "--save"])
        .arg(&record)
        .env_remove("ARMONIC_STATE_DIR")
        .env_remove("ARMONIC_LIFECYCLE_DIRS")
        .env_remove("ARMONIC_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The password is asked for Db's provide; App's argument, a plain `str`, takes it.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("y\ny\n{PASSWORD}\ny\ny\n").as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    no_secret_in("the deployment's output", &o.stdout);
    no_secret_in("the deployment's log", &o.stderr);
    assert!(err.contains("user added with ********"), "{err}");
    assert!(err.contains("App/On/enter/db/pw = ********"), "{err}");
    no_secret_in("the record", &std::fs::read(&record).unwrap());
}

const GENERATED: &str = "Gen3rated-Pw-42";

const KEEPER: &str = r#"
name = "Keeper"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.provides.add_user]
secret_returns = ["password"]
do = [
    { run = "echo Gen3rated-Pw-42 > \"$TMPDIR_KEEPER/pw\"; printf 'password=%s\\nuser=app\\n' \"$(cat \"$TMPDIR_KEEPER/pw\")\" > \"$ARMONIC_RETURN\"", env = { TMPDIR_KEEPER = "{{ dir.path }}" } },
    { run = "echo \"made user app with $(cat \"$TMPDIR_KEEPER/pw\")\"", env = { TMPDIR_KEEPER = "{{ dir.path }}" } },
]
[states.On.provides.add_user.requires.dir.variables]
path = { type = "str" }
"#;

#[test]
fn a_secret_a_provide_returns_goes_to_its_caller_and_is_masked_everywhere_else() {
    let dir = tempfile::tempdir().unwrap();
    let lifecycles = common::lifecycles(dir.path(), &[("keeper.toml", KEEPER)]);
    let state = dir.path().join("state");
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let agent = Agent::start(&state, &lifecycles);
    let o = agent.run(
        &[
            "provide-call",
            "//Keeper//add_user",
            "-R",
            "dir",
            &format!("path:{}", work.display()),
        ],
        "",
    );
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    // The caller gets the value it asked for.
    assert!(text(&o.stdout).contains(GENERATED), "{}", text(&o.stdout));
    // A later step printing it shows it masked, from the moment it was returned.
    assert!(err.contains("made user app with ********"), "{err}");
    assert!(!err.contains(GENERATED), "{err}");
    let o = agent.run(&["provide", "//Keeper//add_user", "--format", "json"], "");
    assert!(
        text(&o.stdout).contains("\"secret_returns\""),
        "{}",
        text(&o.stdout)
    );
    for args in [vec!["journal"], vec!["journal", "--format", "json"]] {
        let o = agent.run(&args, "");
        assert!(o.status.success());
        assert!(
            !text(&o.stdout).contains(GENERATED),
            "armonic {}: {}",
            args.join(" "),
            text(&o.stdout)
        );
    }
    let log = agent.stop();
    assert!(!log.contains(GENERATED), "{log}");
    let mut files = Vec::new();
    files_under(&state, &mut files);
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(GENERATED),
            "{} holds the generated secret",
            f.display()
        );
    }
}
