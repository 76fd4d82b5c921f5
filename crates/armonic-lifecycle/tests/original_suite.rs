//! The original armonic test suite (52 tests), ported to lifecycle files and the Rust API.
//! Each test names the original it comes from; where the original checked a Python artefact,
//! the port checks the behaviour the artefact stood for.

mod common;

use armonic_lifecycle::paths::Move;
use armonic_lifecycle::{Error, Value, Values};
use common::*;

// ---- lfm_save_load_state_tests.py ----------------------------------------------------------

const LFM_STATE_LOAD: &str = r#"
name = "LFMStateLoad"
initial = "StateA"
transitions = [["StateA", "StateB"], ["StateB", "StateC"], ["StateC", "StateE"]]
[states.StateA]
[states.StateB.enter.requires.bar.variables]
foo = { type = "str" }
[states.StateC]
[states.StateD.enter.requires.foo.variables]
bar = { type = "str" }
[states.StateE]
implementations = ["StateD"]
"#;

#[test]
fn save_load_restores_the_current_state_in_a_new_location() {
    let dir = tempfile::tempdir().unwrap();
    {
        let h = with_config(&[LFM_STATE_LOAD], config("debian", Some(dir.path())));
        h.loc
            .state_goto(
                "//LFMStateLoad/StateC",
                &vals(&[("//LFMStateLoad//bar/foo", "test")]),
                &opts(),
            )
            .unwrap();
    }
    let h = with_config(&[LFM_STATE_LOAD], config("debian", Some(dir.path())));
    assert_eq!(h.current("LFMStateLoad"), "StateC");
    assert!(h.loc.restore_issues().is_empty());
}

#[test]
fn save_load_restores_state_implementations_by_their_meta_name() {
    let dir = tempfile::tempdir().unwrap();
    {
        let h = with_config(&[LFM_STATE_LOAD], config("debian", Some(dir.path())));
        let v = vals(&[
            ("//LFMStateLoad//bar/foo", "test1"),
            ("//LFMStateLoad//foo/bar", "test2"),
        ]);
        h.loc
            .state_goto("//LFMStateLoad/StateE", &v, &opts())
            .unwrap();
    }
    let h = with_config(&[LFM_STATE_LOAD], config("debian", Some(dir.path())));
    assert_eq!(h.current("LFMStateLoad"), "StateE");
    assert_eq!(
        h.loc.stack("LFMStateLoad").unwrap(),
        ["StateA", "StateB", "StateC", "StateE.StateD", "StateE"]
    );
}

// ---- metastate_tests.py --------------------------------------------------------------------

#[test]
fn implementations_of_two_meta_states_are_distinct_addressable_states() {
    let h = location(&[r#"
name = "TestLifecycle"
initial = "a"
transitions = [["a", "m1"], ["a", "m2"]]
[states.a]
[states.b.provides.p]
return = "{{ state }}"
[states.c.provides.p]
return = "{{ state }}"
[states.m1]
implementations = ["b", "c"]
[states.m2]
implementations = ["b", "c"]
"#]);
    let p1 = h.loc.uri("//TestLifecycle/m1.b/p", false, None).unwrap();
    let p2 = h.loc.uri("//TestLifecycle/m2.b/p", false, None).unwrap();
    assert_eq!(p1, ["/vm/TestLifecycle/m1.b/p"]);
    assert_eq!(p2, ["/vm/TestLifecycle/m2.b/p"]);
    let r = h
        .loc
        .provide_call("//TestLifecycle/m2.b/p", &Values::new(), &opts())
        .unwrap();
    assert_eq!(r, Some(Value::from("m2.b")));
}

// ---- provide_call_tests.py -----------------------------------------------------------------

const PROVIDE_CALL: &str = r#"
name = "ProvideCallLF"
initial = "StateA"
transitions = [["StateA", "StateB"], ["StateB", "StateC"]]
[states.StateA]
[states.StateB.enter.requires.bar.variables]
foo = { type = "str" }
[states.StateB.provides.provide1]
return = [1, 2]
[states.StateB.provides.provide1.requires.foo1.variables]
bar = { type = "str" }
[states.StateB.provides.provide_error]
do = [{ run = "echo 'some error' >&2; exit 1" }]
[states.StateC.enter]
do = [{ run = "echo \"'NoneType' object has no attribute 'bar'\" >&2; exit 1" }]
"#;

#[test]
fn provide_call_with_a_missing_provide_value_is_a_validation_error() {
    let h = location(&[PROVIDE_CALL]);
    let e = h
        .loc
        .provide_call(
            "//ProvideCallLF//provide1",
            &vals(&[("//ProvideCallLF//bar/foo", "test1")]),
            &opts(),
        )
        .unwrap_err();
    let Error::Validation(errors) = &e else {
        panic!("{e}")
    };
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].xpath,
        "/vm/ProvideCallLF/StateB/provide1/foo1/bar"
    );
    assert_eq!(errors[0].message, "bar is required");
    assert!(
        e.to_string()
            .starts_with("provided values do not meet the requires")
    );
    assert_eq!(
        h.current("ProvideCallLF"),
        "StateA",
        "nothing changes before values validate"
    );
}

#[test]
fn provide_call_with_a_missing_enter_value_is_a_validation_error() {
    let h = location(&[PROVIDE_CALL]);
    let e = h
        .loc
        .provide_call(
            "//ProvideCallLF//provide1",
            &vals(&[("//ProvideCallLF//foo1/bar", "test1")]),
            &opts(),
        )
        .unwrap_err();
    let Error::Validation(errors) = &e else {
        panic!("{e}")
    };
    assert_eq!(errors[0].xpath, "/vm/ProvideCallLF/StateB/enter/bar/foo");
    assert_eq!(errors[0].message, "foo is required");
}

#[test]
fn provide_call_with_valid_values_returns_the_provides_value() {
    let h = location(&[PROVIDE_CALL]);
    let v = vals(&[
        ("//ProvideCallLF//bar/foo", "test1"),
        ("//ProvideCallLF//foo1/bar", "test1"),
    ]);
    assert_eq!(
        h.loc
            .provide_call("//ProvideCallLF//provide1", &v, &opts())
            .unwrap(),
        Some(Value::from(vec![1i64, 2]))
    );
}

#[test]
fn provide_call_wraps_a_failing_action_in_a_provide_error() {
    let h = location(&[PROVIDE_CALL]);
    let e = h
        .loc
        .provide_call(
            "//ProvideCallLF//provide_error",
            &vals(&[("//ProvideCallLF//bar/foo", "test1")]),
            &opts(),
        )
        .unwrap_err();
    assert!(matches!(e, Error::Provide { .. }), "{e}");
    assert!(e.to_string().contains("some error"), "{e}");
}

#[test]
fn state_goto_reports_the_state_whose_enter_failed_and_keeps_the_states_before_it() {
    let h = location(&[PROVIDE_CALL]);
    let e = h
        .loc
        .state_goto(
            "//ProvideCallLF/StateC",
            &vals(&[("//ProvideCallLF//bar/foo", "test1")]),
            &opts(),
        )
        .unwrap_err();
    let Error::Enter { state, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(state, "StateC");
    assert!(e.to_string().contains("object has no attribute"), "{e}");
    assert_eq!(h.loc.stack("ProvideCallLF").unwrap(), ["StateA", "StateB"]);
}

#[test]
fn provide_values_do_not_outlive_a_call() {
    let h = location(&[PROVIDE_CALL]);
    h.loc
        .state_goto("//ProvideCallLF/StateA", &Values::new(), &opts())
        .unwrap();
    let v = vals(&[
        ("//ProvideCallLF//bar/foo", "test1"),
        ("//ProvideCallLF//foo1/bar", "test1"),
    ]);
    assert!(
        h.loc
            .provide_call("//ProvideCallLF//provide1", &v, &opts())
            .is_ok()
    );
    // A second call starts from the defaults again: the earlier values are not reused.
    let e = h
        .loc
        .provide_call("//ProvideCallLF//provide1", &Values::new(), &opts())
        .unwrap_err();
    assert!(
        matches!(e, Error::Validation(ref errs) if errs[0].message == "bar is required"),
        "{e}"
    );
}

// ---- provide_flags_tests.py ----------------------------------------------------------------

const PROVIDE_FLAGS: &str = r#"
name = "ProvideFlagsLF"
initial = "StateA"
transitions = [["StateA", "StateB"], ["StateB", "StateC"]]
[states.StateA]
cross.do = [{ log = "A crossed" }]
[states.StateA.provides.provide_flag]
flags = { reload = true }
return = true
[states.StateA.provides.provide_flag2]
flags = { reload = true, foo = "bar" }
return = false
[states.StateA.provides.provide_noflag]
return = 12
[states.StateB]
cross.do = [{ log = "B reload={{ flags.reload | default(false) }}" }]
[states.StateC]
"#;

#[test]
fn provide_flags_reach_the_cross_of_its_state_and_the_states_above() {
    let h = location(&[PROVIDE_FLAGS]);
    h.loc
        .state_goto("//ProvideFlagsLF/StateB", &Values::new(), &opts())
        .unwrap();
    assert_eq!(h.current("ProvideFlagsLF"), "StateB");
    let r = h
        .loc
        .provide_call(
            "//ProvideFlagsLF/StateA/provide_flag",
            &Values::new(),
            &opts(),
        )
        .unwrap();
    assert_eq!(r, Some(Value::Bool(true)));
    assert_eq!(h.info_lines(), ["A crossed", "B reload=True"]);
}

#[test]
fn cross_accepts_flags_it_does_not_use() {
    let h = location(&[PROVIDE_FLAGS]);
    h.loc
        .state_goto("//ProvideFlagsLF/StateB", &Values::new(), &opts())
        .unwrap();
    let r = h
        .loc
        .provide_call(
            "//ProvideFlagsLF/StateA/provide_flag2",
            &Values::new(),
            &opts(),
        )
        .unwrap();
    assert_eq!(r, Some(Value::Bool(false)));
    assert_eq!(h.info_lines(), ["A crossed", "B reload=True"]);
}

#[test]
fn cross_runs_without_flags_when_the_provide_has_none() {
    let h = location(&[PROVIDE_FLAGS]);
    h.loc
        .state_goto("//ProvideFlagsLF/StateC", &Values::new(), &opts())
        .unwrap();
    let r = h
        .loc
        .provide_call(
            "//ProvideFlagsLF/StateA/provide_noflag",
            &Values::new(),
            &opts(),
        )
        .unwrap();
    assert_eq!(r, Some(Value::Int(12)));
    assert_eq!(h.info_lines(), ["A crossed", "B reload=False"]);
}

// ---- provide_stack_tests.py ----------------------------------------------------------------

#[test]
fn enter_provide_keeps_its_flags_and_requires_with_defaults() {
    let h = location(&[r#"
name = "Stack"
initial = "Init"
transitions = [["Init", "StateA"]]
[states.Init]
[states.StateA.enter]
flags = { reload = true, restart = false, foo = "bar" }
return = true
[states.StateA.enter.requires.bar.variables]
foo = { type = "str" }
[states.StateA.enter.requires.foo.variables]
bar = { type = "str", default = "bar" }
"#]);
    let s = &h.loc.state("//Stack/StateA").unwrap()[0];
    assert_eq!(s.enter.name, "enter");
    let flags: Vec<(&str, &Value)> = s.enter.flags.iter().map(|(k, v)| (k.as_str(), v)).collect();
    assert_eq!(
        flags,
        [
            ("reload", &Value::Bool(true)),
            ("restart", &Value::Bool(false)),
            ("foo", &Value::from("bar"))
        ]
    );
    assert_eq!(
        s.enter
            .require("bar")
            .unwrap()
            .variable("foo", 0)
            .unwrap()
            .value,
        None
    );
    assert_eq!(
        s.enter
            .require("foo")
            .unwrap()
            .variable("bar", 0)
            .unwrap()
            .value,
        Some(Value::from("bar"))
    );
}

// ---- provide_validation_tests.py -----------------------------------------------------------

const VALIDATION: &str = r#"
name = "ProvideValidationLF"
initial = "StateA"
transitions = [["StateA", "StateB"]]
[states.StateA]
[states.StateB.enter.requires.bar.variables]
foo = { type = "str" }
[states.StateB.provides.provide]
[states.StateB.provides.provide1.requires.foo1.variables]
bar = { type = "str" }
[states.StateB.provides.provide2.requires.foo2.variables]
bar1 = { type = "str" }
bar2 = { type = "str" }
[states.StateB.provides.provide3.requires.foo3.variables]
bar1 = { type = "str" }
[states.StateB.provides.provide3.requires.bar3.variables]
foo1 = { type = "str" }
[states.StateB.provides.provide4.requires.foo4.variables]
host4 = { type = "hostname" }
[states.StateB.provides.provide5.requires.foo5]
nargs = "*"
variables.bar5 = { type = "str" }
[states.StateB.provides.provide6.requires.foo6]
nargs = "2"
variables.bar6 = { type = "str" }
[states.StateB.provides.provide7.requires.foo7]
nargs = "?"
variables.bar7 = { type = "str" }
"#;

const P: &str = "//ProvideValidationLF";

fn validate(values: Values, provide: &str) -> armonic_lifecycle::Validation {
    try_validate(values, provide).unwrap()
}

fn try_validate(values: Values, provide: &str) -> Result<armonic_lifecycle::Validation, Error> {
    let h = location(&[VALIDATION]);
    h.loc
        .provide_call_validate(&format!("{P}//{provide}"), &values, 0)
}

fn error_of(
    v: &armonic_lifecycle::Validation,
    provide: &str,
    require: &str,
    var: &str,
) -> Option<String> {
    v.provide(provide)
        .unwrap()
        .require(require)
        .unwrap()
        .variable(var, 0)
        .unwrap()
        .error
        .clone()
}

fn bar_foo() -> Values {
    Values::new().set(format!("{P}//bar/foo"), "test1")
}

#[test]
fn validate_a_provide_without_requires() {
    assert!(!validate(bar_foo(), "provide").errors);
}

#[test]
fn validate_reports_a_missing_provide_value() {
    let v = validate(bar_foo(), "provide1");
    assert!(v.errors);
    assert_eq!(error_of(&v, "enter", "bar", "foo"), None);
    assert_eq!(
        error_of(&v, "provide1", "foo1", "bar").as_deref(),
        Some("bar is required")
    );
}

#[test]
fn validate_reports_a_missing_enter_value() {
    let v = validate(
        Values::new().set(format!("{P}//foo1/bar"), "test1"),
        "provide1",
    );
    assert!(v.errors);
    assert_eq!(
        error_of(&v, "enter", "bar", "foo").as_deref(),
        Some("foo is required")
    );
    assert_eq!(error_of(&v, "provide1", "foo1", "bar"), None);
}

#[test]
fn validate_accepts_complete_values() {
    let v = validate(bar_foo().set(format!("{P}//foo1/bar"), "test1"), "provide1");
    assert!(!v.errors);
    assert_eq!(error_of(&v, "enter", "bar", "foo"), None);
    assert_eq!(error_of(&v, "provide1", "foo1", "bar"), None);
}

#[test]
fn validate_checks_every_variable_of_a_require() {
    let v = validate(bar_foo().set(format!("{P}//foo2/bar1"), "x"), "provide2");
    assert_eq!(
        error_of(&v, "provide2", "foo2", "bar2").as_deref(),
        Some("bar2 is required")
    );
    let v = validate(bar_foo().set(format!("{P}//foo2/bar2"), "x"), "provide2");
    assert_eq!(
        error_of(&v, "provide2", "foo2", "bar1").as_deref(),
        Some("bar1 is required")
    );
    let v = validate(
        bar_foo()
            .set(format!("{P}//foo2/bar1"), "x")
            .set(format!("{P}//foo2/bar2"), "y"),
        "provide2",
    );
    assert!(!v.errors);
}

#[test]
fn validate_checks_every_require_of_a_provide() {
    let v = validate(bar_foo().set(format!("{P}//foo3/bar1"), "x"), "provide3");
    assert_eq!(
        error_of(&v, "provide3", "bar3", "foo1").as_deref(),
        Some("foo1 is required")
    );
    let v = validate(
        bar_foo()
            .set(format!("{P}//foo3/bar1"), "x")
            .set(format!("{P}//bar3/foo1"), "test2"),
        "provide3",
    );
    assert!(!v.errors);
}

#[test]
fn validate_applies_a_variable_types_own_rules() {
    let v = validate(bar_foo().set(format!("{P}//foo4/host4"), "44"), "provide4");
    assert!(v.errors);
    assert!(
        error_of(&v, "provide4", "foo4", "host4")
            .unwrap()
            .contains("Incorrect Hostname")
    );
    let v = validate(
        bar_foo().set(format!("{P}//foo4/host4"), "myhost33"),
        "provide4",
    );
    assert!(!v.errors);
}

#[test]
fn validate_unlimited_nargs_takes_any_number_of_sets() {
    let two = bar_foo()
        .set_at(format!("{P}//foo5/bar5"), 0, "test1")
        .set_at(format!("{P}//foo5/bar5"), 1, "test2");
    assert!(!validate(two, "provide5").errors);
    assert!(
        !validate(
            bar_foo().set(format!("{P}//foo5/bar5"), "test1"),
            "provide5"
        )
        .errors
    );
    assert!(!validate(bar_foo(), "provide5").errors);
}

#[test]
fn validate_fixed_nargs_needs_every_set_and_refuses_extra_indexes() {
    let k = format!("{P}//foo6/bar6");
    assert!(validate(bar_foo(), "provide6").errors);
    assert!(validate(bar_foo().set(&k, "test1"), "provide6").errors);
    assert!(!validate(bar_foo().set_at(&k, 0, "a").set_at(&k, 1, "b"), "provide6").errors);
    // The original ignored index 2 with a warning; here it is an error.
    let e = try_validate(
        bar_foo()
            .set_at(&k, 0, "a")
            .set_at(&k, 1, "b")
            .set_at(&k, 2, "c"),
        "provide6",
    )
    .unwrap_err();
    assert!(matches!(e, Error::ValueIndex { index: 2, .. }), "{e}");
}

#[test]
fn validate_zero_or_one_nargs_takes_at_most_one_set() {
    let k = format!("{P}//foo7/bar7");
    assert!(!validate(bar_foo(), "provide7").errors);
    assert!(!validate(bar_foo().set(&k, "test1"), "provide7").errors);
    let e = try_validate(bar_foo().set_at(&k, 0, "a").set_at(&k, 1, "b"), "provide7").unwrap_err();
    assert!(matches!(e, Error::ValueIndex { index: 1, .. }), "{e}");
}

// ---- require_fill_tests.py -----------------------------------------------------------------

const REQUIRE_FILL: &str = r#"
name = "RequireFillFL"
initial = "StateA"
transitions = [["StateA", "StateB"]]
[states.StateA.provides.provide1.requires.require1.variables]
bar1 = { type = "str" }
bar2 = { type = "str" }
[states.StateA.provides.provide2.requires.require22.variables]
bar221 = { type = "str" }
bar222 = { type = "str" }
[states.StateA.provides.provide2.requires.require21.variables]
bar211 = { type = "str" }
bar212 = { type = "str" }
[states.StateA.provides.provide3.requires.require3]
nargs = "*"
variables.bar3 = { type = "str" }
[states.StateB]
"#;

fn values_of(
    v: &armonic_lifecycle::Validation,
    provide: &str,
) -> Vec<(String, Vec<Option<Value>>)> {
    let p = v.provide(provide).unwrap();
    let mut out = Vec::new();
    for r in &p.requires {
        for (i, skel) in r.variables_skel.iter().enumerate() {
            out.push((
                skel.xpath.clone(),
                r.variables.iter().map(|set| set[i].value.clone()).collect(),
            ));
        }
    }
    out
}

#[test]
fn fill_a_simple_require() {
    let h = location(&[REQUIRE_FILL]);
    let v = vals(&[
        ("//RequireFillFL//require1/bar1", "test1"),
        ("//RequireFillFL//require1/bar2", "test2"),
    ]);
    let r = h
        .loc
        .provide_call_validate("//RequireFillFL//provide1", &v, 0)
        .unwrap();
    assert_eq!(
        values_of(&r, "provide1"),
        [
            (
                "/vm/RequireFillFL/StateA/provide1/require1/bar1".to_owned(),
                vec![Some(Value::from("test1"))]
            ),
            (
                "/vm/RequireFillFL/StateA/provide1/require1/bar2".to_owned(),
                vec![Some(Value::from("test2"))]
            ),
        ]
    );
}

#[test]
fn fill_several_requires_of_one_provide_in_declaration_order() {
    let h = location(&[REQUIRE_FILL]);
    let v = vals(&[
        ("//RequireFillFL//require21/bar211", "test1"),
        ("//RequireFillFL//require22/bar221", "test2"),
    ]);
    let r = h
        .loc
        .provide_call_validate("//RequireFillFL//provide2", &v, 0)
        .unwrap();
    let base = "/vm/RequireFillFL/StateA/provide2";
    assert_eq!(
        values_of(&r, "provide2"),
        [
            (
                format!("{base}/require22/bar221"),
                vec![Some(Value::from("test2"))]
            ),
            (format!("{base}/require22/bar222"), vec![None]),
            (
                format!("{base}/require21/bar211"),
                vec![Some(Value::from("test1"))]
            ),
            (format!("{base}/require21/bar212"), vec![None]),
        ]
    );
    // Every call starts afresh: the values above are not remembered.
    let v = vals(&[
        ("//RequireFillFL//require21/bar212", "test11"),
        ("//RequireFillFL//require22/bar222", "test22"),
    ]);
    let r = h
        .loc
        .provide_call_validate("//RequireFillFL//provide2", &v, 0)
        .unwrap();
    assert_eq!(values_of(&r, "provide2")[0].1, vec![None]);
    assert_eq!(
        values_of(&r, "provide2")[1].1,
        vec![Some(Value::from("test22"))]
    );
}

#[test]
fn fill_indexed_values_of_an_unlimited_require() {
    let h = location(&[REQUIRE_FILL]);
    let k = "//RequireFillFL//require3/bar3";
    let v = Values::new()
        .set_at(k, 0, "test1")
        .set_at(k, 1, "test2")
        .set_at(k, 2, "test3");
    let r = h
        .loc
        .provide_call_validate("//RequireFillFL//provide3", &v, 0)
        .unwrap();
    assert_eq!(
        values_of(&r, "provide3"),
        [(
            "/vm/RequireFillFL/StateA/provide3/require3/bar3".to_owned(),
            vec![
                Some(Value::from("test1")),
                Some(Value::from("test2")),
                Some(Value::from("test3"))
            ]
        )]
    );
}

// ---- require_serialization_tests.py --------------------------------------------------------

const SERIAL: &str = r#"
name = "Serial"
initial = "A"
[states.A.provides.p1.requires.require1]
extra = { title = "foo" }
variables.var1 = { type = "str" }
[states.A.provides.p2.requires.require1]
nargs = "3"
variables.var1 = { type = "str" }
[states.A.provides.p3.requires.require1]
nargs = "*"
variables.var1 = { type = "str" }
variables.var2 = { type = "str" }
[states.A.provides.p4.requires.require2]
type = "local"
xpath = "//Lifecycle//provide"
[states.A.provides.p5.requires.require2]
type = "local"
xpath = "//Lifecycle//provide"
provide_args.var1 = { type = "str" }
[states.A.provides.p6.requires.require3]
type = "external"
xpath = "//Lifecycle//provide"
"#;

fn require_of(provide: &str) -> armonic_lifecycle::info::RequireInfo {
    let h = location(&[SERIAL]);
    h.loc.provide(&format!("//Serial//{provide}")).unwrap()[0].requires[0].clone()
}

#[test]
fn serialize_a_simple_require() {
    let r = require_of("p1");
    assert_eq!(
        (
            r.kind.as_str(),
            r.nargs.to_string().as_str(),
            r.nargs_min,
            r.nargs_max
        ),
        ("simple", "1", 1, 1)
    );
    assert_eq!(r.variables.len(), 1);
    assert_eq!(r.variables_skel[0].name, "var1");
    assert_eq!(r.variables_skel[0].ty, "str");
    assert_eq!(r.extra.get("title"), Some(&Value::from("foo")));
}

#[test]
fn serialize_a_require_with_fixed_nargs() {
    let r = require_of("p2");
    assert_eq!(
        (
            r.nargs.to_string().as_str(),
            r.nargs_min,
            r.nargs_max,
            r.variables.len()
        ),
        ("3", 3, 3, 3)
    );
    assert!(r.extra.is_empty());
}

#[test]
fn serialize_a_require_with_unlimited_nargs() {
    let r = require_of("p3");
    assert_eq!(
        (r.nargs.to_string().as_str(), r.nargs_min, r.nargs_max),
        // The original said 99,999; at most 1,000 sets are taken (docs/differences.md).
        ("*", 0, 1000)
    );
    assert!(r.variables.is_empty());
    assert_eq!(r.variables_skel.len(), 2);
}

#[test]
fn serialize_a_local_require() {
    let r = require_of("p4");
    assert_eq!(r.kind.as_str(), "local");
    assert_eq!(r.provide_xpath.as_deref(), Some("//Lifecycle//provide"));
    assert!(
        r.provide_args.is_empty()
            && r.provide_ret.is_empty()
            && r.variables.is_empty()
            && r.variables_skel.is_empty()
    );
}

#[test]
fn serialize_a_local_require_with_arguments() {
    let r = require_of("p5");
    assert_eq!(r.provide_args.len(), 1);
    assert_eq!(r.variables.len(), 1);
    assert_eq!(r.variables_skel[0].name, "var1");
}

#[test]
fn serialize_an_external_require_with_its_implicit_host() {
    let r = require_of("p6");
    assert_eq!(r.kind.as_str(), "external");
    let host = &r.provide_args[0];
    assert_eq!(
        (host.name.as_str(), host.ty.as_str(), host.required),
        ("host", "armonic_host", true)
    );
    assert_eq!(host.extra.get("label"), Some(&Value::from("Host")));
    assert_eq!(host.extra.get("expert"), Some(&Value::Bool(true)));
    assert_eq!(r.variables[0][0].name, "host");
    assert!(r.provide_ret.is_empty());
}

// ---- state_paths_tests.py ------------------------------------------------------------------

fn states_lf(transitions: &str) -> String {
    let mut s = format!("name = \"T\"\ninitial = \"a\"\ntransitions = {transitions}\n");
    for n in ["a", "b", "c", "d", "e", "f", "g"] {
        if transitions.contains(&format!("\"{n}\"")) || n == "a" {
            s.push_str(&format!("[states.{n}]\n"));
        }
    }
    s
}

fn paths(h: &Harness, from: &str, to: &str) -> Vec<Vec<String>> {
    h.loc
        .paths_between("T", from, to)
        .unwrap()
        .into_iter()
        .map(|p| {
            p.into_iter()
                .map(|m| {
                    if m.action == Move::Enter {
                        m.state.to_string()
                    } else {
                        format!("-{}", m.state)
                    }
                })
                .collect()
        })
        .collect()
}

fn goto(h: &mut Harness, state: &str, path_idx: usize) {
    let o = armonic_lifecycle::CallOptions { path_idx, ..opts() };
    h.loc
        .state_goto(&format!("//T/{state}"), &Values::new(), &o)
        .unwrap();
}

#[test]
fn paths_along_a_chain_and_back() {
    let mut h = location(&[&states_lf(r#"[["a","b"],["b","c"],["c","d"]]"#)]);
    assert_eq!(paths(&h, "a", "d"), [["b", "c", "d"]]);
    assert_eq!(paths(&h, "b", "c"), [["c"]]);
    goto(&mut h, "d", 0);
    assert_eq!(paths(&h, "d", "a"), [["-d", "-c", "-b"]]);
    goto(&mut h, "c", 0);
    assert_eq!(paths(&h, "c", "a"), [["-c", "-b"]]);
    assert!(paths(&h, "a", "a").is_empty());
}

#[test]
fn paths_come_in_transition_order_and_path_idx_selects_one() {
    let mut h = location(&[&states_lf(
        r#"[["a","b"],["a","c"],["b","e"],["c","d"],["d","e"],["e","f"]]"#,
    )]);
    assert_eq!(
        paths(&h, "a", "f"),
        [vec!["b", "e", "f"], vec!["c", "d", "e", "f"]]
    );
    assert_eq!(paths(&h, "a", "d"), [["c", "d"]]);
    goto(&mut h, "f", 1);
    assert_eq!(paths(&h, "f", "a"), [["-f", "-e", "-d", "-c"]]);
    goto(&mut h, "a", 0);
    goto(&mut h, "f", 0);
    assert_eq!(paths(&h, "f", "a"), [["-f", "-e", "-b"]]);
}

#[test]
fn paths_with_several_ends() {
    let mut h = location(&[&states_lf(
        r#"[["a","b"],["c","d"],["b","d"],["d","e"],["e","f"],["e","g"]]"#,
    )]);
    assert_eq!(paths(&h, "a", "f"), [["b", "d", "e", "f"]]);
    assert_eq!(paths(&h, "c", "g"), [["d", "e", "g"]]);
    goto(&mut h, "g", 0);
    assert_eq!(paths(&h, "g", "a"), [["-g", "-e", "-d", "-b"]]);
    assert!(paths(&h, "g", "c").is_empty());
}

#[test]
fn paths_through_meta_states_follow_the_locations_os() {
    let lf = r#"
name = "T"
initial = "a"
transitions = [["a", "h"], ["h", "g"]]
[states.a]
[states.g]
[states.h]
implementations = ["i", "j"]
[states.i]
os = ["debian"]
[states.j]
os = ["Mandriva Business Server"]
"#;
    let h = with_config(&[lf], config("Mandriva Business Server", None));
    assert_eq!(paths(&h, "a", "g")[0], ["h.j", "h", "g"]);
    let h = with_config(&[lf], config("debian", None));
    assert_eq!(paths(&h, "a", "g")[0], ["h.i", "h", "g"]);
}

// ---- variable_serialization_tests.py -------------------------------------------------------

const VARS: &str = r#"
name = "Vars"
initial = "A"
[states.A.provides.p.requires.r.variables]
var1 = { type = "str" }
var2 = { type = "str", default = "test", required = false, extra = { foo = "bar" } }
var3 = { type = "str", label = "foo", help = "bar" }
var4 = { type = "str", label = "bar", extra = { help = "bar", foo = "bar" } }
"#;

fn var(name: &str) -> armonic_lifecycle::info::VariableInfo {
    let h = location(&[VARS]);
    h.loc.provide("//Vars//p").unwrap()[0].requires[0]
        .variable(name, 0)
        .unwrap()
        .clone()
}

#[test]
fn serialize_a_variable() {
    let v = var("var1");
    assert_eq!(
        (v.name.as_str(), v.ty.as_str(), v.required),
        ("var1", "str", true)
    );
    assert_eq!(
        (
            v.default.clone(),
            v.value.clone(),
            v.error.clone(),
            v.from_xpath.clone()
        ),
        (None, None, None, None)
    );
    assert!(v.extra.is_empty());
    assert_eq!(v.xpath, "/vm/Vars/A/p/r/var1");
}

#[test]
fn serialize_a_variable_with_default_and_extra() {
    let v = var("var2");
    assert_eq!(v.default, Some(Value::from("test")));
    assert_eq!(v.value, Some(Value::from("test")));
    assert!(!v.required);
    assert_eq!(v.extra.get("foo"), Some(&Value::from("bar")));
}

#[test]
fn serialize_a_variable_error_after_validation() {
    let h = location(&[VARS]);
    let v = h
        .loc
        .provide_call_validate(
            "//Vars//p",
            &Values::new().set("//var3", "x").set("//var4", "y"),
            0,
        )
        .unwrap();
    assert_eq!(
        v.provide("p")
            .unwrap()
            .require("r")
            .unwrap()
            .variable("var1", 0)
            .unwrap()
            .error
            .as_deref(),
        Some("var1 is required")
    );
}

#[test]
fn serialize_label_help_and_extra_information() {
    let v = var("var3");
    assert_eq!(v.extra.get("label"), Some(&Value::from("foo")));
    assert_eq!(v.extra.get("help"), Some(&Value::from("bar")));
    let v = var("var4");
    let keys: Vec<&str> = v.extra.keys().map(String::as_str).collect();
    assert_eq!(keys, ["label", "help", "foo"]);
}
