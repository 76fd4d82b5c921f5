//! The `files` built-in writes where its rendered path points, and nowhere else.

mod common;

use std::sync::Arc;

use armonic_lifecycle::Values;
use common::*;

const SITE: &str = r#"
name = "Web"
initial = "Off"
transitions = [["Off", "Running"]]
[states.Off]
[states.Running.enter.requires.site.variables]
name = { type = "str" }
[[states.Running.files]]
path = "{{ site.name }}/site.conf"
template = "server {{ site.name }};\n"
"#;

fn enter(name: &str) -> Result<(), armonic_lifecycle::Error> {
    let h = with_runner(&[SITE], Arc::new(RecordingRunner::default()));
    h.loc.state_goto(
        "//Web/Running",
        &Values::new().set("//site/name", name),
        &opts(),
    )
}

#[test]
fn a_rendered_path_climbing_out_with_dot_dot_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let inner = dir.path().join("www");
    std::fs::create_dir(&inner).unwrap();
    let e = enter(&format!("{}/..", inner.display())).unwrap_err();
    assert!(e.to_string().contains("'..'"), "{e}");
    assert!(!dir.path().join("site.conf").exists());
}

#[test]
fn a_rendered_path_that_is_not_absolute_is_refused() {
    let e = enter("relative").unwrap_err();
    assert!(e.to_string().contains("not absolute"), "{e}");
}

#[test]
fn an_absolute_path_without_dot_dot_is_written() {
    let dir = tempfile::tempdir().unwrap();
    enter(&dir.path().display().to_string()).unwrap();
    assert!(dir.path().join("site.conf").exists());
}
