//! `wait` steps: a command tried again until it succeeds, within bounds, so that a state
//! entered means a service that answers.

mod common;

use std::time::{Duration, Instant};

use armonic_lifecycle::{Interrupt, Level, Values};
use common::{location, opts};

/// A counter file in a fresh directory: the command succeeds on its third try.
const WAIT: &str = r#"
name = "W"
initial = "A"
transitions = [["A", "B"]]
[states.A]
[states.B.enter]
requires.probe.variables.dir = { type = "str" }
do = [
    { log = "starting" },
    { wait = "n=$(cat \"$probe_dir/n\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$probe_dir/n\"; echo \"try $n\"; [ $n -ge 3 ] || { echo \"not yet ($n)\" >&2; exit 1; }; echo \"ready=yes\" > \"$ARMONIC_RETURN\"", within = "30s", every = "50ms" },
]
[states.B.provides.never]
do = [{ wait = "echo 'no response' >&2; exit 2", within = "400ms", every = "100ms" }]
[states.B.provides.hangs]
do = [{ wait = "sleep 30", within = "600ms", every = "100ms", timeout = "10s" }]
[states.B.provides.long]
do = [{ wait = "exit 1", within = "1h", every = "10s" }]
"#;

fn entered(h: &common::Harness, dir: &std::path::Path) {
    h.loc
        .state_goto(
            "//W/B",
            &Values::new().set("//probe/dir", dir.display().to_string()),
            &opts(),
        )
        .unwrap();
}

#[test]
fn a_wait_step_tries_its_command_again_until_it_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let h = location(&[WAIT]);
    entered(&h, dir.path());
    assert_eq!(h.current("W"), "B");
    let n = std::fs::read_to_string(dir.path().join("n")).unwrap();
    assert_eq!(n.trim(), "3");
    let events = h.logs.messages(Level::Event);
    assert!(
        events.iter().any(|e| e.contains("succeeded after 3 tries")),
        "{events:?}"
    );
    // The tries' output is a detail: it is logged at debug level, with each failure said.
    let debug = h.logs.messages(Level::Debug);
    assert!(debug.iter().any(|l| l == "not yet (1)"), "{debug:?}");
    assert!(
        debug
            .iter()
            .any(|l| l.starts_with("try 2 failed: `") && l.contains("exited with status 1")),
        "{debug:?}"
    );
    assert!(h.logs.messages(Level::Process).is_empty());
}

/// The error of provide `uri` of a W entered, called with `options`, and how long it took.
fn failure(uri: &str, options: &armonic_lifecycle::CallOptions) -> (String, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let h = location(&[WAIT]);
    entered(&h, dir.path());
    let start = Instant::now();
    let e = h
        .loc
        .provide_call(uri, &Values::new(), options)
        .unwrap_err()
        .to_string();
    (e, start.elapsed())
}

#[test]
fn a_wait_step_that_never_succeeds_fails_with_its_tries_and_the_last_output() {
    let (e, took) = failure("//W//never", &opts());
    assert!(e.contains("did not succeed within 0.4s ("), "{e}");
    assert!(
        e.contains(
            "the last try: `echo 'no response' >&2; exit 2` exited with status 2: no response"
        ),
        "{e}"
    );
    assert!(took < Duration::from_secs(20), "bounded");
}

#[test]
fn a_try_never_runs_past_the_time_the_wait_step_has() {
    let (e, took) = failure("//W//hangs", &opts());
    assert!(e.contains("did not succeed within 0.6s (1 try)"), "{e}");
    assert!(e.contains("timed out"), "{e}");
    // The try was killed at the wait's deadline, not after its own 10 s timeout.
    assert!(took < Duration::from_secs(8), "{took:?}");
}

#[test]
fn an_interrupt_stops_a_wait_step_between_two_tries() {
    let interrupt = Interrupt::new(Duration::from_secs(1));
    let options = armonic_lifecycle::CallOptions {
        interrupt: Some(interrupt.clone()),
        ..opts()
    };
    let stopper = {
        let interrupt = interrupt.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            interrupt.request(None);
        })
    };
    let (e, took) = failure("//W//long", &options);
    stopper.join().unwrap();
    assert!(e.contains("was interrupted"), "{e}");
    assert!(took < Duration::from_secs(8), "{took:?}");
}

#[test]
fn wait_step_bounds_are_checked_when_the_file_loads() {
    let bad = |step: &str| {
        let text = format!(
            "name = \"X\"\ninitial = \"A\"\ntransitions = [[\"A\", \"B\"]]\n[states.A]\n[states.B.enter]\ndo = [{step}]\n"
        );
        armonic_lifecycle::format::parse(&text, std::path::Path::new("x.toml"))
            .unwrap_err()
            .to_string()
    };
    let e = bad(r#"{ wait = "true", within = "1s", every = "5s" }"#);
    assert!(e.contains("'every' is longer than 'within'"), "{e}");
    let e = bad(r#"{ wait = "true", within = "200h" }"#);
    assert!(e.contains("within must be from 1 ms to 7 days"), "{e}");
    let e = bad(r#"{ wait = "true", every = "soon" }"#);
    assert!(
        e.contains("every must be a number of seconds or a duration"),
        "{e}"
    );
    let e = bad(r#"{ run = "true", within = "5s" }"#);
    assert!(
        e.contains("'within' and 'every' belong to 'wait' steps"),
        "{e}"
    );
    let e = bad(r#"{ run = "true", wait = "true" }"#);
    assert!(e.contains("exactly one of 'log', 'run' or 'wait'"), "{e}");
}
