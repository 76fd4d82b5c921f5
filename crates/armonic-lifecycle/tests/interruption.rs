//! Interruption: what an interrupt does to running steps and to the state directory, and what
//! a process that died in the middle of a step leaves for the next one.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use armonic_lifecycle::persist::{InProgress, StateFile, StateStore, StepKind};
use armonic_lifecycle::{Error, Interrupt, Level, Location, LockWait, MemorySink};
use common::{config, opts, parse, vals};

/// Off → On → Done; entering On sleeps (long enough to be interrupted), entering Done writes
/// a file: it must never run after an interrupt.
fn slow(marker: &Path, sleep: u32) -> String {
    format!(
        r#"
name = "Slow"
initial = "Off"
transitions = [["Off", "On"], ["On", "Done"]]
[states.Off]
[states.On.enter]
do = [{{ run = "echo started; sleep {sleep}" }}]
[states.Done.enter]
do = [{{ run = "touch {}" }}]
"#,
        marker.display()
    )
}

fn build(state_dir: &Path, marker: &Path, interrupt: Interrupt) -> (Location, MemorySink) {
    build_sleeping(state_dir, marker, interrupt, 30)
}

fn build_sleeping(
    state_dir: &Path,
    marker: &Path,
    interrupt: Interrupt,
    sleep: u32,
) -> (Location, MemorySink) {
    let logs = MemorySink::new();
    let loc = Location::builder(config("debian:12", Some(state_dir)))
        .sink(Arc::new(logs.clone()))
        .interrupt(interrupt)
        .build(vec![parse(&slow(marker, sleep))])
        .expect("location starts");
    (loc, logs)
}

fn saved(state_dir: &Path) -> StateFile {
    let text = std::fs::read_to_string(state_dir.join("lifecycles/Slow.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Waits (with a deadline) until `f` holds.
fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_interrupted_enter_leaves_its_state_not_entered_and_starts_nothing_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("done-ran");
    let state_dir = dir.path().join("state");
    let interrupt = Interrupt::new(Duration::from_secs(5));
    let (loc, _) = build(&state_dir, &marker, interrupt.clone());
    let watcher = {
        let state_dir = state_dir.clone();
        std::thread::spawn(move || {
            // The step records itself, with its process group, before the command runs.
            eventually("the step in progress", || {
                std::fs::read_to_string(state_dir.join("lifecycles/Slow.json"))
                    .ok()
                    .and_then(|t| serde_json::from_str::<StateFile>(&t).ok())
                    .and_then(|f| f.in_progress)
                    .is_some_and(|p| p.process_group.is_some())
            });
            let during = saved(&state_dir).in_progress.unwrap();
            interrupt.request(Some(15));
            during
        })
    };
    let start = Instant::now();
    let err = loc
        .state_goto("//Slow/Done", &vals(&[]), &opts())
        .unwrap_err();
    let during = watcher.join().unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(during.step, StepKind::Enter);
    assert_eq!(during.state, "On");
    assert_eq!(during.pid, std::process::id());
    assert!(
        matches!(err, Error::Interrupted { started: true, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "Slow was interrupted while entering On; the step may have partly run"
    );
    assert_eq!(loc.stack("Slow").unwrap(), vec!["Off"]);
    let file = saved(&state_dir);
    assert_eq!(file.stack, vec!["Off"], "the file says what completed");
    assert_eq!(
        file.in_progress, None,
        "the step ended: nothing left in progress"
    );
    assert!(!marker.exists(), "no step started after the interrupt");
}

#[test]
fn after_an_interrupt_no_step_starts() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("done-ran");
    let interrupt = Interrupt::default();
    let (loc, _) = build(&dir.path().join("state"), &marker, interrupt.clone());
    interrupt.request(Some(2));
    let err = loc
        .state_goto("//Slow/Done", &vals(&[]), &opts())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Slow was interrupted before entering On; nothing of that step ran"
    );
    assert_eq!(err.kind(), "interrupted");
    assert_eq!(loc.stack("Slow").unwrap(), vec!["Off"]);
}

/// Writes the state file a process killed while entering On would have left.
fn left_by_a_dead_process(state_dir: &Path, group: Option<u32>) {
    let store = StateStore::open(state_dir, &LockWait::No).unwrap();
    let mut step = InProgress::now(StepKind::Enter, "On", "enter");
    step.pid = u32::MAX;
    if let Some(g) = group {
        step.set_group(g);
    }
    store
        .save(&StateFile {
            format: 1,
            lifecycle: "Slow".into(),
            stack: vec!["Off".into()],
            entered: Default::default(),
            in_progress: Some(step),
        })
        .unwrap();
}

#[test]
fn a_step_left_in_progress_by_a_dead_process_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("m");
    let state_dir = dir.path().join("state");
    left_by_a_dead_process(&state_dir, None);
    let (loc, _) = build(&state_dir, &marker, Interrupt::default());
    let issues: Vec<String> = loc.restore_issues().iter().map(|i| i.to_string()).collect();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert!(
        issues[0].starts_with("Slow was interrupted while entering On at "),
        "{issues:?}"
    );
    assert!(
        issues[0].ends_with("UTC; the step may have partly run"),
        "{issues:?}"
    );
    assert_eq!(loc.stack("Slow").unwrap(), vec!["Off"]);
    drop(loc);
    let (again, _) = build(&state_dir, &marker, Interrupt::default());
    assert!(again.restore_issues().is_empty(), "reported once");
}

#[test]
fn a_step_whose_command_still_runs_blocks_state_changes_until_it_ends() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("m");
    let state_dir = dir.path().join("state");
    let mut orphan = std::process::Command::new("sleep")
        .arg("30")
        .process_group(0)
        .spawn()
        .unwrap();
    left_by_a_dead_process(&state_dir, Some(orphan.id()));
    let (loc, logs) = build_sleeping(&state_dir, &marker, Interrupt::default(), 0);
    let issue = loc.restore_issues()[0].to_string();
    let group = orphan.id();
    assert!(
        issue.contains(&format!("still runs as process group {group}")),
        "{issue}"
    );
    assert!(issue.contains(&format!("kill -- -{group}")), "{issue}");
    let err = loc
        .state_goto("//Slow/On", &vals(&[]), &opts())
        .unwrap_err();
    assert!(matches!(err, Error::StepStillRunning { .. }), "{err}");
    assert_eq!(err.kind(), "busy");
    assert!(
        saved(&state_dir).in_progress.is_some(),
        "the trace stays while it runs"
    );
    orphan.kill().unwrap();
    orphan.wait().unwrap();
    loc.state_goto("//Slow/On", &vals(&[]), &opts()).unwrap();
    assert!(
        logs.messages(Level::Warning)
            .iter()
            .any(|m| m.contains("Slow was interrupted while entering On")),
        "{:?}",
        logs.records()
    );
    let file = saved(&state_dir);
    assert_eq!(file.in_progress, None);
    assert_eq!(file.stack, vec!["Off", "On"]);
}

#[test]
fn a_second_location_on_the_same_state_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("m");
    let state_dir = dir.path().join("state");
    let (_first, _) = build(&state_dir, &marker, Interrupt::default());
    let second = Location::builder(config("debian:12", Some(&state_dir)))
        .build(vec![parse(&slow(&marker, 0))]);
    let err = second.err().expect("refused");
    assert_eq!(err.kind(), "busy");
    assert!(
        err.to_string().contains(&format!(
            "is in use by another armonic process (pid {})",
            std::process::id()
        )),
        "{err}"
    );
}
