//! What the engine writes as root cannot be steered by another user, and no value can make
//! a step fail late: links, shared directories, temporary files, the environment of commands.

mod common;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::time::{Duration, Instant};

use armonic_lifecycle::{Level, Values};
use common::*;

const SITE: &str = r#"
name = "Web"
initial = "Off"
transitions = [["Off", "Running"]]
[states.Off]
[states.Running.enter.requires.site.variables]
dir = { type = "str" }
[[states.Running.files]]
path = "{{ site.dir }}/site.conf"
template = "server;\n"
mode = "0644"
"#;

fn write_site(dir: &Path) -> Result<(), armonic_lifecycle::Error> {
    let h = location(&[SITE]);
    h.loc.state_goto(
        "//Web/Running",
        &Values::new().set("//site/dir", dir.display().to_string()),
        &opts(),
    )
}

fn mode_of(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// A file of root's that must come out of every test as it went in.
fn victim(dir: &Path) -> std::path::PathBuf {
    let v = dir.join("victim");
    std::fs::write(&v, "precious").unwrap();
    std::fs::set_permissions(&v, std::fs::Permissions::from_mode(0o600)).unwrap();
    v
}

fn untouched(v: &Path) {
    assert_eq!(std::fs::read_to_string(v).unwrap(), "precious");
    assert_eq!(mode_of(v), 0o600);
}

/// Runs `test` as root only (it gives files to another user), else says why it cannot.
fn as_root(test: impl FnOnce()) {
    if rustix::process::geteuid().is_root() {
        test();
    } else if std::env::var_os("ARMONIC_REQUIRE_ALL_TESTS").is_some() {
        panic!("this test needs root to give files to another user");
    } else {
        eprintln!("skipped: this test needs root to give files to another user");
    }
}

#[test]
fn the_files_built_in_refuses_a_link_at_its_target_and_leaves_what_it_points_to() {
    let dir = tempfile::tempdir().unwrap();
    let v = victim(dir.path());
    let www = dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    symlink(&v, www.join("site.conf")).unwrap();
    let e = write_site(&www).unwrap_err();
    assert!(e.to_string().contains("symbolic link"), "{e}");
    untouched(&v);
}

#[test]
fn the_files_built_in_never_writes_through_a_predictable_temporary_name() {
    let dir = tempfile::tempdir().unwrap();
    let v = victim(dir.path());
    let www = dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    // The names a careless writer would use, planted as links to root's file.
    for name in [
        format!(".site.conf.tmp-{}", std::process::id()),
        "site.conf.tmp".into(),
        ".site.conf.tmp".into(),
    ] {
        symlink(&v, www.join(name)).unwrap();
    }
    write_site(&www).unwrap();
    untouched(&v);
    assert_eq!(
        std::fs::read_to_string(www.join("site.conf")).unwrap(),
        "server;\n"
    );
    assert_eq!(mode_of(&www.join("site.conf")), 0o644);
}

#[test]
fn the_files_built_in_does_not_follow_a_link_of_another_user_in_its_path() {
    as_root(|| {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        std::fs::create_dir(&etc).unwrap();
        let www = dir.path().join("www");
        symlink(&etc, &www).unwrap();
        std::os::unix::fs::lchown(&www, Some(65534), Some(65534)).unwrap();
        let e = write_site(&www).unwrap_err();
        assert!(e.to_string().contains("symbolic link of user 65534"), "{e}");
        assert!(!etc.join("site.conf").exists());
        // The same link, root's, is followed.
        std::os::unix::fs::lchown(&www, Some(0), Some(0)).unwrap();
        write_site(&www).unwrap();
        assert!(etc.join("site.conf").exists());
    });
}

const LIFE: &str = r#"
name = "Life"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On]
"#;

fn open_state_dir(dir: &Path) -> Result<Harness, String> {
    let logs = armonic_lifecycle::MemorySink::new();
    armonic_lifecycle::Location::builder(config("debian:12", Some(dir)))
        .sink(std::sync::Arc::new(logs.clone()))
        .build(vec![parse(LIFE)])
        .map(|loc| Harness { loc, logs })
        .map_err(|e| e.to_string())
}

#[test]
fn a_state_directory_others_can_write_is_refused_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let e = open_state_dir(&shared).err().expect("refused");
    assert!(
        e.contains("can be written by other users (mode 1777)"),
        "{e}"
    );
    assert_eq!(
        mode_of(&shared),
        0o1777,
        "a shared directory is never chmod'ed"
    );
    assert_eq!(
        std::fs::read_dir(&shared).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn a_state_directory_below_a_directory_others_can_write_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = open_state_dir(&open.join("state")).err().expect("refused");
    assert!(
        e.contains("can be written by other users (mode 0777)"),
        "{e}"
    );
}

#[test]
fn a_state_directory_of_another_user_is_refused() {
    as_root(|| {
        let dir = tempfile::tempdir().unwrap();
        let theirs = dir.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        let e = open_state_dir(&theirs).err().expect("refused");
        assert!(e.contains("belongs to user 65534, not to root"), "{e}");
    });
}

#[test]
fn a_new_state_directory_is_made_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("a/state");
    let h = open_state_dir(&state).unwrap();
    h.loc
        .state_goto("//Life/On", &Values::new(), &opts())
        .unwrap();
    assert_eq!(mode_of(&state), 0o700);
    assert_eq!(mode_of(&state.join("lifecycles")), 0o700);
    assert_eq!(mode_of(&state.join("lifecycles/Life.json")), 0o600);
    assert_eq!(mode_of(&state.join("lock")), 0o600);
}

#[test]
fn a_link_in_place_of_the_lock_or_a_state_file_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let v = victim(dir.path());
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    symlink(&v, state.join("lock")).unwrap();
    let e = open_state_dir(&state).err().expect("refused");
    assert!(e.contains("lock") || e.contains("symbolic"), "{e}");
    untouched(&v);

    std::fs::remove_file(state.join("lock")).unwrap();
    std::fs::create_dir_all(state.join("lifecycles")).unwrap();
    symlink(&v, state.join("lifecycles/Life.json")).unwrap();
    let h = open_state_dir(&state).unwrap();
    let _ = h.loc.state_goto("//Life/On", &Values::new(), &opts());
    untouched(&v);
}

const RUN: &str = r#"
name = "Run"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.enter.requires.c.variables]
a = { type = "str" }
b = { type = "str" }
c = { type = "str" }
[states.On.enter]
do = [{ run = "ls -ld \"$(dirname \"$ARMONIC_RETURN\")\" | cut -c1-10; stat -c %u \"$ARMONIC_RETURN\"; echo ${#c_a} ${#c_b} ${#c_c} ${#ARMONIC_CONTEXT}; wc -c < \"$ARMONIC_CONTEXT_FILE\"" }]
"#;

fn run_with(a: &str, b: &str, c: &str) -> (Result<(), armonic_lifecycle::Error>, Harness) {
    let h = location(&[RUN]);
    let r = h.loc.state_goto(
        "//Run/On",
        &Values::new()
            .set("//c/a", a)
            .set("//c/b", b)
            .set("//c/c", c),
        &opts(),
    );
    (r, h)
}

#[test]
fn a_command_returns_values_through_a_file_in_a_directory_only_the_agent_can_use() {
    let (r, h) = run_with("/dev/null", "b", "c");
    r.unwrap();
    let out = h.logs.messages(Level::Process);
    assert_eq!(out[0], "drwx------", "{out:?}");
    assert_eq!(out[1], rustix::process::geteuid().as_raw().to_string());
}

#[test]
fn three_values_of_60_kb_reach_the_command_and_the_context_goes_to_a_file() {
    let big = "x".repeat(60_000);
    let (r, h) = run_with(&format!("/dev/null{big}"), &big, &big);
    r.unwrap();
    let out = h.logs.messages(Level::Process);
    // The context (more than 180 KB) is not inline: its file holds it.
    assert_eq!(out[2], "60009 60000 60000 0", "{out:?}");
    let file_size: usize = out[3].trim().parse().unwrap();
    assert!(file_size > 180_000, "{file_size}");
}

#[test]
fn a_nul_character_in_a_value_fails_validation_naming_the_variable() {
    let (r, h) = run_with("/dev/null", "b\0c", "c");
    let e = r.unwrap_err().to_string();
    assert!(e.contains("b contains a NUL character"), "{e}");
    assert!(h.logs.messages(Level::Process).is_empty(), "nothing ran");
}

#[test]
fn values_too_large_together_for_the_environment_fail_validation_before_anything_runs() {
    const MANY: &str = r#"
name = "Many"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.enter.requires.m]
nargs = "*"
[states.On.enter.requires.m.variables]
v = { type = "str" }
[states.On.enter]
do = [{ run = "echo ran" }]
"#;
    let h = location(&[MANY]);
    let mut values = Values::new();
    for i in 0..20 {
        values = values.set_at("//m/v", i, "y".repeat(60_000));
    }
    let e = h
        .loc
        .state_goto("//Many/On", &values, &opts())
        .unwrap_err()
        .to_string();
    assert!(e.contains("too large together"), "{e}");
    assert!(h.logs.messages(Level::Process).is_empty(), "nothing ran");
}

#[test]
fn a_step_ends_with_its_command_even_when_a_background_process_holds_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("still-alive");
    // The background process writes on the step's output after the step ended: it must
    // not die of it (SIGPIPE).
    let bg = format!(
        r#"
name = "Bg"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.enter]
do = [{{ run = "(sleep 3; echo late; touch {}; sleep 5) & echo started", timeout = "5m" }}]
"#,
        mark.display()
    );
    let h = location(&[&bg]);
    let t = Instant::now();
    h.loc
        .state_goto("//Bg/On", &Values::new(), &opts())
        .unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(60),
        "the step waited for the background process ({:?})",
        t.elapsed()
    );
    assert_eq!(h.logs.messages(Level::Process), ["started"]);
    let warnings = h.logs.messages(Level::Warning);
    assert!(
        warnings.iter().any(|w| w.contains("the step ends now")),
        "{warnings:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !mark.exists() {
        assert!(
            Instant::now() < deadline,
            "the background process died when it wrote after the step"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
