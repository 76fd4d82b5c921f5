//! `armonic undo ID`: the states a deployment entered are left, the last entered first, back to
//! where it found each lifecycle, whatever became of the deployment; destructive states only
//! with a confirmation.

use std::process::{Command, Output, Stdio};

mod common;
use common::text;

/// A database whose leaving is recorded in a file, and marked destructive in `DB_KEPT`.
const DB: &str = r#"
name = "Db"
initial = "Off"
transitions = [["Off", "Installed"], ["Installed", "On"]]
[states.Off]
[states.Installed]
[states.Installed.leave]
do = [{ run = "echo left-installed >> \"$ARMONIC_MARKS\"" }]
[states.On.leave]
do = [{ run = "echo left-on >> \"$ARMONIC_MARKS\"" }]
[states.On.provides.grant]
return = { user = "app" }
"#;

const APP: &str = r#"
name = "App"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.enter.requires.db]
type = "external"
xpath = "//Db//grant"
provide_ret.user = { type = "str" }
[states.On.enter]
do = [{ run = "true" }]
[states.On.provides.start]
"#;

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(db: &str) -> Setup {
        Setup::with(db, APP)
    }

    fn with(db: &str, app: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lc")).unwrap();
        std::fs::write(dir.path().join("lc/db.toml"), db).unwrap();
        std::fs::write(dir.path().join("lc/app.toml"), app).unwrap();
        Setup { dir }
    }

    fn marks(&self) -> std::path::PathBuf {
        self.dir.path().join("marks")
    }

    fn armonic(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_armonic"))
            .args(["--local", "--no-color", "--state-dir"])
            .arg(self.dir.path().join("state"))
            .arg("-L")
            .arg(self.dir.path().join("lc"))
            .args(["--location", "app1", "--location", "db1"])
            .args(args)
            .env("ARMONIC_MARKS", self.marks())
            .env_remove("ARMONIC_STATE_DIR")
            .env_remove("ARMONIC_LIFECYCLE_DIRS")
            .env_remove("ARMONIC_CONFIG")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Deploys `//App//start` unattended; its id.
    fn deploy(&self) -> String {
        let o = self.armonic(&["--format", "json", "deploy", "//App//start", "--autofill"]);
        let out: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", text(&o.stdout), text(&o.stderr)));
        out["deployment"].as_str().unwrap().to_owned()
    }

    fn current(&self, lifecycle: &str, location: &str) -> String {
        let o = self.armonic(&["state-current", &format!("/{location}/{lifecycle}")]);
        text(&o.stdout)
    }
}

#[test]
fn undo_leaves_what_a_deployment_entered_the_last_entered_first() {
    let s = Setup::new(DB);
    let id = s.deploy();
    assert!(s.current("App", "app1").contains("On"));
    let dry = s.armonic(&["undo", &id, "--dry-run"]);
    let err = text(&dry.stderr);
    assert!(dry.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "Undo of deployment {id}, in this order:\n  app1 App: leave On, back to Off\n  db1 Db: leave On, Installed, back to Off\n"
        )),
        "{err}"
    );
    assert!(!s.marks().exists(), "a dry run leaves nothing");

    let o = s.armonic(&["undo", &id]);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "Undo done: 2 lifecycles back where deployment {id} found them."
        )),
        "{err}"
    );
    assert!(
        s.current("App", "app1").contains("Off"),
        "{}",
        s.current("App", "app1")
    );
    assert!(s.current("Db", "db1").contains("Off"));
    // The leave steps ran, the top state first.
    assert_eq!(
        std::fs::read_to_string(s.marks()).unwrap(),
        "left-on\nleft-installed\n"
    );

    // Again: nothing is left to undo, and it says so.
    let o = s.armonic(&["undo", &id]);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("nothing is left to undo"), "{err}");
}

#[test]
fn undo_of_a_failed_deployment_leaves_what_completed() {
    let failing = APP.replace(
        "run = \"true\"",
        "run = \"echo 'app refuses to start' >&2; exit 3\"",
    );
    let s = Setup::with(DB, &failing);
    let id = s.deploy();
    // The database was entered, the application refused to start.
    assert!(s.current("Db", "db1").contains("On"));
    assert!(s.current("App", "app1").contains("Off"));
    let o = s.armonic(&["undo", &id]);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(
            "App on app1: the states the deployment entered are no longer entered: nothing to leave"
        ),
        "{err}"
    );
    assert!(
        err.contains("  db1 Db: leave On, Installed, back to Off\n"),
        "{err}"
    );
    assert!(s.current("Db", "db1").contains("Off"));
}

#[test]
fn a_destructive_state_is_left_only_when_confirmed() {
    let destructive = DB.replace(
        "[states.Installed]\n",
        "[states.Installed]\ndestructive = true\n",
    );
    let s = Setup::new(&destructive);
    let id = s.deploy();
    // Nobody to ask (stdin is not a terminal): refused before anything is left.
    let o = s.armonic(&["undo", &id]);
    let err = text(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("db1 Db: leave On, Installed (destructive), back to Off"),
        "{err}"
    );
    assert!(
        err.contains("leaving Installed of Db on db1 is destructive: nothing was left (confirm at a terminal, or give --yes)"),
        "{err}"
    );
    assert!(s.current("App", "app1").contains("On"));
    assert!(!s.marks().exists());
    // With --yes it is.
    let o = s.armonic(&["undo", &id, "--yes"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(s.current("Db", "db1").contains("Off"));
}

#[test]
fn undo_of_an_unknown_deployment_says_there_is_nothing_to_undo() {
    let s = Setup::new(DB);
    let o = s.armonic(&["undo", "no-such-deployment"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("deployment no-such-deployment entered no state that a live agent's journal still shows: nothing to undo"),
        "{err}"
    );
}
