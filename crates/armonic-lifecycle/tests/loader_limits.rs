//! What the loader refuses: numbers beyond their bounds, files too large or not files, and
//! how a directory holding such files still loads the others.

mod common;

use std::path::Path;

use armonic_lifecycle::format::{self, MAX_FILE_BYTES};
use armonic_lifecycle::{LoadError, Nargs, Values, load_dirs};
use common::location;

/// Two states `a` → `b`; `b`'s table is last, so `extra` lines are keys of `[states.b]`.
const TWO: &str =
    "name = \"X\"\ninitial = \"a\"\ntransitions = [[\"a\", \"b\"]]\n[states.a]\n[states.b]\n";

fn with(extra: &str) -> String {
    format!("{TWO}{extra}\n")
}

fn refused(text: &str) -> LoadError {
    match format::parse(text, Path::new("limits.toml")) {
        Ok(_) => panic!("loaded, should be refused:\n{text}"),
        Err(e) => e,
    }
}

/// The error is on line 6 (the first line after `TWO`), with a column, and says `message`.
fn assert_refused_on_line_6(text: &str, message: &str) {
    let e = refused(text);
    assert_eq!(e.line, Some(6), "{e}");
    assert!(e.column.is_some(), "{e}");
    assert!(e.message.contains(message), "{e}\nwanted: {message}");
    assert!(e.to_string().starts_with("limits.toml:6:"), "{e}");
}

#[test]
fn timeouts_that_are_huge_or_not_finite_are_refused_where_written() {
    let huge = format!("\"{}s\"", "9".repeat(400));
    for timeout in [
        "1e300",
        "inf",
        "nan",
        "9223372036854775807",
        "604801",
        huge.as_str(),
        "\"169h\"",
    ] {
        assert_refused_on_line_6(
            &with(&format!(
                "enter.do = [{{ run = \"true\", timeout = {timeout} }}]"
            )),
            "timeout must be from 1 ms to 7 days (604800 seconds)",
        );
    }
    for timeout in ["0", "-1", "1e-9", "\"0.5us\"", "\"1e3s\"", "true"] {
        let e = refused(&with(&format!(
            "enter.do = [{{ run = \"true\", timeout = {timeout} }}]"
        )));
        assert!(e.message.starts_with("timeout must be"), "{timeout}: {e}");
    }
}

#[test]
fn a_timeout_of_seven_days_or_one_millisecond_loads() {
    for timeout in ["604800", "\"168h\"", "\"1ms\"", "0.001", "\"90s\""] {
        format::parse(
            &with(&format!(
                "enter.do = [{{ run = \"true\", timeout = {timeout} }}]"
            )),
            Path::new("limits.toml"),
        )
        .unwrap_or_else(|e| panic!("{timeout}: {e}"));
    }
}

#[test]
fn nargs_above_1000_is_refused_where_written() {
    for nargs in [
        "\"200000000\"",
        "200000000",
        "\"1001\"",
        "\"99999999999999999999\"",
    ] {
        let e = refused(&with(&format!(
            "[states.b.enter.requires.r]\nnargs = {nargs}\nvariables.v = {{ default = 1 }}"
        )));
        assert_eq!(e.line, Some(6), "{e}");
        assert!(
            e.message
                .starts_with("nargs must be at most 1000 (instead of "),
            "{e}"
        );
    }
}

#[test]
fn nargs_read_from_the_wire_is_bounded_alike() {
    let e = serde_json::from_str::<Nargs>("\"200000000\"").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("nargs must be at most 1000 (instead of 200000000)"),
        "{e}"
    );
    assert_eq!(
        serde_json::from_str::<Nargs>("1000").unwrap(),
        Nargs::Exactly(1000)
    );
}

#[test]
fn a_require_holds_at_most_10000_values_and_such_a_require_lists_quickly() {
    let require = |variables: usize| -> String {
        let mut text = with("[states.b.provides.p.requires.r]\nnargs = \"1000\"");
        for i in 0..variables {
            text.push_str(&format!(
                "[states.b.provides.p.requires.r.variables.v{i}]\ndefault = {i}\n"
            ));
        }
        text
    };
    let e = refused(&require(11));
    assert_eq!(
        e.message,
        "require 'r' holds too many values: nargs 1000 times 11 variables is 11000, at most 10000"
    );
    let h = location(&[&require(10)]);
    let provides = h.loc.provide("//X//p").unwrap();
    assert_eq!(provides[0].requires[0].variables.len(), 1000);
    let validation = h
        .loc
        .provide_call_validate("//X//p", &Values::new(), 0)
        .unwrap();
    assert!(!validation.errors);
}

#[test]
fn variable_bounds_are_finite_ordered_and_within_2_pow_53() {
    for (rule, message) in [
        (
            "min = nan",
            "'min' must be a number from -9007199254740992 to 9007199254740992",
        ),
        ("max = inf", "'max' must be a number from"),
        ("min = -inf", "'min' must be a number from"),
        ("max = 1e300", "'max' must be a number from"),
        ("min = 9007199254740993", "'min' must be a number from"),
        ("min = 5, max = 4", "'min' is above 'max'"),
    ] {
        assert_refused_on_line_6(
            &with(&format!(
                "enter.requires.r.variables.v = {{ type = \"int\", {rule} }}"
            )),
            message,
        );
    }
    format::parse(
        &with("enter.requires.r.variables.v = { type = \"int\", min = -9007199254740992, max = 9007199254740992.0 }"),
        Path::new("limits.toml"),
    )
    .unwrap();
}

#[test]
fn length_rules_are_at_most_the_largest_value_and_ordered() {
    for (rule, message) in [
        (
            "min_length = 9223372036854775807",
            "'min_length' must be at most 65536",
        ),
        ("max_length = 65537", "'max_length' must be at most 65536"),
        (
            "min_length = 3, max_length = 2",
            "'min_length' is above 'max_length'",
        ),
        ("min_length = -1", "invalid value: integer `-1`"),
    ] {
        assert_refused_on_line_6(
            &with(&format!("enter.requires.r.variables.v = {{ {rule} }}")),
            message,
        );
    }
}

#[test]
fn file_modes_are_octal_digits_up_to_7777() {
    for mode in [
        "+644",
        "-644",
        "77777777777",
        "10000",
        "0o0o644",
        "",
        "0x1ff",
    ] {
        assert_refused_on_line_6(
            &with(&format!(
                "files = [{{ path = \"/tmp/x\", template = \"\", mode = \"{mode}\" }}]"
            )),
            &format!("mode '{mode}' is not an octal permission"),
        );
    }
}

#[test]
fn numbers_that_are_not_finite_are_refused_anywhere_in_a_file() {
    for (line, message) in [
        (
            "enter.requires.r.variables.v = { type = \"float\", default = nan }",
            "default: NaN is not a number",
        ),
        (
            "enter.requires.r.variables.v = { type = \"float\", choices = [1.0, inf] }",
            "choices: inf is not a number",
        ),
        (
            "enter.requires.r.variables.v = { extra.deep = [[-inf]] }",
            "extra.deep: -inf is not a number",
        ),
        (
            "enter.requires.r.extra = { x = nan }",
            "extra.x: NaN is not a number",
        ),
        (
            "provides.p.flags = { reload = inf }",
            "flags.reload: inf is not a number",
        ),
        (
            "provides.p.return = { x = { y = nan } }",
            "return: NaN is not a number",
        ),
        (
            "provides.p.extra = { x = nan }",
            "extra.x: NaN is not a number",
        ),
    ] {
        assert_refused_on_line_6(&with(line), message);
    }
}

#[test]
fn patterns_that_compile_too_large_are_refused() {
    assert_refused_on_line_6(
        &with(r#"enter.requires.r.variables.v = { pattern = '\w{200}' }"#),
        "pattern is not a valid regular expression",
    );
    format::parse(
        &with(r#"enter.requires.r.variables.v = { pattern = '[a-z0-9_-]{1,64}$' }"#),
        Path::new("limits.toml"),
    )
    .unwrap();
}

#[test]
fn a_lifecycle_file_larger_than_4_mib_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.toml");
    let mut text = TWO.to_owned();
    text.push_str(&format!(
        "doc = \"{}\"\n",
        "x".repeat(MAX_FILE_BYTES as usize)
    ));
    std::fs::write(&file, text).unwrap();
    let e = format::load_file(&file).unwrap_err();
    assert!(
        e.message
            .starts_with("cannot read file: file is too large: "),
        "{e}"
    );
}

#[test]
fn a_template_source_that_is_not_a_regular_file_is_refused_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    for source in [fifo.to_str().unwrap(), "/dev/zero", "/"] {
        let file = dir.path().join("x.toml");
        std::fs::write(
            &file,
            with(&format!(
                "files = [{{ path = \"/tmp/x\", source = \"{source}\" }}]"
            )),
        )
        .unwrap();
        let e = format::load_file(&file).unwrap_err();
        assert_eq!(e.line, Some(6), "{e}");
        assert!(
            e.message
                .starts_with(&format!("cannot read template {source}")),
            "{e}"
        );
    }
}

#[test]
fn a_directory_loads_its_good_files_and_lists_every_refused_one_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    let step = |timeout: &str| {
        format!(
            "name = \"X\"\ninitial = \"a\"\ntransitions = [[\"a\", \"b\"]]\n[states.a]\n[states.b]\nenter.do = [{{ run = \"true\", timeout = {timeout} }}]\n"
        )
    };
    write("1-float.toml", &step("1e300"));
    write("2-string.toml", &step(&format!("\"{}h\"", "9".repeat(400))));
    write("3-integer.toml", &step("9223372036854775807"));
    write(
        "4-nargs.toml",
        &with("[states.b.enter.requires.r]\nnargs = \"200000000\"\nvariables.v = { default = 1 }"),
    );
    write("5-good.toml", TWO);
    write(
        "6-big.toml",
        &format!("{TWO}doc = \"{}\"\n", "x".repeat(MAX_FILE_BYTES as usize)),
    );
    write("7-also-good.toml", &TWO.replace("\"X\"", "\"Y\""));
    let catalog = load_dirs(&[dir.path()]);
    let names: Vec<&str> = catalog.lifecycles.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["X", "Y"]);
    let errors: Vec<String> = catalog
        .errors
        .iter()
        .map(|e| {
            let file = e.file.file_name().unwrap().to_string_lossy();
            let place = e.line.zip(e.column).map(|(l, c)| format!(":{l}:{c}"));
            format!("{file}{}: {}", place.unwrap_or_default(), e.message)
        })
        .collect();
    let timeout = "timeout must be from 1 ms to 7 days (604800 seconds)";
    assert_eq!(
        errors,
        [
            format!("1-float.toml:6:13: {timeout}"),
            format!("2-string.toml:6:13: {timeout}"),
            format!("3-integer.toml:6:13: {timeout}"),
            "4-nargs.toml:6:1: nargs must be at most 1000 (instead of 200000000)".to_owned(),
            format!(
                "6-big.toml: cannot read file: file is too large: {} bytes, at most {MAX_FILE_BYTES}",
                MAX_FILE_BYTES + TWO.len() as u64 + 9
            ),
        ]
    );
}
