//! Plans reviewed, then applied as reviewed: `deploy --dry-run --save-plan FILE` writes the plan
//! bound to what each location it runs on has; `deploy --plan FILE` applies exactly it, and
//! refuses before anything runs when one of those locations changed since.

use std::process::{Command, Output, Stdio};

mod common;
use common::text;

const DB: &str = r#"
name = "Db"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.enter]
do = [{ run = "echo db-on >> \"$ARMONIC_MARKS\"" }]
[states.On.provides.grant]
do = [{ run = "echo grant >> \"$ARMONIC_MARKS\"" }]
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
do = [{ run = "echo app-on $db_user >> \"$ARMONIC_MARKS\"" }]
[states.On.provides.start]
"#;

/// A lifecycle nothing deploys: moving it changes its location and nothing else.
const SPARE: &str = r#"
name = "Spare"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On]
"#;

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lc")).unwrap();
        for (name, text) in [("db.toml", DB), ("app.toml", APP), ("spare.toml", SPARE)] {
            std::fs::write(dir.path().join("lc").join(name), text).unwrap();
        }
        Setup { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn armonic(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_armonic"))
            .args(["--local", "--no-color", "--state-dir"])
            .arg(self.path("state"))
            .arg("-L")
            .arg(self.path("lc"))
            .args(["--location", "app1", "--location", "db1"])
            .args(args)
            .env("ARMONIC_MARKS", self.path("marks"))
            .env_remove("ARMONIC_STATE_DIR")
            .env_remove("ARMONIC_LIFECYCLE_DIRS")
            .env_remove("ARMONIC_CONFIG")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Saves the plan of `//App//start` (App on app1, Db on db1) in `file`.
    fn save(&self, file: &str) -> Output {
        let answers = self.path("answers.json");
        std::fs::write(
            &answers,
            r#"{"lfm": [["node_0///App//start", "app1"], ["node_0_0///Db//grant", "db1"]]}"#,
        )
        .unwrap();
        self.armonic(&[
            "deploy",
            "//App//start",
            "--answers",
            answers.to_str().unwrap(),
            "--autofill",
            "--dry-run",
            "--save-plan",
            self.path(file).to_str().unwrap(),
        ])
    }

    fn apply(&self, file: &str) -> Output {
        self.armonic(&["deploy", "--plan", self.path(file).to_str().unwrap()])
    }

    fn marks(&self) -> String {
        std::fs::read_to_string(self.path("marks")).unwrap_or_default()
    }
}

#[test]
fn a_saved_plan_is_applied_exactly_as_reviewed() {
    let s = Setup::new();
    let o = s.save("plan.json");
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("Plan written in"), "{err}");
    assert!(s.marks().is_empty(), "a dry run runs nothing");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(s.path("plan.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "owner-only");
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.path("plan.json")).unwrap()).unwrap();
    let catalogues = plan["plan"]["catalogues"].as_array().unwrap();
    let bound: Vec<&str> = catalogues
        .iter()
        .map(|c| c["location"].as_str().unwrap())
        .collect();
    assert_eq!(bound, ["db1", "app1"], "{plan}");

    let o = s.apply("plan.json");
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("node_0_0 Db/On/grant on db1"), "{err}");
    assert_eq!(s.marks(), "db-on\ngrant\napp-on app\n", "{err}");
}

#[test]
fn a_plan_is_refused_before_anything_runs_when_a_location_it_runs_on_changed() {
    let s = Setup::new();
    assert!(s.save("plan.json").status.success());
    // Something else moves on db1.
    let o = s.armonic(&["state-goto", "/db1/Spare/On"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = s.apply("plan.json");
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the plan was made against catalogues that changed since: db1 (its lifecycles or their states changed); nothing was run"),
        "{err}"
    );
    assert!(s.marks().is_empty(), "{err}");
    // A plan made now, against what db1 has now, applies.
    assert!(s.save("plan2.json").status.success());
    let o = s.apply("plan2.json");
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn a_plan_made_against_empty_states_is_refused_once_another_deployment_entered_them() {
    let s = Setup::new();
    assert!(s.save("plan.json").status.success());
    let o = s.armonic(&["deploy", "//App//start", "--autofill"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let before = s.marks();
    let o = s.apply("plan.json");
    let err = text(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("db1 (its lifecycles"), "{err}");
    assert!(err.contains("app1 (its lifecycles"), "{err}");
    assert_eq!(s.marks(), before, "nothing ran");
}

#[test]
fn a_plan_that_enters_nothing_leaves_every_fingerprint_and_stays_valid() {
    let s = Setup::new();
    let o = s.armonic(&["deploy", "//App//start", "--autofill"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // Everything is entered: the plan only calls provides.
    assert!(s.save("noop.json").status.success());
    for _ in 0..2 {
        let o = s.apply("noop.json");
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    // Both applied: App's start enters nothing and runs no command.
    assert_eq!(s.marks(), "db-on\ngrant\napp-on app\n");
}

#[test]
fn an_edited_plan_file_is_refused() {
    let s = Setup::new();
    assert!(s.save("plan.json").status.success());
    let text_of = std::fs::read_to_string(s.path("plan.json")).unwrap();
    std::fs::write(s.path("plan.json"), text_of.replace("\"db1\"", "\"app1\"")).unwrap();
    let o = s.apply("plan.json");
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("was changed since it was saved (its hash does not match): nothing was run"),
        "{err}"
    );
    let o = s.armonic(&["deploy", "--plan", "/nonexistent/plan.json"]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("cannot read plan /nonexistent/plan.json"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn across_the_mesh_a_plan_is_bound_to_each_agent_it_runs_on() {
    let mesh = common::mesh::Mesh::with_lifecycles(&["web1", "driver"], &[("spare.toml", SPARE)]);
    let plan = mesh.dir.path().join("plan.json");
    let save = |plan: &std::path::Path| {
        let o = mesh.run(
            "web1",
            &[
                "deploy",
                "//WebSite//start",
                "--autofill",
                "--dry-run",
                "--save-plan",
                plan.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
    };
    save(&plan);
    let o = mesh.run("web1", &["state-goto", "/driver/Spare/On"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = mesh.run("web1", &["deploy", "--plan", plan.to_str().unwrap()]);
    let err = text(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("changed since: driver (its lifecycles"),
        "{err}"
    );
    save(&plan);
    let o = mesh.run("web1", &["deploy", "--plan", plan.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "{\"url\": \"http://driver:80\"}\n");
}
