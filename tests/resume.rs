//! `armonic resume ID`: a deployment whose driver was killed is finished from another node of
//! the mesh, from the plan its calls carried and what the journals of the agents that ran
//! them say. A step done never runs twice; a step still running is attached to.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::mesh::Mesh;
use common::text;

/// Three steps of a few seconds, each counting its runs in `$MARKS/LOCATION-NAME`, the
/// second on the first's host, the third on the second's.
fn chain(marks: &std::path::Path) -> Vec<(&'static str, String)> {
    let step = |name: &str, secs: u32, requires: Option<&str>| {
        let mut text = format!(
            r#"
name = "{name}"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.enter]
do = [{{ run = "sleep {secs}; echo run >> {marks}/$ARMONIC_LOCATION-{name}" }}]
[states.On.provides.start]
"#,
            marks = marks.display()
        );
        if let Some(r) = requires {
            text.push_str(&format!(
                r#"[states.On.enter.requires.dep]
type = "external"
xpath = "//{r}//start"
"#
            ));
        }
        text
    };
    vec![
        ("first.toml", step("First", 2, None)),
        ("second.toml", step("Second", 4, Some("First"))),
        ("third.toml", step("Third", 1, Some("Second"))),
    ]
}

/// Runs `cmd`, killed after `secs` seconds (its output so far is returned all the same).
fn within(cmd: &mut std::process::Command, secs: u64) -> std::process::Output {
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::spawn(move || {
        if rx.recv_timeout(Duration::from_secs(secs)).is_err() {
            common::signal(pid, common::Signal::SIGKILL);
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = tx.send(());
    out
}

struct Setup {
    mesh: Mesh,
    marks: tempfile::TempDir,
    /// The record placing First on h2, Second on h3, Third on h4.
    answers: std::path::PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let marks = tempfile::tempdir().unwrap();
        let files = chain(marks.path());
        let files: Vec<(&str, &str)> = files.iter().map(|(f, t)| (*f, t.as_str())).collect();
        let mesh = Mesh::with_lifecycles(&["d1", "h2", "h3", "h4"], &files);
        let answers = mesh.dir.path().join("answers.json");
        let o = mesh.run(
            "d1",
            &[
                "deploy",
                "//Third//start",
                "--autofill",
                "--dry-run",
                "--save",
                answers.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
        // Each step on a host of its own.
        let mut record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&answers).unwrap()).unwrap();
        for entry in record["lfm"].as_array_mut().unwrap() {
            let key = entry[0].as_str().unwrap().to_owned();
            entry[1] = if key.contains("First") {
                "h2"
            } else if key.contains("Second") {
                "h3"
            } else {
                "h4"
            }
            .into();
        }
        std::fs::write(&answers, record.to_string()).unwrap();
        Setup {
            mesh,
            marks,
            answers,
        }
    }

    /// `deploy` through d1, not waited for.
    fn drive(&self) -> Child {
        self.mesh
            .cmd("d1")
            .args(["--format", "json", "deploy", "//Third//start", "--answers"])
            .arg(&self.answers)
            .args(["--autofill", "--yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// How many times `name` ran on `location`.
    fn runs(&self, location: &str, name: &str) -> usize {
        std::fs::read_to_string(self.marks.path().join(format!("{location}-{name}")))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    /// The deployments `armonic deployments` lists through `name`.
    fn deployments(&self, name: &str) -> Vec<serde_json::Value> {
        let o = self.mesh.run(name, &["--format", "json", "deployments"]);
        serde_json::from_slice(&o.stdout).unwrap_or_default()
    }

    /// Waits until the first step is done and the second runs; the deployment's id.
    fn second_running(&self) -> String {
        let start = Instant::now();
        loop {
            let list = self.deployments("h2");
            if let Some(d) = list.first().filter(|d| d["done"] == 1 && d["calls"] == 2) {
                return d["id"].as_str().unwrap().to_owned();
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the second step never started: {list:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn a_deployment_whose_driver_was_killed_during_a_step_is_finished_from_another_node_each_step_once()
{
    let s = Setup::new();
    let mut driver = s.drive();
    let id = s.second_running();
    // kill -9 of the driving command: the step it waited for goes on, on h3.
    driver.kill().unwrap();
    driver.wait().unwrap();
    assert_eq!(s.runs("h3", "Second"), 0, "still running");
    // Nothing is undone under a running step: what it enters next would stay.
    let o = s.mesh.run("h2", &["undo", &id, "--yes"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains(&format!(
            "deployment {id} still has steps running (on h3): undo it once they end"
        )),
        "{}",
        text(&o.stderr)
    );
    let o = s
        .mesh
        .run("h4", &["--format", "json", "resume", &id, "--yes"]);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "Deployment {id} of //Third//start (3 steps), driven by d1:"
        )),
        "{err}"
    );
    assert!(err.contains("First/On/start on h2: done"), "{err}");
    assert!(
        err.contains("Second/On/start on h3: running: attached to, not started again"),
        "{err}"
    );
    assert!(
        err.contains("Third/On/start on h4: not started: runs"),
        "{err}"
    );
    let out: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let steps = out["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3, "{out}");
    assert_eq!(steps[0]["earlier"], true, "{out}");
    assert!(
        steps.iter().all(|s| s["status"]["status"] == "done"),
        "{out}"
    );
    for (location, name) in [("h2", "First"), ("h3", "Second"), ("h4", "Third")] {
        assert_eq!(s.runs(location, name), 1, "{name} on {location}");
    }
    // The journals now say it is done, and h4 drove its end.
    let list = s.deployments("d1");
    assert_eq!(list[0]["state"], "done", "{list:?}");
    assert_eq!(list[0]["driver"], "h4", "{list:?}");
    // Resuming a finished deployment runs nothing.
    let o = s.mesh.run("h2", &["resume", &id]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains(&format!("Deployment {id} is complete: nothing to resume.")),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(s.runs("h2", "First"), 1);
}

#[test]
fn a_deployment_whose_driver_host_froze_is_finished_from_another_node() {
    let mut s = Setup::new();
    let mut driver = s.drive();
    let id = s.second_running();
    // The driver's whole host stops: its agent too.
    let d1 = s.mesh.pid("d1");
    common::signal(d1, common::Signal::SIGSTOP);
    driver.kill().unwrap();
    driver.wait().unwrap();
    let o = within(s.mesh.cmd("h4").args(["resume", &id, "--yes"]), 120);
    let err = text(&o.stderr);
    common::signal(d1, common::Signal::SIGCONT);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("Deployment done"), "{err}");
    for (location, name) in [("h2", "First"), ("h3", "Second"), ("h4", "Third")] {
        assert_eq!(s.runs(location, name), 1, "{name} on {location}: {err}");
    }
    let _ = s.mesh.child("d1");
}

#[test]
fn a_step_that_failed_runs_again_on_resume_and_the_done_ones_do_not() {
    let s = Setup::new();
    // The third step fails once: its counter directory is not writable for it.
    let flag = s.marks.path().join("h4-Third");
    std::fs::create_dir(&flag).unwrap();
    let mut driver = s.drive();
    let status = driver.wait().unwrap();
    assert!(!status.success());
    let list = s.deployments("h2");
    assert_eq!(list[0]["state"], "failed", "{list:?}");
    let id = list[0]["id"].as_str().unwrap().to_owned();
    std::fs::remove_dir(&flag).unwrap();
    let o = s.mesh.run("h3", &["resume", &id, "--dry-run"]);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("Third/On/start on h4: failed ("), "{err}");
    assert_eq!(s.runs("h4", "Third"), 0, "a dry run runs nothing");
    let o = s.mesh.run("h3", &["resume", &id, "--yes"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    for (location, name) in [("h2", "First"), ("h3", "Second"), ("h4", "Third")] {
        assert_eq!(s.runs(location, name), 1, "{name} on {location}");
    }
}

#[test]
fn resume_of_an_unknown_deployment_says_so_and_runs_nothing() {
    let s = Setup::new();
    let o = s.mesh.run("h2", &["resume", "no-such-deployment"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("no live agent's journal knows deployment no-such-deployment"),
        "{}",
        text(&o.stderr)
    );
}
