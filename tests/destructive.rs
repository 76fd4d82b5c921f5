//! Provides marked `destructive = true` (they destroy what cannot be made again): a deployment
//! that runs one, itself or as the enter provide of a state it enters, says so in its plan and
//! runs only when confirmed (at a terminal, or with --yes).

use std::process::{Command, Output, Stdio};

mod common;
use common::text;

const DB: &str = r#"
name = "Db"
initial = "Off"
transitions = [["Off", "Empty"], ["Empty", "On"]]
[states.Off]
[states.Empty.enter]
destructive = true
do = [{ run = "echo wiped >> \"$ARMONIC_MARKS\"" }]
[states.On]
[states.On.provides.grant]
do = [{ run = "echo grant >> \"$ARMONIC_MARKS\"" }]
[states.On.provides.reset]
destructive = true
do = [{ run = "echo reset >> \"$ARMONIC_MARKS\"" }]
"#;

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lc")).unwrap();
        std::fs::write(dir.path().join("lc/db.toml"), DB).unwrap();
        Setup { dir }
    }

    fn armonic(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_armonic"))
            .args(["--local", "--no-color", "--state-dir"])
            .arg(self.dir.path().join("state"))
            .arg("-L")
            .arg(self.dir.path().join("lc"))
            .args(["--location", "db1"])
            .args(args)
            .env("ARMONIC_MARKS", self.dir.path().join("marks"))
            .env_remove("ARMONIC_STATE_DIR")
            .env_remove("ARMONIC_LIFECYCLE_DIRS")
            .env_remove("ARMONIC_CONFIG")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn marks(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("marks")).unwrap_or_default()
    }
}

#[test]
fn an_unattended_deployment_running_a_destructive_provide_is_refused_without_yes() {
    let s = Setup::new();
    let o = s.armonic(&["deploy", "//Db//reset", "--autofill"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the plan runs destructive provides (what they replace is lost): Db/On/reset, Db/Empty/enter on db1; nothing was run (confirm at a terminal, or give --yes)"),
        "{err}"
    );
    assert_eq!(s.marks(), "");
    let o = s.armonic(&["deploy", "//Db//reset", "--autofill", "--yes"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(s.marks(), "wiped\nreset\n");
}

#[test]
fn the_plan_names_the_destructive_provides_a_step_runs() {
    let s = Setup::new();
    let o = s.armonic(&["deploy", "//Db//grant", "--autofill", "--dry-run"]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        out.contains("node_0 Db/On/grant on db1 (destructive: Db/Empty/enter)"),
        "{out}"
    );
    // Once Empty is entered, granting runs nothing destructive: no question.
    let o = s.armonic(&["deploy", "//Db//grant", "--autofill", "--yes"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = s.armonic(&["deploy", "//Db//grant", "--autofill"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(s.marks(), "wiped\ngrant\ngrant\n");
}
